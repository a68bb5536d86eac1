with

source as (

    select * from {{ source('synthea', 'synthea__conditions') }}

),

renamed as (

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

    select distinct on (_client_id, start_date, synthea_patient_token, encounter_token, snomed_code) *
    from renamed
    order by
        _client_id asc, start_date asc, synthea_patient_token asc, encounter_token asc, snomed_code asc,
        _file_date desc, _file_seq desc, _source_line desc

)

select * from deduplicated
