{#
    Incremental refined models process what arrived since their last build, by arrival time.

    Arrival time (`_ingested_at`, stamped by the loader) needs no lookback: a late record, an
    updated visit, a backfilled file all arrive with a new `_ingested_at`, whatever their event
    time. The loader stamps each file, strictly increasing in the order files commit, one loader
    at a time (ingest/loader.py, `_file_stamp`): a build sees every file up to some stamp and none
    after it, so "stamped after the newest row I hold" misses nothing and re-reads nothing.

    The mark is read when the model runs and written into its SQL as a literal: with a literal
    the planner sees from the column's statistics that few rows pass, and probes the raw table's
    key index for them through the staging view; with a subquery it guesses a third of the table
    and hashes all of it.
#}
{% macro ingested_high_water_mark() -%}
    {{ ingested_high_water_mark_of('_ingested_at') }}
{%- endmacro %}

{#-
    Whether this model's existing table has every one of `columns`. A table built by an older
    version of the model lacks the bookkeeping columns: its first incremental run then re-reads
    everything (a mark of -infinity), and on_schema_change adds the columns.
-#}
{% macro has_columns(columns) -%}
    {%- set present = [] -%}
    {%- if not execute or this is string -%}
        {#- parsing; or a unit test's fixture of `this`, a CTE with every column the test gives it -#}
        {{ return(true) }}
    {%- endif -%}
    {%- for column in adapter.get_columns_in_relation(this) -%}
        {%- do present.append(column.name | lower) -%}
    {%- endfor -%}
    {%- for column in columns -%}
        {%- if column | lower not in present -%}
            {{ return(false) }}
        {%- endif -%}
    {%- endfor -%}
    {{ return(true) }}
{%- endmacro %}

{#- The same for a model that keeps the newest arrival of its inputs in another column. -#}
{% macro ingested_high_water_mark_of(column) -%}
    {%- if execute and is_incremental() and has_columns([column]) -%}
        {%- set newest = run_query("select coalesce(max(" ~ column ~ "), '-infinity'::timestamptz)::text from " ~ this) -%}
        '{{ newest.columns[0].values()[0] }}'::timestamptz
    {%- else -%}
        '-infinity'::timestamptz
    {%- endif -%}
{%- endmacro %}

{#
    Rows to (re)process in an incremental run of an event model: those that arrived since the
    model's last build, and those of people whose linkage changed since then (an SSN became
    ambiguous, or a patient arrived after their events, which were orphans until now; see
    patient_crosswalk's `_changed_at`). A plain boolean over the staging view's columns, so
    PostgreSQL pushes it down to the raw table's scan. `token_column` is the staging column with
    the feed's person identifier token; `feed` the crosswalk's name for the feed.
#}
{% macro arrived_or_relinked(feed, token_column) -%}
    {%- set mark = ingested_high_water_mark() -%}
    {%- set relinked = [] -%}
    {%- if execute and is_incremental() -%}
        {%- set found = run_query(
            "select client_id || ':' || source_key from " ~ ref('patient_crosswalk')
            ~ " where feed = '" ~ feed ~ "' and _changed_at > " ~ mark
        ) -%}
        {%- for key in found.columns[0].values() -%}
            {%- do relinked.append(key) -%}
        {%- endfor -%}
    {%- endif -%}
    (
        _ingested_at > {{ mark }}
        {%- if relinked | length > 20000 %}
            -- {{ relinked | length }} relinked identities: re-read everything
            or true
        {%- elif relinked %}
            -- {{ relinked | length }} relinked identities; a constant array is probed by hash
            or _client_id || ':' || {{ token_column }} = any({{ text_array(relinked) }})
        {%- endif %}
    )
{%- endmacro %}

{#
    People whose person-level rows (attribute candidates, resolution, patient) must be recomputed
    in an incremental run: people with a person record (clinic patient, member, Synthea patient)
    or a height or weight that arrived since the model's last build, and people whose linkage
    changed since then, including the person a record moved away from. Read when the model runs;
    returns a list of patient_key values.
#}
{% macro touched_patient_keys() -%}
    {%- set mark = ingested_high_water_mark() -%}
    {%- set query -%}
        select patient_key
        from {{ ref('patient_crosswalk') }}
        where
            (_ingested_at > {{ mark }} and feed in ('clinic_emr', 'member_roster', 'synthea'))
            or _changed_at > {{ mark }}
        union
        select previous_patient_key
        from {{ ref('patient_crosswalk') }}
        where _changed_at > {{ mark }} and previous_patient_key is not null
        union
        select patient_key
        from {{ ref('observation') }}
        where _ingested_at > {{ mark }} and loinc_code in ('8302-2', '29463-7')
    {%- endset -%}
    {%- if execute and is_incremental() -%}
        {{ return(run_query(query).columns[0].values() | list) }}
    {%- else -%}
        {{ return([]) }}
    {%- endif -%}
{%- endmacro %}

{#- A constant text array of `values`, for `= any(...)`: PostgreSQL probes it by hash. -#}
{% macro text_array(values) -%}
    array[
        {%- for value in values -%}
            '{{ value | replace("'", "''") }}'{{ ", " if not loop.last }}
        {%- endfor -%}
    ]::text []
{%- endmacro %}

{#-
    A post-hook of person-level models: delete the rows of people who no longer exist. A person
    disappears only when all their records were linked to someone else, and then the crosswalk
    names them as those records' previous_patient_key: only those people are looked at, so the
    hook costs what the relinking costs, not a pass over the table.
-#}
{% macro vanished_people_cleanup() -%}
    {{ return(
        "delete from {{ this }} as existing"
        ~ " where existing.patient_key in (select previous_patient_key from {{ ref('patient_crosswalk') }})"
        ~ " and not exists (select from {{ ref('patient_crosswalk') }} as crosswalk"
        ~ " where crosswalk.patient_key = existing.patient_key)"
    ) }}
{%- endmacro %}
