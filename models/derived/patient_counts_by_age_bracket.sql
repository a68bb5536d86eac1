-- People per age bracket and administrative gender. Small-cell suppression: a count below
-- var('min_cell_size') (10) is shown as null and flagged, because a cell of a few people can
-- re-identify them.
with

patients as (

    select * from {{ ref('dim_patient') }}

),

brackets as (

    select * from {{ ref('dim_age_bracket') }}

),

genders as (

    select distinct administrative_gender from patients

),

counted as (

    select
        age_bracket,
        administrative_gender,
        count(*) as patient_count
    from patients
    where age_bracket is not null
    group by age_bracket, administrative_gender

),

final as (

    -- every bracket and gender appears, so an empty cell is visibly 0, not missing
    select
        brackets.age_bracket,
        brackets.sort_order as age_bracket_order,
        genders.administrative_gender,
        {{ suppress_small_count('coalesce(counted.patient_count, 0)') }} as patient_count,
        {{ is_suppressed('coalesce(counted.patient_count, 0)') }} as is_suppressed
    from brackets
    cross join genders
    left join counted
        on
            brackets.age_bracket = counted.age_bracket
            and genders.administrative_gender = counted.administrative_gender

)

select * from final
