-- FDA NDC Directory products, one row per product NDC (the code clinic prescriptions carry), with
-- the number of packages listed for it.
with

products as (

    select * from {{ ref('stg_fda_ndc__product') }}

),

packages as (

    select
        product_id,
        count(*) as package_count
    from {{ ref('stg_fda_ndc__package') }}
    group by product_id

),

latest_listing as (

    -- the directory can list one product NDC under several SPL documents: keep the newest listing
    select distinct on (product_ndc) *
    from products
    order by
        product_ndc asc,
        listing_record_certified_through desc nulls last,
        start_marketing_date desc,
        product_id asc

),

final as (

    select
        latest_listing.product_ndc,
        latest_listing.product_id,
        latest_listing.product_type_name,
        latest_listing.proprietary_name,
        latest_listing.nonproprietary_name,
        latest_listing.dosage_form_name,
        latest_listing.route_name,
        latest_listing.labeler_name,
        latest_listing.substance_name,
        latest_listing.active_numerator_strength,
        latest_listing.active_ingred_unit,
        latest_listing.pharm_classes,
        latest_listing.dea_schedule,
        latest_listing.marketing_category_name,
        latest_listing.start_marketing_date,
        latest_listing.end_marketing_date,
        latest_listing.is_excluded,
        coalesce(packages.package_count, 0) as package_count,
        latest_listing._client_id as listing_source,
        latest_listing._record_id,
        latest_listing._ingested_at
    from latest_listing
    left join packages
        on latest_listing.product_id = packages.product_id

)

select * from final
