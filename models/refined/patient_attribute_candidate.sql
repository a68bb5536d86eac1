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

-- Every value any feed gives for a person's attributes, one row per (person, attribute, feed
-- record): the input of conflict resolution. Recency is the record's own timestamp where it has one
-- (clinic updated_at, measurement time), otherwise the date of the file it came in.
-- Incremental: a run recomputes, whole, the people touched since the last build (see
-- touched_patient_keys and vanished_people_cleanup in macros/incremental.sql).
{%- set touched = touched_patient_keys() %}
{%- set identities = [] %}
{%- if execute and is_incremental() and touched %}
    {%- set found = run_query(
        "select feed || ':' || client_id || ':' || source_key from " ~ ref('patient_crosswalk')
        ~ " where patient_key = any(" ~ text_array(touched) ~ ")"
    ) %}
    {%- do identities.extend(found.columns[0].values()) %}
{%- endif %}

with

crosswalk as (

    select * from {{ ref('patient_crosswalk') }}
    {% if is_incremental() %}
        where patient_key = any({{ text_array(touched) }})
    {% endif %}

),

clinic_patients as (

    select
        crosswalk.patient_key,
        patients.*
    from {{ ref('stg_clinic_emr__patients') }} as patients
    inner join crosswalk
        on
            crosswalk.feed = 'clinic_emr'
            and patients._client_id = crosswalk.client_id
            and patients.patient_mrn_token = crosswalk.source_key
    {% if is_incremental() %}
        where
            'clinic_emr:' || patients._client_id || ':' || patients.patient_mrn_token
            = any({{ text_array(identities) }})
    {% endif %}

),

synthea_patients as (

    select
        crosswalk.patient_key,
        patients.*
    from {{ ref('stg_synthea__patients') }} as patients
    inner join crosswalk
        on
            crosswalk.feed = 'synthea'
            and patients._client_id = crosswalk.client_id
            and patients.synthea_patient_token = crosswalk.source_key
    {% if is_incremental() %}
        where
            'synthea:' || patients._client_id || ':' || patients.synthea_patient_token
            = any({{ text_array(identities) }})
    {% endif %}

),

members as (

    select
        crosswalk.patient_key,
        members.*
    from {{ ref('stg_member_roster__members') }} as members
    inner join crosswalk
        on
            crosswalk.feed = 'member_roster'
            and members._client_id = crosswalk.client_id
            and members.member_token = crosswalk.source_key
    {% if is_incremental() %}
        where
            'member_roster:' || members._client_id || ':' || members.member_token
            = any({{ text_array(identities) }})
    {% endif %}

),

ages as (
    {%- set calculated_tables = [
        ('clinic_emr', 'stg_clinic_emr__patients_calculated', 'patient_mrn_token'),
        ('member_roster', 'stg_member_roster__members_calculated', 'member_token'),
        ('synthea', 'stg_synthea__patients_calculated', 'synthea_patient_token'),
    ] %}
    {% for feed, model, token in calculated_tables %}
        select
            crosswalk.patient_key,
            '{{ feed }}' as feed,
            calculated.age_years_at_ingestion,
            calculated.birth_year,
            calculated._file_date,
            calculated._client_id,
            calculated._record_id,
            calculated._ingested_at
        from {{ ref(model) }} as calculated
        inner join crosswalk
            on
                crosswalk.feed = '{{ feed }}'
                and calculated._client_id = crosswalk.client_id
                and calculated.{{ token }} = crosswalk.source_key
        {% if is_incremental() %}
            where
                '{{ feed }}:' || calculated._client_id || ':' || calculated.{{ token }}
                = any({{ text_array(identities) }})
        {% endif %}
        {% if not loop.last %}union all{% endif %}
    {% endfor %}
),

observations as (

    select * from {{ ref('observation') }}
    {% if is_incremental() %}
        where patient_key = any({{ text_array(touched) }})
    {% endif %}

),

latest_body_measurements as (

    -- one height and one weight per person and feed: the latest measurement
    select distinct on (patient_key, feed, loinc_code)
        patient_key,
        feed,
        case loinc_code when '8302-2' then 'height_cm' else 'weight_kg' end as attribute,
        value_numeric,
        observed_at,
        client_id,
        _record_id,
        _ingested_at
    from observations
    where loinc_code in ('8302-2', '29463-7') and value_numeric is not null
    order by patient_key asc, feed asc, loinc_code asc, observed_at desc, _record_id desc

),

final as (
{%- set branches = [
    ('clinic_patients', 'administrative_gender', 'administrative_gender', 'null::numeric', "'clinic_emr'", 'updated_at', 'administrative_gender is not null'),
    ('synthea_patients', 'administrative_gender', 'administrative_gender', 'null::numeric', "'synthea'", '_file_date::timestamptz', 'administrative_gender is not null'),
    ('clinic_patients', 'zip3', 'zip3', 'null::numeric', "'clinic_emr'", 'updated_at', 'zip3 is not null'),
    ('members', 'zip3', 'zip3', 'null::numeric', "'member_roster'", '_file_date::timestamptz', 'zip3 is not null'),
    ('synthea_patients', 'zip3', 'zip3', 'null::numeric', "'synthea'", '_file_date::timestamptz', 'zip3 is not null'),
    ('ages', 'birth_year', 'birth_year::text', 'birth_year::numeric', 'feed', '_file_date::timestamptz', 'birth_year is not null'),
    ('ages', 'age_years', 'age_years_at_ingestion::text', 'age_years_at_ingestion::numeric', 'feed', '_file_date::timestamptz', 'age_years_at_ingestion is not null'),
] %}
    {% for relation, attribute, text_value, numeric_value, feed, observed_at, condition in branches %}
        select
            patient_key,
            '{{ attribute }}' as attribute,
            {{ text_value }} as value_text,
            {{ numeric_value }} as value_numeric,
            {{ feed }} as feed,
            _client_id as client_id,
            {{ observed_at }} as observed_at,
            _record_id,
            _ingested_at
        from {{ relation }}
        where {{ condition }}
        union all
    {% endfor %}
    select
        patient_key,
        attribute,
        round(value_numeric, 1)::text as value_text,
        value_numeric,
        feed,
        client_id,
        observed_at,
        _record_id,
        _ingested_at
    from latest_body_measurements

)

select * from final
