with

source as (

    select * from {{ source('clinic_emr', 'clinic_emr__conditions') }}

),

renamed as (

    select
        condition_id,
        patient_id as patient_mrn_token,
        encounter_id,
        upper(trim(icd10_code)) as icd10_code,
        onset_date,
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

    select distinct on (_client_id, condition_id) *
    from renamed
    order by _client_id asc, condition_id asc, _file_date desc, _file_seq desc, _source_line desc

)

select * from deduplicated
