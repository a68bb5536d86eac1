{% snapshot member_history %}

{{
    config(
        unique_key='member_key',
        strategy='check',
        check_cols=['plan', 'plan_start_date', 'membership_end_date', 'zip3'],
    )
}}

select
    member_key,
    patient_key,
    client_id,
    plan,
    plan_start_date,
    membership_end_date,
    zip3
from {{ ref('member') }}

{% endsnapshot %}
