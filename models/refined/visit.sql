{{
    config(
        materialized='incremental',
        unique_key='visit_key',
        incremental_strategy='merge',
        on_schema_change='append_new_columns',
        indexes=[
            {'columns': ['visit_key'], 'unique': True},
            {'columns': ['patient_key']},
        ],
    )
}}

-- Visits from the patient_visits feed, which updates them in place (the loader's watermark feed):
-- one row per visit, latest version. Incremental: a run merges the visits that arrived since the last
-- build (an updated visit arrives again) and those of people whose linkage changed (macros/incremental.sql).
with

visits as (

    select * from {{ ref('stg_patient_visits__visits') }}
    {% if is_incremental() %}
        where {{ arrived_or_relinked('patient_visits', 'patient_mrn_token') }}
    {% endif %}

),

crosswalk as (

    select * from {{ ref('patient_crosswalk') }}
    where feed = 'patient_visits'

),

final as (

    select
        md5('patient_visits:' || visits._client_id || ':' || visits.visit_id) as visit_key,
        crosswalk.patient_key,
        visits._client_id as client_id,
        visits.visit_id as source_visit_id,
        visits.visit_date,
        visits.visit_type,
        visits.visit_cost,
        visits.last_updated,
        visits._record_id,
        visits._ingested_at
    from visits
    inner join crosswalk
        on
            visits._client_id = crosswalk.client_id
            and visits.patient_mrn_token = crosswalk.source_key

)

select * from final
