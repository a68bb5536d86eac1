-- Health-plan members, current state (SCD1: the latest roster file wins). Their history is the
-- member_history snapshot.
with

members as (

    select * from {{ ref('stg_member_roster__members') }}

),

calculated as (

    select * from {{ ref('stg_member_roster__members_calculated') }}

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
        on members._record_id = calculated._record_id

)

select * from final
