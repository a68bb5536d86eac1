{#- Body-mass index in kg/m2 from weight in kg and height in cm.
    Null when either is missing or implausible: height outside 30-272 cm (272 cm is the tallest
    person recorded) or weight outside 0.5-650 kg; zero height is therefore null, never a division
    by zero. -#}
{% macro bmi(weight_kg, height_cm) -%}
    case
        when {{ height_cm }} between 30 and 272 and {{ weight_kg }} between 0.5 and 650
            then ({{ weight_kg }})::numeric / power(({{ height_cm }})::numeric / 100, 2)
    end
{%- endmacro %}

{#- WHO adult BMI categories (kg/m2): underweight < 18.5, normal 18.5-24.9, overweight 25-29.9,
    obese class I 30-34.9, class II 35-39.9, class III >= 40. Null BMI gives null. -#}
{% macro bmi_category(bmi) -%}
    case
        when {{ bmi }} is null then null
        when {{ bmi }} < 18.5 then 'underweight'
        when {{ bmi }} < 25 then 'normal'
        when {{ bmi }} < 30 then 'overweight'
        when {{ bmi }} < 35 then 'obese class I'
        when {{ bmi }} < 40 then 'obese class II'
        else 'obese class III'
    end
{%- endmacro %}
