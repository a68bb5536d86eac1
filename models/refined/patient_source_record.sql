{{ config(materialized='view') }}

-- Every record that describes a person, from the feeds that have one: the input of record linkage.
-- A view: read once per build by the linkage (and by patient_match_ambiguities); no copy to rewrite.
with

clinic_patients as (

    select
        'clinic_emr' as feed,
        _client_id as client_id,
        patient_mrn_token as source_key,
        ssn_token,
        _record_id,
        _ingested_at
    from {{ ref('stg_clinic_emr__patients') }}

),

members as (

    select
        'member_roster' as feed,
        _client_id as client_id,
        member_token as source_key,
        ssn_token,
        _record_id,
        _ingested_at
    from {{ ref('stg_member_roster__members') }}

),

synthea_patients as (

    select
        'synthea' as feed,
        _client_id as client_id,
        synthea_patient_token as source_key,
        ssn_token,
        _record_id,
        _ingested_at
    from {{ ref('stg_synthea__patients') }}

),

final as (

    select * from clinic_patients
    union all
    select * from members
    union all
    select * from synthea_patients

)

select * from final
