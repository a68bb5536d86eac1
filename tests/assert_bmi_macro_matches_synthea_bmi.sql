-- Synthea records BMI (LOINC 39156-5) computed from the height (8302-2) and weight (29463-7) it
-- measured at the same time. Our `bmi` macro must reproduce it within 0.1 kg/m2: one row per
-- measurement where it does not (or where it refuses a pair Synthea accepted).
with

observations as (

    select * from {{ ref('stg_synthea__observations') }}
    where source_code in ('8302-2', '29463-7', '39156-5') and value_numeric is not null

),

paired as (

    select
        _client_id,
        synthea_patient_token,
        observed_at,
        max(value_numeric) filter (where source_code = '8302-2') as height_cm,
        max(value_numeric) filter (where source_code = '29463-7') as weight_kg,
        max(value_numeric) filter (where source_code = '39156-5') as synthea_bmi
    from observations
    group by _client_id, synthea_patient_token, observed_at

),

compared as (

    select
        *,
        {{ bmi('weight_kg', 'height_cm') }} as computed_bmi
    from paired
    where height_cm is not null and weight_kg is not null and synthea_bmi is not null

)

select * from compared
where computed_bmi is null or abs(computed_bmi - synthea_bmi) > 0.1
