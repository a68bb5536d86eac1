with

source as (

    select * from {{ source('clinic_emr', 'clinic_emr__observations') }}

),

renamed as (

    select
        observation_id,
        patient_id as patient_mrn_token,
        encounter_id,
        observed_at,
        upper(code_system) as source_code_system,
        upper(trim(code)) as source_code,
        value::numeric as source_value,
        unit as source_unit,
        {{ to_canonical_value('value::numeric', 'unit') }} as value_numeric,
        {{ to_canonical_unit('unit') }} as unit,
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

    select distinct on (_client_id, observation_id) *
    from renamed
    order by _client_id asc, observation_id asc, _file_date desc, _file_seq desc, _source_line desc

)

select * from deduplicated
