-- People per age bracket and WHO BMI category, from each person's latest BMI. Counts below
-- var('min_cell_size') are suppressed (null, flagged).
with

patients as (

    select * from {{ ref('dim_patient') }}
    where bmi_category is not null and age_bracket is not null

),

brackets as (

    select * from {{ ref('dim_age_bracket') }}

),

counted as (

    select
        age_bracket,
        bmi_category,
        count(*) as patient_count,
        avg(bmi) as mean_bmi
    from patients
    group by age_bracket, bmi_category

),

final as (

    select
        counted.age_bracket,
        brackets.sort_order as age_bracket_order,
        counted.bmi_category,
        {{ suppress_small_count('counted.patient_count') }} as patient_count,
        case
            when not {{ is_suppressed('counted.patient_count') }} then round(counted.mean_bmi, 1)
        end as mean_bmi,
        {{ is_suppressed('counted.patient_count') }} as is_suppressed
    from counted
    inner join brackets
        on counted.age_bracket = brackets.age_bracket

)

select * from final
