with

source as (

    select * from {{ source('member_roster', 'member_roster__members') }}

),

renamed as not materialized (

    select
        member_id as member_token,
        national_id as ssn_token,
        zip as zip3,
        lower(plan) as plan,
        start_date as plan_start_date,
        end_date as membership_end_date,
        _record_id,
        _source_file,
        _source_line,
        _file_sha256,
        _client_id,
        _file_date,
        _file_seq,
        _run_id,
        _ingested_at,
        _pseudonym_key_id
    from source

),

deduplicated as (

    {{ latest_per_key('renamed', ['_client_id', 'member_token'], ['_file_date', '_file_seq', '_source_line']) }}

)

select * from deduplicated
