{% test expect_column_values_to_be_in_set(model, column_name, value_set, quote_values=true, row_condition=none) %}
{#- Fails on each row whose value is not in value_set. As in dbt-expectations a null is not in the
    set, so it fails too: exclude nulls with row_condition when they are allowed. -#}
select *
from {{ model }}
where
    ({{ column_name }} is null or {{ column_name }} not in ({{ expectations.value_list(value_set, quote_values) }}))
    {%- if row_condition %}
        and ({{ row_condition }})
    {%- endif %}
{% endtest %}
