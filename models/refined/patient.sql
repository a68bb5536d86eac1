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

-- One row per person across all feeds: the linked identity with conflict-resolved demographics and
-- latest body measurements. Which feed won each value is in patient_attribute_resolution.
-- Incremental: a run recomputes, whole, the people touched since the last build (see
-- touched_patient_keys and vanished_people_cleanup in macros/incremental.sql).
{%- set touched = touched_patient_keys() %}
with

crosswalk as (

    select * from {{ ref('patient_crosswalk') }}
    {% if is_incremental() %}
        where patient_key = any({{ text_array(touched) }})
    {% endif %}

),

people as (

    select
        patient_key,
        bool_or(feed = 'clinic_emr') as has_clinic_record,
        bool_or(feed = 'member_roster') as has_member_record,
        bool_or(feed = 'synthea') as has_synthea_record,
        count(distinct feed) as feed_count,
        max(match_rule) filter (where match_rule <> 'mrn_exact') as match_rule,
        -- arrivals of person records only, as touched_patient_keys reads them
        max(_ingested_at) filter (where feed in ('clinic_emr', 'member_roster', 'synthea')) as _ingested_at
    from crosswalk
    group by patient_key

),

resolved as (

    select * from {{ ref('patient_attribute_resolution') }}
    {% if is_incremental() %}
        where patient_key = any({{ text_array(touched) }})
    {% endif %}

),

pivoted as (

    select
        patient_key,
        max(value_text) filter (where attribute = 'administrative_gender') as administrative_gender,
        max(value_numeric) filter (where attribute = 'birth_year')::integer as birth_year,
        max(value_numeric) filter (where attribute = 'age_years')::integer as age_years,
        max(value_text) filter (where attribute = 'zip3') as zip3,
        max(value_numeric) filter (where attribute = 'height_cm') as height_cm,
        max(winning_observed_at) filter (where attribute = 'height_cm') as height_measured_at,
        max(value_numeric) filter (where attribute = 'weight_kg') as weight_kg,
        max(winning_observed_at) filter (where attribute = 'weight_kg') as weight_measured_at,
        bool_or(is_conflict) as has_conflicting_sources,
        max(_ingested_at) as _ingested_at
    from resolved
    group by patient_key

),

final as (

    select
        people.patient_key,
        coalesce(pivoted.administrative_gender, 'unknown') as administrative_gender,
        pivoted.birth_year,
        pivoted.age_years,
        pivoted.zip3,
        pivoted.height_cm,
        pivoted.height_measured_at,
        pivoted.weight_kg,
        pivoted.weight_measured_at,
        coalesce(pivoted.has_conflicting_sources, false) as has_conflicting_sources,
        people.has_clinic_record,
        people.has_member_record,
        people.has_synthea_record,
        people.feed_count,
        people.match_rule,
        greatest(people._ingested_at, pivoted._ingested_at) as _ingested_at
    from people
    left join pivoted
        on people.patient_key = pivoted.patient_key

)

select * from final
