-- What each column of vitals_daily_features means, per vital sign: where it comes from and how it
-- is computed, so a model built on the features can cite them.
with

signs as (

    select *
    from (
        values
        ('heart_rate', '8867-4', 'Heart rate', '/min'),
        ('spo2', '59408-5', 'Oxygen saturation by pulse oximetry', '%'),
        ('respiratory_rate', '9279-1', 'Respiratory rate', '/min')
    ) as signs (vital_sign, loinc_code, loinc_display, unit)

),

features as (

    select *
    from (
        values
        ('reading_count', 'count(*)', 'Number of readings that day (one per minute when the device is worn).'),
        ('mean_value', 'avg(value), 2 decimals', 'Arithmetic mean of the day''s readings.'),
        ('min_value', 'min(value)', 'Lowest reading of the day.'),
        ('max_value', 'max(value)', 'Highest reading of the day.'),
        ('stddev_value', 'stddev_samp(value), 3 decimals', 'Sample standard deviation; null with one reading.'),
        (
            'trend_per_hour',
            'regr_slope(value, epoch hours), 4 decimals',
            'Least-squares slope of the readings against time: change per hour over the day.'
        )
    ) as features (feature_column, method, feature_description)

),

final as (

    select
        signs.vital_sign || '__' || features.feature_column as feature_name,
        signs.vital_sign,
        features.feature_column,
        signs.loinc_code,
        signs.loinc_display,
        case when features.feature_column = 'reading_count' then '1' else signs.unit end as unit,
        features.method,
        features.feature_description,
        'refined.vital_sign_reading (vitals feed, device readings)' as source,
        'per patient_key and reading_date (UTC day)' as grain
    from signs
    cross join features

)

select * from final
