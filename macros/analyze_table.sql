{#
    Fresh statistics for a table a model just wrote (a project-wide post-hook). The next model's
    plan is made before autovacuum would get to it, and without statistics PostgreSQL guesses row
    counts and can pick a nested loop over thousands of rows: minutes instead of milliseconds.
    Nothing for a view, nor after an incremental run: it changed a few rows of a table whose
    statistics hold (autovacuum re-analyses a table once a tenth of it changed).
#}
{% macro analyze_table() -%}
    {%- set materialized = model.config.materialized -%}
    {%- if materialized == 'table' or (materialized == 'incremental' and not is_incremental()) -%}
        analyze {{ this }}
    {%- endif -%}
{%- endmacro %}
