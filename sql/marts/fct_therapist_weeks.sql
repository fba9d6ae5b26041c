-- One row per therapist per location per ISO week (Monday start) with work:
-- weekly hands-on load against weekly_hands_on_hours_limit (settings).
-- reads: fct_therapist_days, settings

create or replace table fct_therapist_weeks as

with

therapist_days as (
    select * from fct_therapist_days
    --incremental: semi join scope_week_days using (location_id, date)
),

settings as (
    select * from settings
),

weeks as (
    select
        location_id,
        therapist_id,
        cast(date_trunc('week', date) as date) as week_start,
        sum(scheduled_minutes) as scheduled_minutes,
        sum(booked_minutes) as booked_minutes,
        sum(sessions) as sessions,
        sum(hands_on_minutes) as hands_on_minutes,
        sum(bar_sessions) as bar_sessions,
        sum(back_to_back_pairs) as back_to_back_pairs,
        count(*) filter (where over_bar_limit) as over_bar_limit_days,
        count(*) filter (where over_hands_on_limit) as over_hands_on_limit_days,
        count(*) filter (where sessions > 0) as days_worked,
    from therapist_days
    group by location_id, therapist_id, date_trunc('week', date)
),

final as (
    select
        -- ids
        weeks.location_id,
        weeks.therapist_id,
        weeks.week_start,

        -- time
        cast(weeks.scheduled_minutes as integer) as scheduled_minutes,
        cast(weeks.booked_minutes as integer) as booked_minutes,
        weeks.booked_minutes / nullif(weeks.scheduled_minutes, 0) as utilization,

        -- work
        cast(weeks.days_worked as integer) as days_worked,
        cast(weeks.sessions as integer) as sessions,
        cast(weeks.hands_on_minutes as integer) as hands_on_minutes,
        weeks.hands_on_minutes / 60 as hands_on_hours,
        cast(weeks.bar_sessions as integer) as bar_sessions,
        cast(weeks.back_to_back_pairs as integer) as back_to_back_pairs,

        -- safety flags
        weeks.hands_on_minutes > settings.weekly_hands_on_hours_limit * 60
            as over_weekly_limit,
        cast(weeks.over_bar_limit_days as integer) as over_bar_limit_days,
        cast(weeks.over_hands_on_limit_days as integer)
            as over_hands_on_limit_days,
    from weeks
    cross join settings
)

select * from final
