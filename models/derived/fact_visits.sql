-- One row per visit (latest version), for visit counts, costs and mixes.
with

visits as (

    select * from {{ ref('visit') }}

),

final as (

    select
        visit_key,
        patient_key,
        client_id,
        visit_date,
        visit_type,
        visit_cost,
        last_updated
    from visits

)

select * from final
