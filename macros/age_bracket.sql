{#- The label of the bracket (seeds/age_brackets.csv) an age in whole years falls in; null for a
    null or negative age. The seed is tiny, so the lookup is a scalar subquery. -#}
{% macro age_bracket(age) -%}
    (
        select brackets.age_bracket
        from {{ ref('age_brackets') }} as brackets
        where {{ age }} >= brackets.min_age
            and ({{ age }} <= brackets.max_age or brackets.max_age is null)
    )
{%- endmacro %}
