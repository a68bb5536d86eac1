with

source as (

    select * from {{ source('clinic_emr', 'clinic_emr__patients_calculated') }}

),

renamed as not materialized (

    select
        patient_id as patient_mrn_token,
        age_years_at_event::integer as age_years_at_event,
        age_years_at_ingestion::integer as age_years_at_ingestion,
        birth_year::integer as birth_year,
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

    {{ latest_per_key('renamed', ['_client_id', 'patient_mrn_token'], ['_file_date', '_file_seq', '_source_line']) }}

)

select * from deduplicated
