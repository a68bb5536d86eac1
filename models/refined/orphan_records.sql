{{ config(materialized='view') }}

-- Event records whose person the linkage does not know: the patient was not sent, did not consent
-- (the loader's whitelist dropped them), or the identifier is wrong. Counted here, per feed,
-- entity and client, rather than silently dropped from the refined models.
{%- set sources = [
    ('stg_clinic_emr__encounters', 'clinic_emr', 'encounters', 'patient_mrn_token'),
    ('stg_clinic_emr__observations', 'clinic_emr', 'observations', 'patient_mrn_token'),
    ('stg_clinic_emr__medications', 'clinic_emr', 'medications', 'patient_mrn_token'),
    ('stg_clinic_emr__conditions', 'clinic_emr', 'conditions', 'patient_mrn_token'),
    ('stg_patient_visits__visits', 'patient_visits', 'visits', 'patient_mrn_token'),
    ('stg_vitals__readings', 'vitals', 'readings', 'patient_mrn_token'),
    ('stg_synthea__encounters', 'synthea', 'encounters', 'synthea_patient_token'),
    ('stg_synthea__observations', 'synthea', 'observations', 'synthea_patient_token'),
    ('stg_synthea__medications', 'synthea', 'medications', 'synthea_patient_token'),
    ('stg_synthea__conditions', 'synthea', 'conditions', 'synthea_patient_token'),
] %}

-- A view: counted when read (by an analyst or the data-quality owner), not rewritten by every build.
with

unlinked as (
    {% for model, feed, entity, token in sources %}
        -- a hash anti-join per source: the crosswalk is read as a table, never as a repeated CTE
        select
            '{{ feed }}' as feed,
            '{{ entity }}' as entity,
            events._client_id as client_id,
            events._record_id,
            events._ingested_at
        from {{ ref(model) }} as events
        left join {{ ref('patient_crosswalk') }} as crosswalk
            on
                crosswalk.feed = '{{ "synthea" if feed == "synthea" else "clinic_emr" }}'
                and events._client_id = crosswalk.client_id
                and events.{{ token }} = crosswalk.source_key
        where crosswalk.source_key is null
        {% if not loop.last %}union all{% endif %}
    {% endfor %}
),

final as (

    select
        feed,
        entity,
        client_id,
        'no linked patient' as reason,
        count(*) as record_count,
        min(_record_id) as example_record_id,
        max(_ingested_at) as last_ingested_at
    from unlinked
    group by feed, entity, client_id

)

select * from final
