{#
    Fresh statistics for a table a model just wrote (a project-wide post-hook). The next model's
    plan is made before autovacuum would get to it, and without statistics PostgreSQL guesses row
    counts and can pick a nested loop over thousands of rows: minutes instead of milliseconds.
    Nothing for a view.
#}
{% macro analyze_table() -%}
    {%- if model.config.materialized in ('table', 'incremental') -%}
        analyze {{ this }}
    {%- endif -%}
{%- endmacro %}
