{{
    config(
        materialized='incremental',
        unique_key=['feed', 'client_id', 'source_key'],
        incremental_strategy='merge',
        on_schema_change='append_new_columns',
        indexes=[
            {'columns': ['feed', 'client_id', 'source_key'], 'unique': True},
            {'columns': ['patient_key']},
        ],
    )
}}

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
--
-- Incremental: the person records are linked afresh in every run (a new record can make an SSN
-- ambiguous for everyone sharing it), but only identities that are new, changed person, or had
-- records arrive are merged. `_changed_at` tells the event models which identities to re-read:
-- those whose patient_key changed, or that are new (their events may have arrived first, as orphans).
{%- set incremental = is_incremental() and has_columns(['previous_patient_key', '_ingested_at', '_changed_at']) %}
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
        end as patient_key,
        records._ingested_at
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

{% if incremental %}
    clinic_relinked as (

        -- clinic patients that are new or became another person: their visits and readings,
        -- whenever they arrived, follow them
        select
            clinic.client_id,
            clinic.source_key
        from clinic
        left join {{ this }} as previous
            on
                previous.feed = 'clinic_emr'
                and clinic.client_id = previous.client_id
                and clinic.source_key = previous.source_key
        where previous.patient_key is distinct from clinic.patient_key

    ),
{% endif %}

mrn_feeds as (

    select
        feed,
        client_id,
        source_key,
        max(_ingested_at) as _ingested_at
    from (
        {% for feed, model in [('patient_visits', 'stg_patient_visits__visits'), ('vitals', 'stg_vitals__readings')] %}
            select
                '{{ feed }}' as feed,
                events._client_id as client_id,
                events.patient_mrn_token as source_key,
                events._ingested_at
            from {{ ref(model) }} as events
            {% if incremental %}
                where events._ingested_at > {{ ingested_high_water_mark() }}
                union all
                select
                    '{{ feed }}' as feed,
                    events._client_id as client_id,
                    events.patient_mrn_token as source_key,
                    events._ingested_at
                from {{ ref(model) }} as events
                inner join clinic_relinked
                    on
                        events._client_id = clinic_relinked.client_id
                        and events.patient_mrn_token = clinic_relinked.source_key
            {% endif %}
            {% if not loop.last %}union all{% endif %}
        {% endfor %}
    ) as events
    group by feed, client_id, source_key

),

mrn_linked as (

    select
        mrn_feeds.feed,
        mrn_feeds.client_id,
        mrn_feeds.source_key,
        'mrn_exact' as match_rule,
        clinic.patient_key,
        mrn_feeds._ingested_at
    from mrn_feeds
    inner join clinic
        on
            mrn_feeds.client_id = clinic.client_id
            and mrn_feeds.source_key = clinic.source_key

),

current_links as (

    select
        feed,
        client_id,
        source_key,
        patient_key,
        match_rule,
        _ingested_at
    from linked
    union all
    select
        feed,
        client_id,
        source_key,
        patient_key,
        match_rule,
        _ingested_at
    from mrn_linked

),

final as (

    {% if incremental %}
        select
            current_links.feed,
            current_links.client_id,
            current_links.source_key,
            current_links.patient_key,
            current_links.match_rule,
            case
                when previous.patient_key <> current_links.patient_key then previous.patient_key
                else previous.previous_patient_key
            end as previous_patient_key,
            greatest(current_links._ingested_at, previous._ingested_at) as _ingested_at,
            case
                when
                    previous.source_key is null
                    or previous.patient_key <> current_links.patient_key
                    or previous.match_rule <> current_links.match_rule
                    then (select max(newest._ingested_at) from current_links as newest)
                else previous._changed_at
            end as _changed_at
        from current_links
        left join {{ this }} as previous
            on
                current_links.feed = previous.feed
                and current_links.client_id = previous.client_id
                and current_links.source_key = previous.source_key
        where
            previous.source_key is null
            or previous.patient_key <> current_links.patient_key
            or previous.match_rule <> current_links.match_rule
            or current_links._ingested_at > previous._ingested_at
    {% else %}
        select
            feed,
            client_id,
            source_key,
            patient_key,
            match_rule,
            null::text as previous_patient_key,
            _ingested_at,
            -- a first build links everyone at once: nothing downstream needs re-reading
            '-infinity'::timestamptz as _changed_at
        from current_links
    {% endif %}

)

select * from final
