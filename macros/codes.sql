{#- Administrative gender as FHIR codes it (male, female, other, unknown), from the spellings the
    feeds use; anything unrecognised is `unknown` rather than null so counts stay complete. -#}
{% macro normalise_gender(value) -%}
    case upper(trim({{ value }}))
        when 'M' then 'male'
        when 'MALE' then 'male'
        when 'F' then 'female'
        when 'FEMALE' then 'female'
        when 'O' then 'other'
        when 'OTHER' then 'other'
        else 'unknown'
    end
{%- endmacro %}
