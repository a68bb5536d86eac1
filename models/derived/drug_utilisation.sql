-- Prescriptions per FDA product and month, with the product's labeler and pharmacologic classes.
-- Only NDC-coded prescriptions join the FDA directory; ones whose NDC it does not list are in
-- refined.unmapped_codes. Patient counts below var('min_cell_size') are suppressed.
with

exposures as (

    select * from {{ ref('medication_exposure') }}
    where drug_code_system = 'NDC'

),

products as (

    select * from {{ ref('drug_product') }}

),

counted as (

    select
        date_trunc('month', exposures.start_date)::date as start_month,
        exposures.drug_code as product_ndc,
        count(*) as exposure_count,
        count(distinct exposures.patient_key) as patient_count
    from exposures
    group by date_trunc('month', exposures.start_date)::date, exposures.drug_code

),

final as (

    select
        counted.start_month,
        counted.product_ndc,
        products.proprietary_name,
        products.nonproprietary_name,
        products.labeler_name,
        products.pharm_classes,
        products.dosage_form_name,
        products.route_name,
        products.product_type_name,
        counted.exposure_count,
        {{ suppress_small_count('counted.patient_count') }} as patient_count,
        {{ is_suppressed('counted.patient_count') }} as is_patient_count_suppressed
    from counted
    inner join products
        on counted.product_ndc = products.product_ndc

)

select * from final
