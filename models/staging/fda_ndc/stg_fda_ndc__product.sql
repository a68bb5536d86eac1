with

source as (

    select * from {{ source('fda_ndc', 'fda_ndc__product') }}

),

renamed as not materialized (

    select
        product_id,
        product_ndc,
        product_type_name,
        proprietary_name,
        proprietary_name_suffix,
        nonproprietary_name,
        dosage_form_name,
        route_name,
        start_marketing_date,
        end_marketing_date,
        marketing_category_name,
        application_number,
        labeler_name,
        substance_name,
        active_numerator_strength,
        active_ingred_unit,
        pharm_classes,
        dea_schedule,
        coalesce(ndc_exclude_flag, 'N') = 'E' as is_excluded,
        listing_record_certified_through,
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

    {{ latest_per_key('renamed', ['_client_id', 'product_id'], ['_file_date', '_file_seq', '_source_line']) }}

)

select * from deduplicated
