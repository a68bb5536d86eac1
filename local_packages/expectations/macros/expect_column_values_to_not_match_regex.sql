{% test expect_column_values_to_not_match_regex(
    model, column_name, regex, row_condition=none, is_raw=false, flags=""
) %}
{#- Fails on each row whose value matches regex anywhere (PostgreSQL `~`). Nulls pass. -#}
select *
from {{ model }}
where
    {{ expectations.regex_condition(column_name, regex, is_raw, flags) }}
    {%- if row_condition %}
        and ({{ row_condition }})
    {%- endif %}
{% endtest %}
