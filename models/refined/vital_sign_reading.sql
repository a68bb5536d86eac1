{{
    config(
        materialized='incremental',
        unique_key='reading_key',
        incremental_strategy='merge',
        on_schema_change='append_new_columns',
        indexes=[
            {'columns': ['reading_key'], 'unique': True},
            {'columns': ['recorded_at']},
            {'columns': ['patient_key', 'recorded_at']},
        ],
    )
}}

-- The bedside-device time series, one row per patient and minute, indexed by time. Incremental on
-- arrival: each run merges the readings that arrived since the last build, whatever minute they
-- were recorded in (a device uploading hours or days late is caught without a lookback window),
-- and the readings of people whose linkage changed (macros/incremental.sql).
with

readings as (

    select * from {{ ref('stg_vitals__readings') }}
    {% if is_incremental() %}
        where {{ arrived_or_relinked('vitals', 'patient_mrn_token') }}
    {% endif %}

),

crosswalk as (

    select * from {{ ref('patient_crosswalk') }}
    where feed = 'vitals'

),

final as (

    select
        md5(readings._client_id || ':' || readings.patient_mrn_token || ':' || readings.recorded_at::text)
            as reading_key,
        crosswalk.patient_key,
        readings._client_id as client_id,
        readings.recorded_at,
        readings.heart_rate,
        readings.spo2,
        readings.respiratory_rate,
        readings.device_id,
        readings._record_id,
        readings._ingested_at
    from readings
    inner join crosswalk
        on
            readings._client_id = crosswalk.client_id
            and readings.patient_mrn_token = crosswalk.source_key

)

select * from final
