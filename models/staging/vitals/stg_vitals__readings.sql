with

source as (

    select * from {{ source('vitals', 'vitals__readings') }}

),

renamed as not materialized (

    select
        patient_id as patient_mrn_token,
        recorded_at,
        heart_rate::integer as heart_rate,
        spo2::integer as spo2,
        respiratory_rate::integer as respiratory_rate,
        device_id,
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
            ['_client_id', 'patient_mrn_token', 'recorded_at'],
            ['_file_date', '_file_seq', '_source_line'],
        )
    }}

)

select * from deduplicated
