{% test expect_column_mean_to_be_between(
    model,
    column_name,
    min_value=none,
    max_value=none,
    group_by=none,
    row_condition=none,
    strictly=false
) %}
{#- Fails with one row when avg(column) lies outside the bounds; with group_by, one row per group.
    Nulls are left out of the mean; a mean of no values (null) passes. -#}
{{ expectations.aggregate_between(
    model, "avg(" ~ column_name ~ ")", min_value, max_value, group_by, row_condition, strictly
) }}
{% endtest %}
