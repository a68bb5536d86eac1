{% snapshot body_measurement_history %}

{{
    config(
        unique_key='patient_key',
        strategy='check',
        check_cols=['height_cm', 'weight_kg'],
    )
}}

select
    patient_key,
    height_cm,
    height_measured_at,
    weight_kg,
    weight_measured_at
from {{ ref('patient') }}
where height_cm is not null or weight_kg is not null

{% endsnapshot %}
