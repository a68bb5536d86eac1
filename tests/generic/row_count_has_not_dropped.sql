{% test row_count_has_not_dropped(model, max_drop_fraction=0.5) %}
{#- Fails when the model now holds fewer than (1 - max_drop_fraction) times the rows it held after
    the last build recorded in audit.dbt_node_results (the on-run-end hook writes it): a large drop
    against the previous run usually means a partial load, not a real change. For table models,
    whose rows_affected is their row count. Passes when there is no history yet. -#}
    {%- set history = adapter.get_relation(database=target.database, schema='audit', identifier='dbt_node_results') -%}
    {%- if history is none %}
    select 1 as no_history where false
{%- else %}
    with

    current_count as (

        select count(*) as row_count from {{ model }}

    ),

    previous as (

        select results.rows_affected as row_count
        from {{ history }} as results
        inner join audit.dbt_invocations as invocations
            on results.invocation_id = invocations.invocation_id
        where
            results.node_name = '{{ model.identifier }}'
            and results.resource_type = 'model'
            and results.status = 'success'
            and results.rows_affected is not null
            and results.invocation_id <> '{{ invocation_id }}'
        order by invocations.started_at desc
        limit 1

    )

    select
        previous.row_count as previous_row_count,
        current_count.row_count as current_row_count
    from current_count
    cross join previous
    where current_count.row_count < previous.row_count * (1 - {{ max_drop_fraction }})
{%- endif %}
{% endtest %}
