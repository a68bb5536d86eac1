with

source as (

    select * from {{ source('clinic_emr', 'clinic_emr__observations') }}

),

renamed as not materialized (

    select
        observation_id,
        patient_id as patient_mrn_token,
        encounter_id,
        observed_at,
        upper(code_system) as source_code_system,
        upper(trim(code)) as source_code,
        -- The raw column is numeric(p, s): trim_scale reads 150.000000 back as the 150 the clinic sent,
        -- so a converted value carries the reading's own precision, not the column's scale.
        trim_scale(value::numeric) as source_value,
        unit as source_unit,
        {{ to_canonical_value('trim_scale(value::numeric)', 'unit') }} as value_numeric,
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

    {{ latest_per_key('renamed', ['_client_id', 'observation_id'], ['_file_date', '_file_seq', '_source_line']) }}

)

select * from deduplicated
