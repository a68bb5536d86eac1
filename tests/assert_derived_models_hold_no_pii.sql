-- Derived models are what analysts read: none may carry a PII class. Fails with one row per
-- offence, from three angles:
--   1. a derived model whose meta does not say contains_pii: false;
--   2. a documented column of a derived model whose meta.pii_class is anything but none;
--   3. a column in the derived schema of the database whose name is a column that carries a PII
--      class in any source, model or snapshot (an identifier token, a ZIP prefix, free text), or
--      ends in _token, whether documented or not.
{%- set offences = [] -%}
{%- set pii_names = [] -%}
{%- if execute -%}
    {%- for source in graph.sources.values() -%}
        {%- for column in source.columns.values() -%}
            {%- if column.meta.get('pii_class', 'none') != 'none' -%}
                {%- do pii_names.append(column.name) -%}
            {%- endif -%}
        {%- endfor -%}
    {%- endfor -%}
    {%- for node in graph.nodes.values() if node.resource_type in ('model', 'snapshot') -%}
        {%- for column in node.columns.values() -%}
            {%- if column.meta.get('pii_class', 'none') != 'none' -%}
                {%- do pii_names.append(column.name) -%}
            {%- endif -%}
        {%- endfor -%}
    {%- endfor -%}
    {%- for node in graph.nodes.values()
        if node.resource_type == 'model' and node.package_name == project_name
        and node.config.meta.get('layer') == 'derived' -%}
        {%- if node.config.meta.get('contains_pii') != false -%}
            {%- do offences.append((node.name, '', 'model meta contains_pii is not false')) -%}
        {%- endif -%}
        {%- for column in node.columns.values() -%}
            {%- if column.meta.get('pii_class', 'none') != 'none' -%}
                {%- do offences.append((node.name, column.name, 'pii_class ' ~ column.meta.get('pii_class'))) -%}
            {%- endif -%}
        {%- endfor -%}
    {%- endfor -%}
{%- endif %}

with

declared as (

    select
        null::text as model_name,
        null::text as column_name,
        null::text as offence
    where false
    {%- for model_name, column_name, offence in offences %}
        union all
        select
            '{{ model_name }}' as model_name,
            '{{ column_name }}' as column_name,
            '{{ offence }}' as offence
    {%- endfor %}

),

in_database as (

    -- pg_catalog, not information_schema: it lists columns of tables this role cannot read too
    select
        relations.relname::text as model_name,
        attributes.attname::text as column_name,
        'column name carries PII elsewhere in the warehouse' as offence
    from pg_catalog.pg_attribute as attributes
    inner join pg_catalog.pg_class as relations
        on attributes.attrelid = relations.oid
    inner join pg_catalog.pg_namespace as namespaces
        on relations.relnamespace = namespaces.oid
    where
        namespaces.nspname = 'derived'
        and relations.relkind in ('r', 'v', 'm', 'p')
        and attributes.attnum > 0
        and not attributes.attisdropped
        and (
            attributes.attname like '%\_token'
            {%- for name in pii_names | unique %}
                or attributes.attname = '{{ name }}'
            {%- endfor %}
        )

)

select * from declared
union all
select * from in_database
