{{
    config(
        materialized='incremental',
        unique_key='patient_key',
        incremental_strategy='delete+insert',
        on_schema_change='append_new_columns',
        indexes=[{'columns': ['patient_key']}],
        post_hook=[vanished_people_cleanup()],
    )
}}

-- Conflict resolution: for each person and attribute, the value kept and the feed it came from.
-- Rule: the feed with the best (lowest) priority for that attribute in seeds/source_priority.csv
-- wins; between records of equal priority the most recent wins; a feed the seed does not list
-- ranks last. Ties beyond that go to the highest _record_id so the result is deterministic.
-- Incremental: a run recomputes, whole, the people touched since the last build (see
-- touched_patient_keys and vanished_people_cleanup in macros/incremental.sql).
{%- set touched = touched_patient_keys() %}
with

candidates as (

    select * from {{ ref('patient_attribute_candidate') }}
    {% if is_incremental() %}
        where patient_key = any({{ text_array(touched) }})
    {% endif %}

),

priorities as (

    select * from {{ ref('source_priority') }}

),

ranked as (

    select
        candidates.*,
        coalesce(priorities.priority, 999) as source_priority,
        row_number() over (
            partition by candidates.patient_key, candidates.attribute
            order by
                coalesce(priorities.priority, 999),
                candidates.observed_at desc nulls last,
                candidates._record_id desc
        ) as candidate_rank,
        count(*) over (partition by candidates.patient_key, candidates.attribute) as candidate_count,
        max(candidates._ingested_at) over (partition by candidates.patient_key) as newest_ingested_at
    from candidates
    left join priorities
        on
            candidates.attribute = priorities.attribute
            and candidates.feed = priorities.feed

),

disagreements as (

    select
        patient_key,
        attribute,
        count(distinct value_text) as distinct_value_count
    from candidates
    group by patient_key, attribute

),

final as (

    select
        ranked.patient_key,
        ranked.attribute,
        ranked.value_text,
        ranked.value_numeric,
        ranked.feed as winning_feed,
        ranked.client_id as winning_client_id,
        ranked._record_id as winning_record_id,
        ranked.observed_at as winning_observed_at,
        ranked.source_priority as winning_priority,
        ranked.candidate_count,
        disagreements.distinct_value_count,
        disagreements.distinct_value_count > 1 as is_conflict,
        ranked.newest_ingested_at as _ingested_at
    from ranked
    inner join disagreements
        on
            ranked.patient_key = disagreements.patient_key
            and ranked.attribute = disagreements.attribute
    where ranked.candidate_rank = 1

)

select * from final
