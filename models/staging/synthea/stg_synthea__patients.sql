with

source as (

    select * from {{ source('synthea', 'synthea__patients') }}

),

renamed as not materialized (

    select
        patient_id as synthea_patient_token,
        ssn as ssn_token,
        drivers_license as drivers_license_token,
        passport as passport_token,
        marital_status,
        race,
        ethnicity,
        {{ normalise_gender('gender') }} as administrative_gender,
        gender as source_sex_code,
        state,
        zip as zip3,
        healthcare_expenses::numeric(14, 2) as healthcare_expenses,
        healthcare_coverage::numeric(14, 2) as healthcare_coverage,
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
            ['_client_id', 'synthea_patient_token'],
            ['_file_date', '_file_seq', '_source_line'],
        )
    }}

)

select * from deduplicated
