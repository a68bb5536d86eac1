{% test expect_compound_columns_to_be_unique(
    model,
    column_list,
    row_condition=none,
    ignore_row_if="all_values_are_missing"
) %}
{#- Fails with one row per combination of column_list that occurs more than once.
    ignore_row_if: "all_values_are_missing" (default) skips rows where every column is null,
    "any_value_is_missing" skips rows where any is null, "never" checks all rows. -#}
{%- set null_join = ' and ' if ignore_row_if == 'all_values_are_missing' else ' or ' -%}
select
    {{ column_list | join(', ') }},
    count(*) as n_records
from {{ model }}
where
    true
    {%- if row_condition %} and ({{ row_condition }}){% endif %}
    {%- if ignore_row_if != 'never' %}
    and not ({% for column in column_list %}{{ column }} is null{% if not loop.last %}{{ null_join }}{% endif %}{% endfor %})
    {%- endif %}
group by {{ column_list | join(', ') }}
having count(*) > 1
{% endtest %}
