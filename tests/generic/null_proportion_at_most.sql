{% test null_proportion_at_most(model, column_name, max_proportion, row_condition=none) %}
{#- Fails (one row) when more than max_proportion (0-1) of the rows have a null column_name: some
    nulls are normal, a sudden share of them is a broken extract. -#}
with

counted as (

    select
        count(*) as row_count,
        count(*) filter (where {{ column_name }} is null) as null_count
    from {{ model }}
    {%- if row_condition %}
        where {{ row_condition }}
    {%- endif %}

)

select
    row_count,
    null_count,
    null_count::numeric / row_count as null_proportion
from counted
where row_count > 0 and null_count::numeric / row_count > {{ max_proportion }}
{% endtest %}
