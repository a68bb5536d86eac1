with

source as (

    select * from {{ source('clinic_emr', 'clinic_emr__patients') }}

),

renamed as not materialized (

    select
        patient_id as patient_mrn_token,
        ssn as ssn_token,
        {{ normalise_gender('sex') }} as administrative_gender,
        sex as source_sex_code,
        zip as zip3,
        consent = 'Y' as has_consent,
        updated_at,
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

    {# latest wins: the loader already merges on (client, key); this also covers backfilled files #}
    {{
        latest_per_key(
            'renamed',
            ['_client_id', 'patient_mrn_token'],
            ['updated_at', '_file_date', '_file_seq', '_source_line'],
        )
    }}

)

select * from deduplicated
