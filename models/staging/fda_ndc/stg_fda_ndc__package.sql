with

source as (

    select * from {{ source('fda_ndc', 'fda_ndc__package') }}

),

renamed as (

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

    select distinct on (_client_id, ndc_package_code) *
    from renamed
    order by _client_id asc, ndc_package_code asc, _file_date desc, _file_seq desc, _source_line desc

)

select * from deduplicated
