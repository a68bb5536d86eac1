{#- The lower bound an incremental run re-reads from: the newest `column` already in this model
    minus var('lookback_hours'), so rows that arrive late within that window are still picked up.
    -infinity (recompute everything) when the model is empty, or when it was built before `column`
    existed (on_schema_change adds the column only after this query has run). -#}
{% macro lookback_floor(column) -%}
    {%- if has_columns([column]) -%}
        (
            (select coalesce(max(existing.{{ column }}), '-infinity'::timestamptz) from {{ this }} as existing)
            - interval '{{ var("lookback_hours") }} hours'
        )
    {%- else -%}
        '-infinity'::timestamptz
    {%- endif -%}
{%- endmacro %}
