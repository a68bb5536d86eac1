{{
    config(
        materialized='incremental',
        unique_key='patient_key',
        incremental_strategy='merge',
        on_schema_change='append_new_columns',
        post_hook=[
            vanished_people_cleanup(),
        ],
    )
}}

-- Each person's BMI from their latest conflict-resolved height and weight. Incremental: a run
-- looks only at the people touched since its last build (a height or weight or a person record
-- arrived, however old its measurement date, or their linkage changed; touched_patient_keys in
-- macros/incremental.sql), and of those merges only the ones whose height or weight actually
-- changed, so the rows a run processes are the changed people. A person who no longer exists
-- (their records were linked to someone else) loses their row.
{%- set touched = touched_patient_keys() %}
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
        greatest(height_measured_at, weight_measured_at) as measured_at,
        _ingested_at
    from patients
    {% if is_incremental() %}
        where patient_key = any({{ text_array(touched) }})
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
        current_timestamp as computed_at,
        _ingested_at
    from with_bmi

)

select * from final
