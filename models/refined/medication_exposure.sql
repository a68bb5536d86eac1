{{
    config(
        materialized='incremental',
        unique_key='medication_exposure_key',
        incremental_strategy='merge',
        on_schema_change='append_new_columns',
        indexes=[
            {'columns': ['medication_exposure_key'], 'unique': True},
            {'columns': ['patient_key']},
        ],
    )
}}

-- Prescriptions and dispensings from every clinical feed. The clinic codes drugs by FDA product
-- NDC (joins drug_product), Synthea by RxNorm; the code system says which.
-- Incremental: a run merges the rows that arrived since the last build and the rows of people
-- whose linkage changed (macros/incremental.sql).
with

clinic_medications as (

    select * from {{ ref('stg_clinic_emr__medications') }}
    {% if is_incremental() %}
        where {{ arrived_or_relinked('clinic_emr', 'patient_mrn_token') }}
    {% endif %}

),

synthea_medications as (

    select * from {{ ref('stg_synthea__medications') }}
    {% if is_incremental() %}
        where {{ arrived_or_relinked('synthea', 'synthea_patient_token') }}
    {% endif %}

),

crosswalk as (

    select * from {{ ref('patient_crosswalk') }}

),

clinic as (

    select
        md5('clinic_emr:' || medications._client_id || ':' || medications.medication_id) as medication_exposure_key,
        crosswalk.patient_key,
        md5('clinic_emr:' || medications._client_id || ':' || medications.encounter_id) as encounter_key,
        'clinic_emr' as feed,
        medications._client_id as client_id,
        'NDC' as drug_code_system,
        medications.product_ndc as drug_code,
        null::text as drug_description,
        medications.start_date,
        medications.end_date,
        medications.dose_text,
        null::numeric(14, 2) as total_cost,
        medications._record_id,
        medications._ingested_at
    from clinic_medications as medications
    inner join crosswalk
        on
            crosswalk.feed = 'clinic_emr'
            and medications._client_id = crosswalk.client_id
            and medications.patient_mrn_token = crosswalk.source_key

),

synthea as (

    select
        md5(
            'synthea:' || medications._client_id || ':' || medications.started_at::text || ':'
            || medications.synthea_patient_token || ':' || medications.encounter_token || ':'
            || medications.rxnorm_code || ':' || medications.base_cost::text
        ) as medication_exposure_key,
        crosswalk.patient_key,
        md5('synthea:' || medications._client_id || ':' || medications.encounter_token) as encounter_key,
        'synthea' as feed,
        medications._client_id as client_id,
        'RXNORM' as drug_code_system,
        medications.rxnorm_code as drug_code,
        medications.description as drug_description,
        medications.started_at::date as start_date,
        medications.stopped_at::date as end_date,
        null::text as dose_text,
        medications.total_cost,
        medications._record_id,
        medications._ingested_at
    from synthea_medications as medications
    inner join crosswalk
        on
            crosswalk.feed = 'synthea'
            and medications._client_id = crosswalk.client_id
            and medications.synthea_patient_token = crosswalk.source_key

),

final as (

    select * from clinic
    union all
    select * from synthea

)

select * from final
