{% test expect_column_proportion_of_unique_values_to_be_between(
    model,
    column_name,
    min_value=none,
    max_value=none,
    group_by=none,
    row_condition=none,
    strictly=false
) %}
{#- Fails with one row when count(distinct column) / count(column) lies outside the bounds; with
    group_by, one row per group. Nulls are left out of both counts; no values at all passes. -#}
{%- set expression = "cast(count(distinct " ~ column_name ~ ") as numeric) / nullif(count(" ~ column_name ~ "), 0)" -%}
{{ expectations.aggregate_between(model, expression, min_value, max_value, group_by, row_condition, strictly) }}
{% endtest %}
