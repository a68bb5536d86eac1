{#
    Latest wins, as an anti-join: a row is kept unless another row with the same key is newer.

    The same rows as `distinct on (key) ... order by key, <newest_first> desc`, but without
    sorting the whole table, and a filter that a caller puts on the staging view (an incremental
    model's `_ingested_at` high-water mark) reaches the raw table's scan: the planner flattens
    this into the caller's query and probes the raw table's unique (business key, client) index
    for the few rows that pass. A `distinct on` view is computed whole before any filter applies.

    `relation` must be a CTE declared `as not materialized`: it is read twice, and PostgreSQL
    would otherwise materialise it, losing both the filter push-down and the index.
    Newer means greater in `newest_first`, compared column by column; a null ranks oldest.
#}
{% macro latest_per_key(relation, key_columns, newest_first) %}
    select candidate.*
    from {{ relation }} as candidate
    where not exists (
        select 1
        from {{ relation }} as newer
        where
            {% for column in key_columns -%}
                newer.{{ column }} = candidate.{{ column }}
                and
            {% endfor -%}
            (
                {%- for column in newest_first %}
                    {{ "or " if not loop.first }}(
                        {%- for earlier in newest_first[:loop.index0] %}
                            newer.{{ earlier }} is not distinct from candidate.{{ earlier }} and
                        {%- endfor %}
                        newer.{{ column }} is not null
                        and (candidate.{{ column }} is null or newer.{{ column }} > candidate.{{ column }})
                    )
                {%- endfor %}
            )
    )
{% endmacro %}
