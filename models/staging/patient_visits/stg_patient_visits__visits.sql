with

source as (

    select * from {{ source('patient_visits', 'patient_visits__visits') }}

),

renamed as not materialized (

    select
        visit_id,
        patient_id as patient_mrn_token,
        visit_date,
        lower(visit_type) as visit_type,
        visit_cost::numeric(12, 2) as visit_cost,
        last_updated,
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

    {# an updated visit is re-sent with a later last_updated: that version wins #}
    {{
        latest_per_key(
            'renamed',
            ['_client_id', 'visit_id'],
            ['last_updated', '_file_date', '_file_seq', '_source_line'],
        )
    }}

)

select * from deduplicated
