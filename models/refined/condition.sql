{{
    config(
        materialized='incremental',
        unique_key='condition_key',
        incremental_strategy='merge',
        on_schema_change='append_new_columns',
        indexes=[
            {'columns': ['condition_key'], 'unique': True},
            {'columns': ['patient_key']},
        ],
    )
}}

-- Diagnoses from every clinical feed in ICD-10-CM. Synthea's SNOMED codes map through
-- seeds/concept_map.csv; unmapped ones keep icd10_code null and appear in unmapped_codes.
-- Incremental: a run merges the rows that arrived since the last build and the rows of people
-- whose linkage changed (macros/incremental.sql); a change of the seeds it maps codes with needs a
-- `--full-refresh`.
with

clinic_conditions as (

    select * from {{ ref('stg_clinic_emr__conditions') }}
    {% if is_incremental() %}
        where {{ arrived_or_relinked('clinic_emr', 'patient_mrn_token') }}
    {% endif %}

),

synthea_conditions as (

    select * from {{ ref('stg_synthea__conditions') }}
    {% if is_incremental() %}
        where {{ arrived_or_relinked('synthea', 'synthea_patient_token') }}
    {% endif %}

),

crosswalk as (

    select * from {{ ref('patient_crosswalk') }}

),

concept_map as (

    select * from {{ ref('concept_map') }}
    where target_system = 'ICD10CM'

),

clinic as (

    select
        md5('clinic_emr:' || conditions._client_id || ':' || conditions.condition_id) as condition_key,
        crosswalk.patient_key,
        md5('clinic_emr:' || conditions._client_id || ':' || conditions.encounter_id) as encounter_key,
        'clinic_emr' as feed,
        conditions._client_id as client_id,
        'ICD10CM' as source_code_system,
        conditions.icd10_code as source_code,
        null::text as source_description,
        conditions.onset_date,
        null::date as resolved_date,
        conditions._record_id,
        conditions._ingested_at
    from clinic_conditions as conditions
    inner join crosswalk
        on
            crosswalk.feed = 'clinic_emr'
            and conditions._client_id = crosswalk.client_id
            and conditions.patient_mrn_token = crosswalk.source_key

),

synthea as (

    select
        md5(
            'synthea:' || conditions._client_id || ':' || conditions.start_date::text || ':'
            || conditions.synthea_patient_token || ':' || conditions.encounter_token || ':'
            || conditions.snomed_code
        ) as condition_key,
        crosswalk.patient_key,
        md5('synthea:' || conditions._client_id || ':' || conditions.encounter_token) as encounter_key,
        'synthea' as feed,
        conditions._client_id as client_id,
        'SNOMED' as source_code_system,
        conditions.snomed_code as source_code,
        conditions.description as source_description,
        conditions.start_date as onset_date,
        conditions.stop_date as resolved_date,
        conditions._record_id,
        conditions._ingested_at
    from synthea_conditions as conditions
    inner join crosswalk
        on
            crosswalk.feed = 'synthea'
            and conditions._client_id = crosswalk.client_id
            and conditions.synthea_patient_token = crosswalk.source_key

),

unioned as (

    select * from clinic
    union all
    select * from synthea

),

final as (

    select
        unioned.condition_key,
        unioned.patient_key,
        unioned.encounter_key,
        unioned.feed,
        unioned.client_id,
        unioned.source_code_system,
        unioned.source_code,
        unioned.source_description,
        case
            when unioned.source_code_system = 'ICD10CM' then unioned.source_code
            else concept_map.target_code
        end as icd10_code,
        concept_map.equivalence as map_equivalence,
        unioned.onset_date,
        unioned.resolved_date,
        unioned._record_id,
        unioned._ingested_at
    from unioned
    left join concept_map
        on
            unioned.source_code_system = concept_map.source_system
            and unioned.source_code = concept_map.source_code

)

select * from final
