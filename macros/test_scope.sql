{#
    What a data test reads. dbt's own version applies a test's `where` config; this one can also
    narrow row-level tests to the rows that arrived since the last build, when the build runs with
    `--vars '{test_scope: arrivals}'` (the default, `all`, tests every row).

    With `arrivals`, a row-level test (a value in range, not null, unique, a foreign key that
    resolves, ...) of a model or staging view with `_ingested_at` checks the rows stamped after the
    start of the last whole-project `dbt build` that ended without errors (audit.dbt_invocations),
    so an incremental build's tests cost what its change costs. Rows already tested are not
    re-read: a failure among them was reported when they arrived. Table-level tests (row counts,
    freshness, proportions, means, volume against history) and singular tests always see the whole
    table. Rows whose person was relinked keep their old stamp: a build with the default scope (the
    first one, and a weekly full run) checks everything. Stamps and `started_at` come from the same
    clock when loader and dbt share a machine, as `warehouse run` does.
#}
{% macro get_where_subquery(relation) -%}
    {%- set conditions = [] -%}
    {%- set where = config.get('where') -%}
    {%- if where -%}
        {%- do conditions.append('(' ~ where ~ ')') -%}
    {%- endif -%}
    {%- set arrived = arrivals_condition(relation) -%}
    {%- if arrived -%}
        {%- do conditions.append(arrived) -%}
    {%- endif -%}
    {%- if conditions -%}
        {%- set filtered -%}
            (select * from {{ relation }} where {{ conditions | join(' and ') }}) dbt_subquery
        {%- endset -%}
        {%- do return(filtered) -%}
    {%- else -%}
        {%- do return(relation) -%}
    {%- endif -%}
{%- endmacro %}

{% macro row_level_tests() -%}
    {{ return([
        'not_null', 'unique', 'accepted_values', 'relationships',
        'expect_column_values_to_be_between', 'expect_column_values_to_be_in_set',
        'expect_column_values_to_not_be_in_set', 'expect_column_values_to_match_regex',
        'expect_column_values_to_not_match_regex', 'expect_column_values_to_not_be_null',
        'expect_compound_columns_to_be_unique',
    ]) }}
{%- endmacro %}

{% macro arrivals_condition(relation) -%}
    {%- if not execute or var('test_scope', 'all') != 'arrivals' or relation is string -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set test_name = (model.get('test_metadata') or {}).get('name') -%}
    {%- if test_name not in row_level_tests() or not tested_node_has_column('_ingested_at') -%}
        {{ return(none) }}
    {%- endif -%}
    {#- a subquery, not a literal read with run_query: a query per test is seconds per build; the
        audit table exists from the start of every run (on-run-start) -#}
    {{ return(
        "_ingested_at > (select coalesce(max(started_at), '-infinity'::timestamptz) from audit.dbt_invocations"
        ~ " where command = 'build' and coalesce(selector, '') = '' and error_count = 0)"
    ) }}
{%- endmacro %}

{#- Whether the model or source under test documents `column` (every column is documented: the
    docs check fails the build otherwise), read from the project graph, not the database. -#}
{% macro tested_node_has_column(column) -%}
    {%- set tested = model.get('attached_node') or (model.depends_on.nodes | last) -%}
    {%- set node = graph.nodes.get(tested) or graph.sources.get(tested) -%}
    {{ return(node is not none and column in node.columns) }}
{%- endmacro %}
