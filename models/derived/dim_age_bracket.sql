with

source as (

    select * from {{ ref('age_brackets') }}

),

final as (

    select
        age_bracket,
        min_age,
        max_age,
        sort_order,
        max_age is null as is_open_ended
    from source

)

select * from final
