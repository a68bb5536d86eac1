{% test expect_row_values_to_have_recent_data(model, column_name, datepart, interval, row_condition=none) %}
{#- Fails with one row when the newest value of column_name (a date or timestamp; future values and
    rows not meeting row_condition left out) is older than now() - interval datepart(s), or when there
    is no such value at all. -#}
{%- set dateparts = ["microsecond", "millisecond", "second", "minute", "hour", "day", "week", "month", "year"] -%}
{%- if (datepart | string | lower) not in dateparts -%}
    {{ exceptions.raise_compiler_error(
        "expectations: datepart must be one of " ~ dateparts | join(", ") ~ ", got " ~ datepart
    ) }}
{%- endif -%}
{%- if interval is not number or interval is boolean or interval < 0 -%}
    {{ exceptions.raise_compiler_error("expectations: interval must be a number >= 0, got " ~ interval) }}
{%- endif -%}
{%- set since = "now() - interval '" ~ interval ~ " " ~ (datepart | lower) ~ "'" -%}
with latest as (
    select max(cast({{ column_name }} as timestamptz)) as latest_value
    from {{ model }}
    where
        cast({{ column_name }} as timestamptz) <= now()
        {%- if row_condition %}
            and ({{ row_condition }})
        {%- endif %}
)

select
    latest_value,
    {{ since }} as expected_since
from latest
where latest_value is null or latest_value < {{ since }}
{% endtest %}
