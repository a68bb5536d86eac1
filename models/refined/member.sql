{{
    config(
        materialized='incremental',
        unique_key='member_key',
        incremental_strategy='merge',
        on_schema_change='append_new_columns',
        indexes=[
            {'columns': ['member_key'], 'unique': True},
            {'columns': ['patient_key']},
        ],
    )
}}

-- Health-plan members, current state (SCD1: the latest roster file wins). Their history is the
-- member_history snapshot. Incremental: a run merges the members whose roster rows arrived since the
-- last build and those whose linkage changed (macros/incremental.sql).
with

members as (

    select * from {{ ref('stg_member_roster__members') }}
    {% if is_incremental() %}
        where {{ arrived_or_relinked('member_roster', 'member_token') }}
    {% endif %}

),

calculated as (

    -- written with the member row, in the same file: the same filter finds it
    select * from {{ ref('stg_member_roster__members_calculated') }}
    {% if is_incremental() %}
        where {{ arrived_or_relinked('member_roster', 'member_token') }}
    {% endif %}

),

crosswalk as (

    select * from {{ ref('patient_crosswalk') }}
    where feed = 'member_roster'

),

final as (

    select
        md5('member_roster:' || members._client_id || ':' || members.member_token) as member_key,
        crosswalk.patient_key,
        members._client_id as client_id,
        members.plan,
        members.plan_start_date,
        members.membership_end_date,
        members.membership_end_date is null or members.membership_end_date >= current_date as is_active,
        members.zip3,
        calculated.age_years_at_ingestion as age_years,
        calculated.birth_year,
        crosswalk.match_rule,
        members._record_id,
        members._ingested_at
    from members
    inner join crosswalk
        on
            members._client_id = crosswalk.client_id
            and members.member_token = crosswalk.source_key
    left join calculated
        on
            -- the key lets the planner probe the raw table's index; the record id, the same version
            members._client_id = calculated._client_id
            and members.member_token = calculated.member_token
            and members._record_id = calculated._record_id

)

select * from final
