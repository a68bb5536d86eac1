{% test expect_column_values_to_not_be_in_set(model, column_name, value_set, quote_values=true, row_condition=none) %}
{#- Fails on each row whose value is in value_set. Nulls pass. -#}
select *
from {{ model }}
where
    {{ column_name }} in ({{ expectations.value_list(value_set, quote_values) }})
    {%- if row_condition %}
        and ({{ row_condition }})
    {%- endif %}
{% endtest %}
