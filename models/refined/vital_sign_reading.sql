{{
    config(
        materialized='incremental',
        unique_key='reading_key',
        incremental_strategy='merge',
        on_schema_change='append_new_columns',
        indexes=[
            {'columns': ['recorded_at']},
            {'columns': ['patient_key', 'recorded_at']},
        ],
    )
}}

-- The bedside-device time series, one row per patient and minute. Incremental on event time: each
-- run merges the readings recorded after the newest one already here minus var('lookback_hours'),
-- so readings that arrive late (a device uploading hours after the fact) within that window are
-- picked up; older late readings need a full refresh.
with

readings as (

    select * from {{ ref('stg_vitals__readings') }}
    {% if is_incremental() %}
        where recorded_at > {{ lookback_floor('recorded_at') }}
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
