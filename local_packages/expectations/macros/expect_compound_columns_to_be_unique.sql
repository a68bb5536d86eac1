{% test expect_compound_columns_to_be_unique(
    model,
    column_list,
    row_condition=none,
    ignore_row_if="all_values_are_missing",
    quote_columns=false
) %}
{#- Fails with one row per combination of column_list that occurs more than once.
    ignore_row_if: "all_values_are_missing" (default) skips rows where every column is null,
    "any_value_is_missing" skips rows where any is null, "never" checks all rows (nulls group together). -#}
{%- set columns = [] -%}
{%- for column in expectations.column_names(column_list, "column_list") -%}
    {%- do columns.append(adapter.quote(column) if quote_columns else column) -%}
{%- endfor -%}
{%- if not columns -%}
    {{ exceptions.raise_compiler_error("expectations: column_list must name at least one column") }}
{%- endif -%}
{%- if ignore_row_if not in ["all_values_are_missing", "any_value_is_missing", "never"] -%}
    {{ exceptions.raise_compiler_error(
        "expectations: ignore_row_if must be all_values_are_missing, any_value_is_missing or never, got "
        ~ ignore_row_if
    ) }}
{%- endif -%}
{%- set null_join = " and " if ignore_row_if == "all_values_are_missing" else " or " -%}
select
    {{ columns | join(", ") }},
    count(*) as n_records
from {{ model }}
where
    true
    {%- if row_condition %}
        and ({{ row_condition }})
    {%- endif %}
    {%- if ignore_row_if != "never" %}
        and not ({% for column in columns %}{{ column }} is null{% if not loop.last %}{{ null_join }}{% endif %}{% endfor %})
    {%- endif %}
group by {{ columns | join(", ") }}
having count(*) > 1
{% endtest %}
