{% test expect_column_values_to_be_between(
    model,
    column_name,
    min_value=none,
    max_value=none,
    row_condition=none,
    strictly=false
) %}
{#- Fails on each row whose value lies outside [min_value, max_value] (exclusive when strictly).
    Nulls pass. -#}
select *
from {{ model }}
where
    {{ column_name }} is not null
    {%- if row_condition %}
        and ({{ row_condition }})
    {%- endif %}
    and not ({{ expectations.bounds_condition(column_name, min_value, max_value, strictly) }})
{% endtest %}
