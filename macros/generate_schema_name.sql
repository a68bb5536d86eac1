{#-
    Schemas are exactly the layer names (staging, refined, derived, snapshots), in every target:
    roles and grants are set per schema, so a per-developer prefix would escape them.
-#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema | trim }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
