-- Visits from the patient_visits feed, which updates them in place (the loader's watermark feed):
-- one row per visit, latest version.
with

visits as (

    select * from {{ ref('stg_patient_visits__visits') }}

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
