-- One row per person for analysts: conflict-resolved demographics, age bracket, latest BMI and
-- where the person appears. No identifier tokens, no ZIP prefix, no year of birth.
with

patients as (

    select * from {{ ref('patient') }}

),

with_bmi as (

    select
        *,
        round({{ bmi('weight_kg', 'height_cm') }}, 1) as bmi
    from patients

),

final as (

    select
        patient_key,
        administrative_gender,
        age_years,
        {{ age_bracket('age_years') }} as age_bracket,
        round(height_cm, 1) as height_cm,
        round(weight_kg, 1) as weight_kg,
        bmi,
        -- categorised as shown (one decimal); WHO categories are for adults only, children's BMI
        -- needs growth-chart percentiles
        case when age_years >= 18 then {{ bmi_category('bmi') }} end as bmi_category,
        has_clinic_record,
        has_member_record,
        has_synthea_record,
        feed_count
    from with_bmi

)

select * from final
