with

source as (

    select * from {{ source('fda_ndc', 'fda_ndc__package') }}

),

renamed as not materialized (

    select
        ndc_package_code,
        product_id,
        product_ndc,
        package_description,
        start_marketing_date,
        end_marketing_date,
        coalesce(ndc_exclude_flag, 'N') = 'E' as is_excluded,
        sample_package = 'Y' as is_sample,
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

    {{ latest_per_key('renamed', ['_client_id', 'ndc_package_code'], ['_file_date', '_file_seq', '_source_line']) }}

)

select * from deduplicated
