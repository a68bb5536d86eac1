{% test expect_column_values_to_be_between(
    model,
    column_name,
    min_value=none,
    max_value=none,
    row_condition=none,
    strictly=false
) %}
{#- Fails on each row whose value lies outside [min_value, max_value] (exclusive when strictly). -#}
{%- set lower_op = '>' if strictly else '>=' -%}
{%- set upper_op = '<' if strictly else '<=' -%}
select *
from {{ model }}
where
    {{ column_name }} is not null
    {%- if row_condition %} and ({{ row_condition }}){% endif %}
    and not (
        true
        {%- if min_value is not none %} and {{ column_name }} {{ lower_op }} {{ min_value }}{% endif %}
        {%- if max_value is not none %} and {{ column_name }} {{ upper_op }} {{ max_value }}{% endif %}
    )
{% endtest %}
