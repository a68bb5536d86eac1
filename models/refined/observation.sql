{{
    config(
        materialized='incremental',
        unique_key='observation_key',
        incremental_strategy='merge',
        on_schema_change='append_new_columns',
        indexes=[
            {'columns': ['observation_key'], 'unique': True},
            {'columns': ['patient_key']},
        ],
    )
}}

-- Measurements from every clinical feed in canonical units, with local codes mapped to LOINC
-- through seeds/concept_map.csv. Codes without a mapping keep code null and appear in unmapped_codes.
-- Incremental: a run merges the rows that arrived since the last build and the rows of people
-- whose linkage changed (macros/incremental.sql); a change of the seeds it maps codes with needs a
-- `--full-refresh`.
with

clinic_observations as (

    select * from {{ ref('stg_clinic_emr__observations') }}
    {% if is_incremental() %}
        where {{ arrived_or_relinked('clinic_emr', 'patient_mrn_token') }}
    {% endif %}

),

synthea_observations as (

    select * from {{ ref('stg_synthea__observations') }}
    {% if is_incremental() %}
        where {{ arrived_or_relinked('synthea', 'synthea_patient_token') }}
    {% endif %}

),

crosswalk as (

    select * from {{ ref('patient_crosswalk') }}

),

concept_map as (

    select * from {{ ref('concept_map') }}
    where target_system = 'LOINC'

),

concepts as (

    select * from {{ ref('observation_concepts') }}

),

clinic as (

    select
        md5('clinic_emr:' || observations._client_id || ':' || observations.observation_id) as observation_key,
        crosswalk.patient_key,
        md5('clinic_emr:' || observations._client_id || ':' || observations.encounter_id) as encounter_key,
        'clinic_emr' as feed,
        observations._client_id as client_id,
        observations.observed_at,
        observations.source_code_system,
        observations.source_code,
        observations.source_value::text as value_text,
        observations.value_numeric,
        observations.unit,
        observations._record_id,
        observations._ingested_at
    from clinic_observations as observations
    inner join crosswalk
        on
            crosswalk.feed = 'clinic_emr'
            and observations._client_id = crosswalk.client_id
            and observations.patient_mrn_token = crosswalk.source_key

),

synthea as (

    select
        md5(
            'synthea:' || observations._client_id || ':' || observations.observed_at::text || ':'
            || observations.synthea_patient_token || ':' || observations.source_code || ':'
            || observations.value_text
        ) as observation_key,
        crosswalk.patient_key,
        md5('synthea:' || observations._client_id || ':' || observations.encounter_token) as encounter_key,
        'synthea' as feed,
        observations._client_id as client_id,
        observations.observed_at,
        observations.source_code_system,
        observations.source_code,
        observations.value_text,
        observations.value_numeric,
        observations.unit,
        observations._record_id,
        observations._ingested_at
    from synthea_observations as observations
    inner join crosswalk
        on
            crosswalk.feed = 'synthea'
            and observations._client_id = crosswalk.client_id
            and observations.synthea_patient_token = crosswalk.source_key

),

unioned as (

    select * from clinic
    union all
    select * from synthea

),

mapped as (

    select
        unioned.*,
        case
            when unioned.source_code_system = 'LOINC' then unioned.source_code
            else concept_map.target_code
        end as loinc_code
    from unioned
    left join concept_map
        on
            unioned.source_code_system = concept_map.source_system
            and unioned.source_code = concept_map.source_code

),

final as (

    select
        mapped.observation_key,
        mapped.patient_key,
        mapped.encounter_key,
        mapped.feed,
        mapped.client_id,
        mapped.observed_at,
        mapped.source_code_system,
        mapped.source_code,
        mapped.loinc_code,
        concepts.display as loinc_display,
        mapped.loinc_code is not null as is_mapped,
        mapped.value_numeric,
        mapped.unit,
        mapped.value_text,
        mapped._record_id,
        mapped._ingested_at
    from mapped
    left join concepts
        on mapped.loinc_code = concepts.loinc_code

)

select * from final
