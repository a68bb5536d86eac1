with

source as (

    select * from {{ source('synthea', 'synthea__conditions') }}

),

renamed as not materialized (

    select
        start_date,
        stop_date,
        patient_id as synthea_patient_token,
        encounter_id as encounter_token,
        trim(code) as snomed_code,
        description,
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
            ['_client_id', 'start_date', 'synthea_patient_token', 'encounter_token', 'snomed_code'],
            ['_file_date', '_file_seq', '_source_line'],
        )
    }}

)

select * from deduplicated
