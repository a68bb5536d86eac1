-- Record linkage: which person (patient_key) each source record belongs to, and by which rule.
--
-- Rules, in order:
--   ssn_exact             the SSN token is shared by records of different feeds (or is unique to
--                         this record) and no feed has two different records with it: one person.
--   ambiguous_ssn         some feed has two or more different records with this SSN token (a
--                         typo, a shared or recycled number): never merged; each record stays its
--                         own person and the case is listed in patient_match_ambiguities.
--   no_shared_identifier  the record has no SSN token: its own person.
--   mrn_exact             visits and device readings carry the clinic's MRN: they join the clinic
--                         patient with the same MRN token at the same client.
with

records as (

    select * from {{ ref('patient_source_record') }}

),

ssn_groups as (

    select
        ssn_token,
        max(records_in_feed) > 1 as is_ambiguous
    from (
        select
            ssn_token,
            feed,
            count(distinct client_id || ':' || source_key) as records_in_feed
        from records
        where ssn_token is not null
        group by ssn_token, feed
    ) as per_feed
    group by ssn_token

),

linked as (

    select
        records.feed,
        records.client_id,
        records.source_key,
        case
            when ssn_groups.ssn_token is null then 'no_shared_identifier'
            when ssn_groups.is_ambiguous then 'ambiguous_ssn'
            else 'ssn_exact'
        end as match_rule,
        case
            when ssn_groups.ssn_token is not null and not ssn_groups.is_ambiguous
                then md5('ssn:' || ssn_groups.ssn_token)
            else md5(records.feed || ':' || records.client_id || ':' || records.source_key)
        end as patient_key
    from records
    left join ssn_groups
        on records.ssn_token = ssn_groups.ssn_token

),

clinic as (

    select
        client_id,
        source_key,
        patient_key
    from linked
    where feed = 'clinic_emr'

),

mrn_feeds as (

    select distinct
        'patient_visits' as feed,
        _client_id as client_id,
        patient_mrn_token as source_key
    from {{ ref('stg_patient_visits__visits') }}
    union
    select distinct
        'vitals' as feed,
        _client_id as client_id,
        patient_mrn_token as source_key
    from {{ ref('stg_vitals__readings') }}

),

mrn_linked as (

    select
        mrn_feeds.feed,
        mrn_feeds.client_id,
        mrn_feeds.source_key,
        'mrn_exact' as match_rule,
        clinic.patient_key
    from mrn_feeds
    inner join clinic
        on
            mrn_feeds.client_id = clinic.client_id
            and mrn_feeds.source_key = clinic.source_key

),

final as (

    select
        feed,
        client_id,
        source_key,
        patient_key,
        match_rule
    from linked
    union all
    select
        feed,
        client_id,
        source_key,
        patient_key,
        match_rule
    from mrn_linked

)

select * from final
