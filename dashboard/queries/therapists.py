"""The Therapists page's queries: summary, weeks, safety flags (read from the marts), hints."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from dashboard.queries import periods
from dashboard.queries.snapshot import Locations, query, scope


def therapist_summary(locations: Locations, start: dt.date, end: dt.date) -> pd.DataFrame:
    """Per therapist and location: utilization, hands-on hours, bar sessions, flags."""
    return query(
        """
        select
            l.display_name as location_name,
            coalesce(t.therapist_name, d.therapist_id) as therapist,
            case when ? then therapist || ' (' || location_name || ')' else therapist end
                as therapist_label,
            -- no shift export or profile says: unknown, never "no"
            case
                when bool_or(t.bar_trained) then 'yes'
                when not bool_or(t.bar_trained) then 'no'
                else 'unknown'
            end as bar_trained,
            count(*) filter (where d.scheduled_minutes > 0) as shift_days,
            sum(d.scheduled_minutes) / 60.0 as scheduled_hours,
            sum(d.booked_minutes) / 60.0 as booked_hours,
            sum(d.booked_minutes) / nullif(sum(d.scheduled_minutes), 0) as utilization,
            sum(d.sessions) as sessions,
            sum(d.hands_on_minutes) / 60.0 as hands_on_hours,
            sum(d.bar_sessions) as bar_sessions,
            max(d.bar_sessions) as most_bar_sessions_in_a_day,
            sum(d.back_to_back_pairs) as back_to_back_pairs,
            count(*) filter (where d.over_bar_limit) as days_over_bar_limit,
            count(*) filter (where d.over_hands_on_limit) as days_over_hands_on_limit,
            sum(d.outside_shift_minutes) / 60.0 as hours_booked_outside_shift
        from fct_therapist_days as d
        left join dim_therapists as t
            on t.location_id = d.location_id and t.therapist_id = d.therapist_id
        left join dim_locations as l on l.location_id = d.location_id
        where list_contains(?, d.location_id) and d."date" between ? and ?
        group by all
        order by location_name, utilization desc nulls last, therapist
        """,
        len(set(locations)) > 1,
        scope(locations),
        start,
        end,
    )


def therapist_weeks(locations: Locations, start: dt.date, end: dt.date) -> pd.DataFrame:
    """Per therapist and week: hands-on hours and the most bar sessions on one day, and how
    many of the week's days the dates and the data cover (periods.mark_coverage)."""
    frame = query(
        f"""
        with {periods.BOUNDS_CTE}
        select
            date_trunc('week', d."date")::date as week,
            case when ?
                then coalesce(t.therapist_name, d.therapist_id)
                    || ' (' || l.display_name || ')'
                else coalesce(t.therapist_name, d.therapist_id)
            end as therapist,
            sum(d.hands_on_minutes) / 60.0 as hands_on_hours,
            max(d.bar_sessions) as most_bar_sessions_in_a_day,
            sum(d.back_to_back_pairs) as back_to_back_pairs,
            {periods.DATA_BOUNDS}
        from fct_therapist_days as d
        join bounds as b on b.location_id = d.location_id
        left join dim_therapists as t
            on t.location_id = d.location_id and t.therapist_id = d.therapist_id
        left join dim_locations as l on l.location_id = d.location_id
        where list_contains(?, d.location_id) and d."date" between ? and ?
        group by all
        order by therapist, week
        """,
        scope(locations),
        len(set(locations)) > 1,
        scope(locations),
        start,
        end,
    )
    return periods.mark_coverage(frame, "week", start, end, period="week")


