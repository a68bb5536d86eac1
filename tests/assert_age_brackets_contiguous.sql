-- Each bracket must start the year after the previous one ends, and only the last may be open.
with

ordered as (

    select
        age_bracket,
        min_age,
        max_age,
        lag(max_age) over (order by sort_order) as previous_max_age,
        row_number() over (order by sort_order desc) as position_from_end
    from {{ ref('age_brackets') }}

)

select *
from ordered
where
    (previous_max_age is not null and min_age != previous_max_age + 1)
    or (max_age is null and position_from_end != 1)
    or (max_age is not null and max_age < min_age)
