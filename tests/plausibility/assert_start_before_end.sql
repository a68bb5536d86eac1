{{ config(severity='warn', tags=['plausibility']) }}

-- OHDSI DQD plausibleStartBeforeEnd: nothing ends before it starts.
with

periods as (

    select
        'encounter' as entity,
        encounter_key as record_key,
        started_at::date as start_date,
        ended_at::date as end_date,
        _record_id
    from {{ ref('encounter') }}
    union all
    select
        'medication_exposure' as entity,
        medication_exposure_key as record_key,
        start_date,
        end_date,
        _record_id
    from {{ ref('medication_exposure') }}
    union all
    select
        'condition' as entity,
        condition_key as record_key,
        onset_date as start_date,
        resolved_date as end_date,
        _record_id
    from {{ ref('condition') }}
    union all
    select
        'member' as entity,
        member_key as record_key,
        plan_start_date as start_date,
        membership_end_date as end_date,
        _record_id
    from {{ ref('member') }}

)

select *
from periods
where end_date < start_date
