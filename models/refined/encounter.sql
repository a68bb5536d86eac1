{{
    config(
        materialized='incremental',
        unique_key='encounter_key',
        incremental_strategy='merge',
        on_schema_change='append_new_columns',
        indexes=[
            {'columns': ['encounter_key'], 'unique': True},
            {'columns': ['patient_key']},
        ],
    )
}}

-- Encounters from every clinical feed, keyed feed-agnostically. Encounters of people the linkage
-- does not know (no consent, unknown MRN) are left out here and counted in orphan_records.
-- Incremental: a run merges the rows that arrived since the last build and the rows of people
-- whose linkage changed (macros/incremental.sql).
with

clinic_encounters as (

    select * from {{ ref('stg_clinic_emr__encounters') }}
    {% if is_incremental() %}
        where {{ arrived_or_relinked('clinic_emr', 'patient_mrn_token') }}
    {% endif %}

),

synthea_encounters as (

    select * from {{ ref('stg_synthea__encounters') }}
    {% if is_incremental() %}
        where {{ arrived_or_relinked('synthea', 'synthea_patient_token') }}
    {% endif %}

),

crosswalk as (

    select * from {{ ref('patient_crosswalk') }}

),

clinic as (

    select
        md5('clinic_emr:' || encounters._client_id || ':' || encounters.encounter_id) as encounter_key,
        crosswalk.patient_key,
        'clinic_emr' as feed,
        encounters._client_id as client_id,
        encounters.encounter_id as source_encounter_id,
        encounters.encounter_date::timestamptz as started_at,
        null::timestamptz as ended_at,
        encounters.encounter_date,
        encounters.encounter_type as encounter_class,
        null::text as snomed_code,
        encounters.site_id,
        encounters.reason_text,
        null::numeric(12, 2) as total_cost,
        encounters._record_id,
        encounters._ingested_at
    from clinic_encounters as encounters
    inner join crosswalk
        on
            crosswalk.feed = 'clinic_emr'
            and encounters._client_id = crosswalk.client_id
            and encounters.patient_mrn_token = crosswalk.source_key

),

synthea as (

    select
        md5('synthea:' || encounters._client_id || ':' || encounters.encounter_token) as encounter_key,
        crosswalk.patient_key,
        'synthea' as feed,
        encounters._client_id as client_id,
        encounters.encounter_token as source_encounter_id,
        encounters.started_at,
        encounters.stopped_at as ended_at,
        encounters.started_at::date as encounter_date,
        encounters.encounter_class,
        encounters.snomed_code,
        encounters.organization_id as site_id,
        encounters.reason_description as reason_text,
        encounters.total_claim_cost as total_cost,
        encounters._record_id,
        encounters._ingested_at
    from synthea_encounters as encounters
    inner join crosswalk
        on
            crosswalk.feed = 'synthea'
            and encounters._client_id = crosswalk.client_id
            and encounters.synthea_patient_token = crosswalk.source_key

),

final as (

    select * from clinic
    union all
    select * from synthea

)

select * from final