def therapist_flags(locations: Locations, start: dt.date, end: dt.date) -> pd.DataFrame:
    """Days over the bar or hands-on limit, and weeks over the weekly hands-on limit.

    The flags are the marts' (fct_therapist_days.over_*_limit, fct_therapist_weeks.
    over_weekly_limit): one definition of each safety rule. A week is shown when any of its
    days is in the selection, with the whole week's totals, as the mart counts it."""
    return query(
        """
        with days as (
            select
                d."date" as day_or_week_start,
                d.location_id,
                d.therapist_id,
                'day' as period,
                d.bar_sessions,
                d.hands_on_minutes / 60.0 as hands_on_hours,
                d.back_to_back_pairs,
                concat_ws(', ',
                    case when d.over_bar_limit then 'too many bar sessions' end,
                    case when d.over_hands_on_limit then 'too many hands-on hours' end
                ) as flag
            from fct_therapist_days as d
            where list_contains(?, d.location_id) and d."date" between ? and ?
                and (d.over_bar_limit or d.over_hands_on_limit)
        ),
        weeks as (
            select
                w.week_start as day_or_week_start,
                w.location_id,
                w.therapist_id,
                'week' as period,
                w.bar_sessions,
                w.hands_on_hours,
                w.back_to_back_pairs,
                'over the weekly hands-on limit' as flag
            from fct_therapist_weeks as w
            where list_contains(?, w.location_id)
                and w.week_start between date_trunc('week', ?::date) and ?
                and w.over_weekly_limit
        ),
        flagged as (select * from days union all select * from weeks)
        select
            f.day_or_week_start,
            f.period,
            l.display_name as location_name,
            coalesce(t.therapist_name, f.therapist_id) as therapist,
            f.flag,
            f.bar_sessions,
            f.hands_on_hours,
            f.back_to_back_pairs
        from flagged as f
        left join dim_therapists as t
            on t.location_id = f.location_id and t.therapist_id = f.therapist_id
        left join dim_locations as l on l.location_id = f.location_id
        order by f.day_or_week_start desc, location_name, therapist
        """,
        scope(locations),
        start,
        end,
        scope(locations),
        start,
        end,
    )


def rebalancing_hints(
    locations: Locations, start: dt.date, end: dt.date, min_slack_minutes: int = 60
) -> pd.DataFrame:
    """For each therapist-day over a limit: colleagues on shift that day with slack and training.

    A colleague qualifies when they work at the same location the same day, have at least
    `min_slack_minutes` of unbooked shift time, and are bar-trained when the overload is bar work.
    """
    return query(
        """
        with days as (
            select
                d.*,
                coalesce(t.therapist_name, d.therapist_id) as therapist,
                t.bar_trained  -- NULL: unknown
            from fct_therapist_days as d
            left join dim_therapists as t
                on t.location_id = d.location_id and t.therapist_id = d.therapist_id
            where list_contains(?, d.location_id) and d."date" between ? and ?
        ),
        over as (
            select * from days where over_bar_limit or over_hands_on_limit
        ),
        helpers as (
            select
                o.location_id,
                o."date",
                o.therapist_id,
                string_agg(
                    h.therapist || ' (' || round(
                        (h.scheduled_minutes - coalesce(h.booked_minutes, 0)) / 60.0, 1
                    ) || ' h free'
                    || case when o.over_bar_limit and h.bar_trained is null
                        then ', bar training unknown' else '' end
                    || ')',
                    ', ' order by h.scheduled_minutes - coalesce(h.booked_minutes, 0) desc
                ) as could_take_over
            from over as o
            join days as h
                on h.location_id = o.location_id
                and h."date" = o."date"
                and h.therapist_id <> o.therapist_id
                and h.scheduled_minutes - coalesce(h.booked_minutes, 0) >= ?
                and not h.over_bar_limit
                and not h.over_hands_on_limit
                and (h.bar_trained is not false or not o.over_bar_limit)
            group by all
        ),
        staffed_days as (
            select location_id, "date" from days group by all having sum(scheduled_minutes) > 0
        )
        select
            o."date",
            l.display_name as location_name,
            o.therapist as over_limit,
            concat_ws(', ',
                case when o.over_bar_limit then o.bar_sessions || ' bar sessions' end,
                case when o.over_hands_on_limit
                    then round(o.hands_on_minutes / 60.0, 1) || ' h hands-on' end
            ) as load,
            coalesce(
                h.could_take_over,
                case when s."date" is null then 'no shifts known for this day'
                    else 'nobody free with the right training' end
            ) as could_take_over
        from over as o
        left join staffed_days as s on s.location_id = o.location_id and s."date" = o."date"
        left join helpers as h
            on h.location_id = o.location_id
            and h."date" = o."date"
            and h.therapist_id = o.therapist_id
        left join dim_locations as l on l.location_id = o.location_id
        order by o."date" desc, location_name, over_limit
        """,
        scope(locations),
        start,
        end,
        min_slack_minutes,
    )
