{{
    config(
        materialized='incremental',
        unique_key='visit_date',
        incremental_strategy='delete+insert',
        on_schema_change='append_new_columns',
    )
}}

-- Visits, distinct patients and cost per day and visit type. Incremental on the visits'
-- last_updated: a run recomputes every day touched by a visit updated after the newest
-- last_updated already reflected here, minus var('lookback_hours'). A late update whose
-- last_updated is older than that window is not picked up until `dbt build --full-refresh`
-- (documented in the model's description).
with

visits as (

    select * from {{ ref('fact_visits') }}

),

{% if is_incremental() %}
    touched_days as (

        select distinct visits.visit_date
        from visits
        where visits.last_updated > {{ lookback_floor('max_last_updated') }}

    ),

    in_scope as (

        select visits.*
        from visits
        inner join touched_days
            on visits.visit_date = touched_days.visit_date

    ),
{% else %}
    in_scope as (

        select * from visits

    ),
{% endif %}

final as (

    select
        visit_date,
        visit_type,
        count(*) as visit_count,
        count(distinct patient_key) as distinct_patients,
        sum(visit_cost) as total_cost,
        round(avg(visit_cost), 2) as mean_cost,
        max(last_updated) as max_last_updated
    from in_scope
    group by visit_date, visit_type

)

select * from final
