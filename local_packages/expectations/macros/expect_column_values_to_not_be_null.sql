{% test expect_column_values_to_not_be_null(model, column_name, row_condition=none) %}
{#- Fails on each row (of those meeting row_condition) whose value is null. -#}
select *
from {{ model }}
where
    {{ column_name }} is null
    {%- if row_condition %}
        and ({{ row_condition }})
    {%- endif %}
{% endtest %}
