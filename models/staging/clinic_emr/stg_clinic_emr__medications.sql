with

source as (

    select * from {{ source('clinic_emr', 'clinic_emr__medications') }}

),

renamed as not materialized (

    select
        medication_id,
        patient_id as patient_mrn_token,
        encounter_id,
        trim(ndc_code) as product_ndc,
        start_date,
        end_date,
        dose_text,
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

    {{ latest_per_key('renamed', ['_client_id', 'medication_id'], ['_file_date', '_file_seq', '_source_line']) }}

)

select * from deduplicated
