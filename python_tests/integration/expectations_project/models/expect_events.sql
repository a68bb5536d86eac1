-- Timestamps relative to now, for expect_row_values_to_have_recent_data: a recent and an old event,
-- a stale feed whose only newer value lies in the future, and a date column.
select
    'recent' as feed,
    'new' as kind,
    now() - interval '2 hours' as event_at,
    current_date as event_date
union all
select
    'recent' as feed,
    'old' as kind,
    now() - interval '5 days' as event_at,
    current_date - 5 as event_date
union all
select
    'stale' as feed,
    'old' as kind,
    now() - interval '3 days' as event_at,
    current_date - 3 as event_date
union all
select
    'stale' as feed,
    'future' as kind,
    now() + interval '10 days' as event_at,
    current_date + 10 as event_date
