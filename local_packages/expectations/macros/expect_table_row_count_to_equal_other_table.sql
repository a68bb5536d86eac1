{% test expect_table_row_count_to_equal_other_table(
    model,
    compare_model,
    group_by=none,
    compare_group_by=none,
    factor=1,
    row_condition=none,
    compare_row_condition=none
) %}
{#- Fails when the row count of model differs from factor times the row count of compare_model
    (each filtered by its own row condition). With group_by (and compare_group_by, the matching
    columns of compare_model, defaulting to group_by), one row per group whose counts differ; a group
    on one side only counts as 0 rows on the other; null group values match each other. -#}
{%- set groups = expectations.column_names(group_by) -%}
{%- set compare_groups = expectations.column_names(compare_group_by, "compare_group_by") or groups -%}
{%- if groups | length != compare_groups | length -%}
    {{ exceptions.raise_compiler_error("expectations: group_by and compare_group_by must name as many columns") }}
{%- endif -%}
{%- set aliases = [] -%}
{%- for column in groups -%}
    {%- do aliases.append("group_" ~ loop.index) -%}
{%- endfor -%}
with counts as (
    {{ expectations.grouped_select(
        model, groups, ["count(*) as row_count", "0 as expected_row_count"], row_condition, aliases
    ) | indent(4) }}

    union all

    {{ expectations.grouped_select(
        compare_model,
        compare_groups,
        ["0 as row_count", "count(*) * " ~ factor ~ " as expected_row_count"],
        compare_row_condition,
        aliases
    ) | indent(4) }}
)

select
    {%- for column in groups %}
    group_{{ loop.index }} as {{ column }},
    {%- endfor %}
    sum(row_count) as row_count,
    sum(expected_row_count) as expected_row_count
from counts
{%- if groups %}
group by {{ aliases | join(", ") }}
{%- endif %}
having sum(row_count) != sum(expected_row_count)
{% endtest %}
