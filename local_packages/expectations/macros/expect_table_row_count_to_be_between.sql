{% test expect_table_row_count_to_be_between(
    model,
    min_value=none,
    max_value=none,
    group_by=none,
    row_condition=none,
    strictly=false
) %}
{#- Fails with one row when the table's row count (of rows meeting row_condition) lies outside the
    bounds; with group_by, one row per group outside them (groups with no rows cannot be seen). -#}
{{ expectations.aggregate_between(model, "count(*)", min_value, max_value, group_by, row_condition, strictly) }}
{% endtest %}
