{% test expect_column_values_to_match_regex(model, column_name, regex, row_condition=none, is_raw=false, flags="") %}
{#- Fails on each row whose value does not match regex anywhere (PostgreSQL `~`; anchor with ^ and $
    for a whole-value match). Nulls pass. -#}
select *
from {{ model }}
where
    {{ column_name }} is not null
    and not ({{ expectations.regex_condition(column_name, regex, is_raw, flags) }})
    {%- if row_condition %}
        and ({{ row_condition }})
    {%- endif %}
{% endtest %}
