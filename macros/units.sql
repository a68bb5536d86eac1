{#- Unit conversions used by staging. Exact factors (NIST): 1 lb = 0.45359237 kg, 1 in = 2.54 cm. -#}

{% macro lb_to_kg(pounds) -%}
    ({{ pounds }}) * 0.45359237
{%- endmacro %}

{% macro in_to_cm(inches) -%}
    ({{ inches }}) * 2.54
{%- endmacro %}

{% macro fahrenheit_to_celsius(fahrenheit) -%}
    (({{ fahrenheit }}) - 32) * 5.0 / 9.0
{%- endmacro %}

{#- A measurement in its canonical unit: kg for mass, cm for length, Cel for temperature; other units
    pass through unchanged. `unit` is UCUM as the feeds write it. -#}
{% macro to_canonical_value(value, unit) -%}
    case {{ unit }}
        when '[lb_av]' then {{ lb_to_kg(value) }}
        when 'lb' then {{ lb_to_kg(value) }}
        when '[in_i]' then {{ in_to_cm(value) }}
        when 'in' then {{ in_to_cm(value) }}
        when '[degF]' then {{ fahrenheit_to_celsius(value) }}
        when 'degF' then {{ fahrenheit_to_celsius(value) }}
        else {{ value }}
    end
{%- endmacro %}

{% macro to_canonical_unit(unit) -%}
    case {{ unit }}
        when '[lb_av]' then 'kg'
        when 'lb' then 'kg'
        when '[in_i]' then 'cm'
        when 'in' then 'cm'
        when '[degF]' then 'Cel'
        when 'degF' then 'Cel'
        else {{ unit }}
    end
{%- endmacro %}
