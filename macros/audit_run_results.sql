{#- on-run-end: record every dbt invocation's results in `audit`, next to the loader's file metrics,
    so data-quality history (tests over time, row counts, freshness) is queryable with SQL and feeds
    `warehouse dq report`. One invocation row, one row per node result, one row per source
    freshness check. Tables are created on first use; writing never fails the build's own result. -#}

{% macro audit_sql_literal(value) -%}
    {%- if value is none -%}null{%- else -%}'{{ (value | string) | replace("'", "''") }}'{%- endif -%}
{%- endmacro %}

{% macro audit_create_tables() %}
    create table if not exists audit.dbt_invocations (
        invocation_id text primary key,
        command text,
        target_name text,
        selector text,
        dbt_version text,
        started_at timestamptz,
        finished_at timestamptz,
        node_count integer,
        error_count integer,
        warn_count integer
    );
    create table if not exists audit.dbt_node_results (
        invocation_id text not null,
        unique_id text not null,
        resource_type text,
        node_name text,
        schema_name text,
        attached_node text,
        column_name text,
        test_name text,
        severity text,
        status text,
        failures bigint,
        rows_affected bigint,
        execution_seconds double precision,
        completed_at timestamptz,
        message text,
        primary key (invocation_id, unique_id)
    );
    -- where a test's failing rows can be read (store_failures); added after the first release
    alter table audit.dbt_node_results add column if not exists failures_relation text;
    create table if not exists audit.dbt_source_freshness (
        invocation_id text not null,
        unique_id text not null,
        source_name text,
        table_name text,
        status text,
        max_loaded_at timestamptz,
        snapshotted_at timestamptz,
        age_seconds double precision,
        warn_after_hours double precision,
        error_after_hours double precision,
        primary key (invocation_id, unique_id)
    );
{% endmacro %}

{% macro audit_hours(threshold) -%}
    {%- if threshold and threshold.count and threshold.period -%}
        {{ threshold.count * {'minute': 1 / 60, 'hour': 1, 'day': 24}.get(threshold.period, 1) }}
    {%- else -%}null{%- endif -%}
{%- endmacro %}

{% macro audit_run_results(results) %}
    {% if execute %}
        {% do run_query(audit_create_tables()) %}
        {% set errors = results | selectattr('status', 'in', ['error', 'runtime error', 'fail']) | list %}
        {% set warns = results | selectattr('status', 'equalto', 'warn') | list %}
        {% set invocation %}
            insert into audit.dbt_invocations values (
                {{ audit_sql_literal(invocation_id) }},
                {{ audit_sql_literal(flags.WHICH) }},
                {{ audit_sql_literal(target.name) }},
                {{ audit_sql_literal((invocation_args_dict.get('select') or []) | join(' ')) }},
                {{ audit_sql_literal(dbt_version) }},
                {{ audit_sql_literal(run_started_at) }},
                now(),
                {{ results | length }},
                {{ errors | length }},
                {{ warns | length }}
            )
            on conflict (invocation_id) do nothing
        {% endset %}
        {% do run_query(invocation) %}
        {% set nodes = results | rejectattr('node.resource_type', 'equalto', 'source') | list %}
        {% for batch in nodes | batch(200) %}
            {% set rows %}
                insert into audit.dbt_node_results (
                    invocation_id, unique_id, resource_type, node_name, schema_name, attached_node, column_name,
                    test_name, severity, status, failures, rows_affected, execution_seconds, completed_at, message,
                    failures_relation
                ) values
                {% for result in batch %}
                    {%- set node = result.node -%}
                    {%- set completed = (result.timing | map(attribute='completed_at') | select | list) -%}
                    (
                        {{ audit_sql_literal(invocation_id) }},
                        {{ audit_sql_literal(node.unique_id) }},
                        {{ audit_sql_literal(node.resource_type) }},
                        {{ audit_sql_literal(node.name) }},
                        {{ audit_sql_literal(node.schema) }},
                        {{ audit_sql_literal(node.attached_node if node.resource_type == 'test' else none) }},
                        {{ audit_sql_literal(node.column_name if node.resource_type == 'test' else none) }},
                        {{ audit_sql_literal(node.test_metadata.name if node.resource_type == 'test' and node.test_metadata else none) }},
                        {{ audit_sql_literal(node.config.severity if node.resource_type == 'test' else none) }},
                        {{ audit_sql_literal(result.status) }},
                        {{ result.failures if result.failures is not none else 'null' }},
                        {%- set affected = (result.adapter_response or {}).get('rows_affected') %}
                        {{ affected if affected is not none and node.resource_type != 'test' else 'null' }},
                        {{ result.execution_time or 0 }},
                        {{ audit_sql_literal(completed | last if completed else none) }},
                        {{ audit_sql_literal((result.message or '')[:500]) }},
                        {{ audit_sql_literal(node.relation_name if node.resource_type == 'test' and node.config.store_failures else none) }}
                    ){% if not loop.last %},{% endif %}
                {% endfor %}
                on conflict (invocation_id, unique_id) do nothing
            {% endset %}
            {% do run_query(rows) %}
        {% endfor %}
        {% set sources = results | selectattr('node.resource_type', 'equalto', 'source') | list %}
        {% for batch in sources | batch(200) %}
            {% set rows %}
                insert into audit.dbt_source_freshness values
                {% for result in batch %}
                    {%- set node = result.node -%}
                    (
                        {{ audit_sql_literal(invocation_id) }},
                        {{ audit_sql_literal(node.unique_id) }},
                        {{ audit_sql_literal(node.source_name) }},
                        {{ audit_sql_literal(node.name) }},
                        {{ audit_sql_literal(result.status) }},
                        {{ audit_sql_literal(result.max_loaded_at) }},
                        {{ audit_sql_literal(result.snapshotted_at) }},
                        {{ result.age if result.age is not none else 'null' }},
                        {{ audit_hours(node.freshness.warn_after if node.freshness else none) }},
                        {{ audit_hours(node.freshness.error_after if node.freshness else none) }}
                    ){% if not loop.last %},{% endif %}
                {% endfor %}
                on conflict (invocation_id, unique_id) do nothing
            {% endset %}
            {% do run_query(rows) %}
        {% endfor %}
    {% endif %}
    select 1
{% endmacro %}
