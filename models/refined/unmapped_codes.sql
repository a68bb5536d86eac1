-- Source codes the terminology seeds do not map, with how often they occur: the work list for
-- whoever maintains seeds/concept_map.csv. Nothing unmapped is dropped from the refined models.
with

observations as (

    select
        'observation' as entity,
        feed,
        source_code_system,
        source_code,
        'LOINC' as target_system,
        client_id,
        observed_at::date as seen_on
    from {{ ref('observation') }}
    where not is_mapped

),

conditions as (

    select
        'condition' as entity,
        feed,
        source_code_system,
        source_code,
        'ICD10CM' as target_system,
        client_id,
        onset_date as seen_on
    from {{ ref('condition') }}
    where icd10_code is null

),

medications as (

    -- an NDC the FDA directory does not list cannot be described or classified
    select
        'medication_exposure' as entity,
        medications.feed,
        medications.drug_code_system as source_code_system,
        medications.drug_code as source_code,
        'FDA NDC Directory' as target_system,
        medications.client_id,
        medications.start_date as seen_on
    from {{ ref('medication_exposure') }} as medications
    left join {{ ref('drug_product') }} as products
        on medications.drug_code = products.product_ndc
    where medications.drug_code_system = 'NDC' and products.product_ndc is null

),

unioned as (

    select * from observations
    union all
    select * from conditions
    union all
    select * from medications

),

final as (

    select
        entity,
        feed,
        source_code_system,
        source_code,
        target_system,
        count(*) as record_count,
        count(distinct client_id) as client_count,
        min(seen_on) as first_seen_on,
        max(seen_on) as last_seen_on
    from unioned
    group by entity, feed, source_code_system, source_code, target_system

)

select * from final
