{{ config(severity='warn', tags=['plausibility']) }}

-- OHDSI DQD plausibleAfterBirth: no encounter, observation, diagnosis or prescription in a year
-- before the person's year of birth (the warehouse keeps the year, not the date, of birth).
with

patients as (

    select
        patient_key,
        birth_year
    from {{ ref('patient') }}
    where birth_year is not null

),

events as (

    select
        'encounter' as entity,
        encounter_key as event_key,
        patient_key,
        encounter_date as event_date,
        _record_id
    from {{ ref('encounter') }}
    union all
    select
        'observation' as entity,
        observation_key as event_key,
        patient_key,
        observed_at::date as event_date,
        _record_id
    from {{ ref('observation') }}
    union all
    select
        'condition' as entity,
        condition_key as event_key,
        patient_key,
        onset_date as event_date,
        _record_id
    from {{ ref('condition') }}
    union all
    select
        'medication_exposure' as entity,
        medication_exposure_key as event_key,
        patient_key,
        start_date as event_date,
        _record_id
    from {{ ref('medication_exposure') }}

)

select
    events.entity,
    events.event_key,
    events.patient_key,
    events.event_date,
    patients.birth_year,
    events._record_id
from events
inner join patients
    on events.patient_key = patients.patient_key
where extract(year from events.event_date) < patients.birth_year
