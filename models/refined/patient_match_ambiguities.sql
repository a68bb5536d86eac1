-- SSN tokens that more than one record of the same feed carries: candidates for a merge that the
-- linkage refused to make. A data steward resolves them at the source; nothing here is merged.
with

records as (

    select * from {{ ref('patient_source_record') }}

),

crosswalk as (

    select * from {{ ref('patient_crosswalk') }}

),

final as (

    select
        records.ssn_token,
        records.feed,
        records.client_id,
        records.source_key,
        crosswalk.patient_key,
        records._record_id,
        count(*) over (partition by records.ssn_token) as records_sharing_ssn
    from records
    inner join crosswalk
        on
            records.feed = crosswalk.feed
            and records.client_id = crosswalk.client_id
            and records.source_key = crosswalk.source_key
    where crosswalk.match_rule = 'ambiguous_ssn'

)

select * from final
