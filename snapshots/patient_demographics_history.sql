{% snapshot patient_demographics_history %}

{{
    config(
        unique_key='patient_key',
        strategy='check',
        check_cols=['administrative_gender', 'birth_year', 'zip3'],
    )
}}

select
    patient_key,
    administrative_gender,
    birth_year,
    zip3
from {{ ref('patient') }}

{% endsnapshot %}
