{#- Small-cell suppression (re-identification guard): a count of people below
    var('min_cell_size', 10) is published as null, with a flag saying so. Zero is not suppressed:
    an empty cell reveals nobody. -#}
{% macro is_suppressed(count) -%}
    ({{ count }} > 0 and {{ count }} < {{ var('min_cell_size', 10) }})
{%- endmacro %}

{% macro suppress_small_count(count) -%}
    case when not {{ is_suppressed(count) }} then {{ count }} end
{%- endmacro %}
