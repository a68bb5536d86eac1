{{
    config(
        materialized='incremental',
        unique_key=['patient_key', 'reading_date'],
        incremental_strategy='delete+insert',
        on_schema_change='append_new_columns',
        post_hook=[
            vanished_people_cleanup(),
        ],
    )
}}

-- Per person, day and vital sign: count, mean, min, max, standard deviation and trend of the
-- device readings; feature_metadata describes each feature. Incremental on arrival: a run
-- recomputes, whole, the person-days that received readings since the last build (a late upload
-- recomputes the day it belongs to, however old), and every day of people whose readings were
-- relinked to them; a person no longer in the crosswalk loses their rows.
with

readings as (

    select * from {{ ref('vital_sign_reading') }}

),

{% if is_incremental() %}
    touched as (

        select distinct
            readings.patient_key,
            readings.recorded_at::date as reading_date
        from readings
        where readings._ingested_at > {{ ingested_high_water_mark_of('last_ingested_at') }}
        union
        select distinct
            readings.patient_key,
            readings.recorded_at::date as reading_date
        from readings
        inner join {{ ref('patient_crosswalk') }} as crosswalk
            on readings.patient_key = crosswalk.patient_key
        where
            crosswalk.feed = 'vitals'
            and crosswalk._changed_at > {{ ingested_high_water_mark_of('last_ingested_at') }}

    ),

    in_scope as (

        select readings.*
        from readings
        inner join touched
            on
                readings.patient_key = touched.patient_key
                and readings.recorded_at::date = touched.reading_date

    ),
{% else %}
    in_scope as (

        select * from readings

    ),
{% endif %}

unpivoted as (

    select
        in_scope.patient_key,
        in_scope.recorded_at,
        in_scope._ingested_at,
        signs.vital_sign,
        signs.reading_value
    from in_scope
    cross join
        lateral (
            values
            ('heart_rate', in_scope.heart_rate),
            ('spo2', in_scope.spo2),
            ('respiratory_rate', in_scope.respiratory_rate)
        ) as signs (vital_sign, reading_value)
    where signs.reading_value is not null

),

final as (

    select
        patient_key,
        recorded_at::date as reading_date,
        vital_sign,
        count(*) as reading_count,
        round(avg(reading_value), 2) as mean_value,
        min(reading_value) as min_value,
        max(reading_value) as max_value,
        round(stddev_samp(reading_value)::numeric, 3) as stddev_value,
        -- least-squares slope against time in hours: the day's trend, per hour
        round(
            regr_slope(reading_value, extract(epoch from recorded_at) / 3600.0)::numeric, 4
        ) as trend_per_hour,
        max(recorded_at) as last_recorded_at,
        max(_ingested_at) as last_ingested_at
    from unpivoted
    group by patient_key, recorded_at::date, vital_sign

)

select * from final
