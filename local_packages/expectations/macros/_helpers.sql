{#- Shared pieces of the expectation tests. Called as `expectations.<name>(...)`; not tests themselves. -#}

{% macro bounds_condition(expression, min_value=none, max_value=none, strictly=false) -%}
{#- `expression >= min_value and expression <= max_value` (`>`/`<` when strictly); either bound may be left out. -#}
{%- if min_value is none and max_value is none -%}
    {{ exceptions.raise_compiler_error("expectations: give min_value, max_value or both") }}
{%- endif -%}
{%- set bounds = [] -%}
{%- if min_value is not none -%}
    {%- do bounds.append(expression ~ (" > " if strictly else " >= ") ~ min_value) -%}
{%- endif -%}
{%- if max_value is not none -%}
    {%- do bounds.append(expression ~ (" < " if strictly else " <= ") ~ max_value) -%}
{%- endif -%}
{{ bounds | join(" and ") }}
{%- endmacro %}


{% macro column_names(columns, argument="group_by") -%}
{#- A list of column names from a list, a single name, or nothing (an empty list). -#}
{%- if columns is none -%}
    {{ return([]) }}
{%- elif columns is string -%}
    {{ return([columns]) }}
{%- elif columns is iterable and columns is not mapping -%}
    {{ return(columns | list) }}
{%- endif -%}
{{ exceptions.raise_compiler_error("expectations: " ~ argument ~ " must be a list of column names, got " ~ columns) }}
{%- endmacro %}


{% macro grouped_select(relation, group_by, aggregates, row_condition=none, group_aliases=none) -%}
{#- `select <group_by columns>, <aggregates> from relation [where row_condition] [group by ...]`;
    group_aliases renames the group columns (as many names as group_by). -#}
select
    {%- for column in group_by %}
    {{ column }}{% if group_aliases %} as {{ group_aliases[loop.index0] }}{% endif %},
    {%- endfor %}
    {{ aggregates | join(",\n    ") }}
from {{ relation }}
{%- if row_condition %}
where {{ row_condition }}
{%- endif %}
{%- if group_by %}
group by {{ group_by | join(", ") }}
{%- endif %}
{%- endmacro %}


{% macro aggregate_between(model, expression, min_value, max_value, group_by, row_condition, strictly) -%}
{#- One row for each group (or the whole table) whose aggregate lies outside the bounds.
    A null aggregate (no non-null values) passes, as in dbt-expectations. -#}
with aggregated as (
    {{ expectations.grouped_select(
        model, expectations.column_names(group_by), [expression ~ " as expression_value"], row_condition
    ) | indent(4) }}
)

select *
from aggregated
where not ({{ expectations.bounds_condition("expression_value", min_value, max_value, strictly) }})
{%- endmacro %}


{% macro value_list(value_set, quote_values=true) -%}
{#- `'a', 'b'` (quoted, single quotes doubled) or `1, 2` (as written) for an `in (...)` list. -#}
{%- if value_set is string or value_set is not iterable or value_set | length == 0 -%}
    {{ exceptions.raise_compiler_error("expectations: value_set must be a non-empty list, got " ~ value_set) }}
{%- endif -%}
{%- set rendered = [] -%}
{%- for value in value_set -%}
    {%- if quote_values -%}
        {%- do rendered.append("'" ~ (value | string | replace("'", "''")) ~ "'") -%}
    {%- else -%}
        {%- do rendered.append(value | string) -%}
    {%- endif -%}
{%- endfor -%}
{{ rendered | join(", ") }}
{%- endmacro %}


{% macro regex_condition(column_name, regex, is_raw=false, flags="") -%}
{#- `column ~ 'regex'` (PostgreSQL advanced regular expression; a match anywhere in the value).
    Flags become an embedded option prefix, e.g. flags "i" gives `~ '(?i)regex'`. is_raw is accepted
    for dbt-expectations compatibility: PostgreSQL string literals are already raw (backslashes kept). -#}
{%- set allowed_flags = "bceimnpqstwx" -%}
{%- for flag in (flags or "") -%}
    {%- if flag not in allowed_flags -%}
        {{ exceptions.raise_compiler_error(
            "expectations: regex flag '" ~ flag ~ "' is not one of PostgreSQL's embedded options " ~ allowed_flags
        ) }}
    {%- endif -%}
{%- endfor -%}
{%- set pattern = ("(?" ~ flags ~ ")" if flags else "") ~ regex -%}
{{ column_name }} ~ '{{ pattern | replace("'", "''") }}'
{%- endmacro %}
