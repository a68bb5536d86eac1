with

source as (

    select * from {{ source('synthea', 'synthea__observations') }}

),

renamed as not materialized (

    select
        observed_at,
        patient_id as synthea_patient_token,
        encounter_id as encounter_token,
        category,
        case when trim(code) ~ '^[0-9]+-[0-9]$' then 'LOINC' else 'SYNTHEA' end as source_code_system,
        trim(code) as source_code,
        description,
        value as value_text,
        units as source_unit,
        value_type,
        -- VALUE mixes numbers and text (smoking status, ...): only numbers get a numeric value
        case
            when value ~ '^-?[0-9]+(\.[0-9]+)?$'
                then {{ to_canonical_value('value::numeric', 'units') }}
        end as value_numeric,
        {{ to_canonical_unit('units') }} as unit,
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
            ['_client_id', 'observed_at', 'synthea_patient_token', 'source_code', 'value_text'],
            ['_file_date', '_file_seq', '_source_line'],
        )
    }}

)

select * from deduplicated
