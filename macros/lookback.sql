{#- The lower bound an incremental run re-reads from: the newest `column` already in this model
    minus var('lookback_hours'), so rows that arrive late, or are committed out of order by a
    concurrent load, within that window are still picked up. -infinity when the model is empty. -#}
{% macro lookback_floor(column) -%}
    (
        (select coalesce(max(existing.{{ column }}), '-infinity'::timestamptz) from {{ this }} as existing)
        - interval '{{ var("lookback_hours") }} hours'
    )
{%- endmacro %}
