{{ config(severity='warn', tags=['plausibility']) }}

-- OHDSI DQD plausibleValueLow / plausibleValueHigh: a measurement outside the physiologically
-- plausible range of its LOINC code (seeds/observation_concepts.csv), in the canonical unit.
with

observations as (

    select * from {{ ref('observation') }}
    where value_numeric is not null

),

concepts as (

    select * from {{ ref('observation_concepts') }}

)

select
    observations.observation_key,
    observations.feed,
    observations.client_id,
    observations.loinc_code,
    observations.value_numeric,
    observations.unit,
    concepts.plausible_low,
    concepts.plausible_high,
    observations._record_id
from observations
inner join concepts
    on observations.loinc_code = concepts.loinc_code
where
    observations.value_numeric < concepts.plausible_low
    or observations.value_numeric > concepts.plausible_high
