with

source as (

    select * from {{ source('synthea', 'synthea__medications') }}

),

renamed as not materialized (

    select
        started_at,
        stopped_at,
        patient_id as synthea_patient_token,
        payer_id,
        encounter_id as encounter_token,
        trim(code) as rxnorm_code,
        description,
        base_cost::numeric(12, 2) as base_cost,
        payer_coverage::numeric(12, 2) as payer_coverage,
        dispenses::integer as dispenses,
        total_cost::numeric(14, 2) as total_cost,
        reason_code as reason_snomed_code,
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

    {{
        latest_per_key(
            'renamed',
            [
                '_client_id', 'started_at', 'synthea_patient_token', 'encounter_token', 'rxnorm_code',
                'base_cost',
            ],
            ['_file_date', '_file_seq', '_source_line'],
        )
    }}

)

select * from deduplicated
