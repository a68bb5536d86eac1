with

source as (

    select * from {{ source('synthea', 'synthea__encounters') }}

),

renamed as not materialized (

    select
        encounter_id as encounter_token,
        patient_id as synthea_patient_token,
        started_at,
        stopped_at,
        organization_id,
        provider_id,
        payer_id,
        lower(encounter_class) as encounter_class,
        code as snomed_code,
        description,
        base_encounter_cost::numeric(12, 2) as base_encounter_cost,
        total_claim_cost::numeric(12, 2) as total_claim_cost,
        payer_coverage::numeric(12, 2) as payer_coverage,
        reason_code as reason_snomed_code,
        reason_description,
        _record_id,
        _source_file,
        _source_line,
        _file_sha256,
        _client_id,
        _file_date,
        _file_seq,
        _run_id,
        _ingested_at,
        _pseudonym_key_id
    from source

),

deduplicated as (

    {{ latest_per_key('renamed', ['_client_id', 'encounter_token'], ['_file_date', '_file_seq', '_source_line']) }}

)

select * from deduplicated
