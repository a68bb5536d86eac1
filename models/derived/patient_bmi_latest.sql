{{
    config(
        materialized='incremental',
        unique_key='patient_key',
        incremental_strategy='merge',
        on_schema_change='append_new_columns',
    )
}}

-- Each person's BMI from their latest conflict-resolved height and weight. Incremental: a run
-- looks only at people measured since the newest measurement already here (minus
-- var('lookback_hours')), and of those merges only the ones whose height or weight actually
-- changed, so the rows a run processes are the changed people.
with

patients as (

    select * from {{ ref('patient') }}
    where height_cm is not null or weight_kg is not null

),

candidates as (

    select
        patient_key,
        age_years,
        height_cm,
        weight_kg,
        greatest(height_measured_at, weight_measured_at) as measured_at
    from patients
    {% if is_incremental() %}
        where greatest(height_measured_at, weight_measured_at) > {{ lookback_floor('measured_at') }}
    {% endif %}

),

changed as (

    select candidates.*
    from candidates
    {% if is_incremental() %}
        left join {{ this }} as existing
            on candidates.patient_key = existing.patient_key
        where
            existing.patient_key is null
            or existing.height_cm is distinct from round(candidates.height_cm, 1)
            or existing.weight_kg is distinct from round(candidates.weight_kg, 1)
    {% endif %}

),

with_bmi as (

    select
        *,
        round({{ bmi('weight_kg', 'height_cm') }}, 1) as bmi
    from changed

),

final as (

    select
        patient_key,
        round(height_cm, 1) as height_cm,
        round(weight_kg, 1) as weight_kg,
        bmi,
        -- categorised as shown (one decimal), adults only (see dim_patient)
        case when age_years >= 18 then {{ bmi_category('bmi') }} end as bmi_category,
        measured_at,
        current_timestamp as computed_at
    from with_bmi

)

select * from final
