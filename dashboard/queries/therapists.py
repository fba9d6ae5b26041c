"""The Therapists page's queries: summary, weeks, safety flags (read from the marts), hints."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from dashboard.queries import periods, snapshot
from dashboard.queries.snapshot import Locations, query, scope
from pipelines.settings import Settings


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
                -- a date, not a timestamp: no cast of every week_start
                and w.week_start between date_trunc('week', ?::date)::date and ?
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


def limit_words(kind: str, value: float, settings: Settings) -> str:
    """A limit broken, in plain words: "6 bar sessions (limit 5)", "7.5 h hands-on (limit 6 h)",
    "26.5 h this week (limit 25 h)", "3 back-to-back pairs (turnover 15 min)". `value` is the
    count, or minutes for hands-on and the week."""

    def hours(minutes: float) -> str:
        return f"{round(minutes / 60, 1):g}"

    if kind == "bar_sessions":
        return f"{value:g} bar sessions (limit {settings.max_bar_sessions_per_day})"
    if kind == "hands_on":
        limit = hours(settings.max_hands_on_minutes_per_day)
        return f"{hours(value)} h hands-on (limit {limit} h)"
    if kind == "weekly":
        return f"{hours(value)} h this week (limit {settings.weekly_hands_on_hours_limit} h)"
    pairs = "pair" if value == 1 else "pairs"
    return f"{value:g} back-to-back {pairs} (turnover {settings.turnover_minutes} min)"


# who could take it next to the session, so it is in view at 1280 px; the limit broken last
HINT_COLUMNS = [
    "date",
    "location_name",
    "therapist",
    "time",
    "could_take_over",
    "service",
    "room",
    "over_limit",
]


def rebalancing_hints(
    locations: Locations,
    start: dt.date,
    end: dt.date,
    movable_from: dt.date | None = None,
) -> pd.DataFrame:
    """The sessions to move off each therapist over a limit, and who could take each one.

    Sessions to move: for a day over the bar limit, its latest bar sessions beyond the limit; for
    a day over the hands-on limit, its latest sessions until the day is under; for a Monday-Sunday
    week over the weekly limit (any of its days in start..end), the week's latest sessions until
    it is under. Sessions before `movable_from` (already held) are left out.

    A colleague is named only when all hold: the same location; a shift covering the session's
    whole time; no booking of theirs during it, nor within the turnover before or after it (taking
    it would make a back-to-back pair); bar-trained (known yes) for a bar session; not over any
    limit that day or week; and after taking it still within every limit (bar sessions + 1, hands-on
    minutes + the session's, the week's minutes + the session's). A bar session also needs a bar
    room free for its time: its own room when that has bars, else a bar room open then with no
    held booking overlapping it. Each session is judged alone (a colleague named for two sessions
    may not have room for both).

    Columns: HINT_COLUMNS (could_take_over: names with their week's hands-on hours, fewest first,
    or why nobody can) plus location_id, therapist_id, kinds (the limits broken, comma-separated)
    and start_at.
    """
    settings = snapshot.settings_in_force()
    frame = query(
        """
        with
        limits as (select * from settings),
        over_days as (
            select location_id, therapist_id, "date", bar_sessions, hands_on_minutes,
                over_bar_limit, over_hands_on_limit
            from fct_therapist_days
            where list_contains(?, location_id) and "date" between ? and ?
                and (over_bar_limit or over_hands_on_limit)
        ),
        over_weeks as (
            select location_id, therapist_id, week_start, hands_on_minutes
            from fct_therapist_weeks
            where list_contains(?, location_id)
                -- a date, not a timestamp: compared with a date column, it skips row groups
                and week_start between date_trunc('week', ?::date)::date and ?
                and over_weekly_limit
        ),
        -- the weeks of each therapist with a day or the week over a limit: only their
        -- sessions can be moved
        over_any as (
            select location_id, therapist_id, date_trunc('week', "date")::date as week_start
            from over_days
            union
            select location_id, therapist_id, week_start from over_weeks
        ),
        worked as (
            select b.location_id, b.therapist_id, b.booking_date, b.source, b.booking_id,
                b.start_at, b.end_at, b.minutes, b.uses_bars, b.room_id, b.service
            from fct_bookings as b
            semi join over_any as o
                on o.location_id = b.location_id and o.therapist_id = b.therapist_id
                and o.week_start = date_trunc('week', b.booking_date)::date
            where b.is_worked and list_contains(?, b.location_id)
                -- dates, not timestamps: a date column compared with a date skips row groups
                and b.booking_date between date_trunc('week', ?::date)::date
                    and (date_trunc('week', ?::date) + interval 6 day)::date
        ),
        -- held bookings that can overlap a session to move, or come within the turnover of
        -- one: those ending after the first week's start and starting before the last session's
        -- end, each less or plus the turnover, so DuckDB skips the row groups (stored in date
        -- order) outside them
        held as (
            select location_id, room_id, therapist_id, source, booking_id, start_at, end_at
            from fct_bookings
            where is_held and list_contains(?, location_id)
                and end_at > date_trunc('week', ?::date) - to_minutes(?)
                and start_at < (select max(end_at) from worked) + to_minutes(?)
        ),
        -- the day's latest bar sessions beyond the limit
        bar_moves as (
            select w.*, 'bar_sessions' as kind, o.bar_sessions as value
            from over_days as o
            join worked as w
                on w.location_id = o.location_id and w.therapist_id = o.therapist_id
                and w.booking_date = o."date" and w.uses_bars
            cross join limits
            where o.over_bar_limit
            qualify row_number() over (
                partition by o.location_id, o.therapist_id, o."date"
                order by w.start_at desc, w.booking_id desc
            ) <= o.bar_sessions - limits.max_bar_sessions_per_day
        ),
        -- the day's latest sessions while what is left is still over the limit
        hands_on_moves as (
            select * exclude (later_minutes, limit_minutes) from (
                select w.*, 'hands_on' as kind, o.hands_on_minutes as value,
                    coalesce(sum(w.minutes) over (
                        partition by o.location_id, o.therapist_id, o."date"
                        order by w.start_at desc, w.booking_id desc
                        rows between unbounded preceding and 1 preceding
                    ), 0) as later_minutes,
                    limits.max_hands_on_minutes_per_day as limit_minutes
                from over_days as o
                join worked as w
                    on w.location_id = o.location_id and w.therapist_id = o.therapist_id
                    and w.booking_date = o."date"
                cross join limits
                where o.over_hands_on_limit
            )
            where value - later_minutes > limit_minutes
        ),
        -- the week's latest sessions while what is left is still over the weekly limit
        weekly_moves as (
            select * exclude (later_minutes, limit_minutes) from (
                select w.*, 'weekly' as kind, o.hands_on_minutes as value,
                    coalesce(sum(w.minutes) over (
                        partition by o.location_id, o.therapist_id, o.week_start
                        order by w.start_at desc, w.booking_id desc
                        rows between unbounded preceding and 1 preceding
                    ), 0) as later_minutes,
                    limits.weekly_hands_on_hours_limit * 60 as limit_minutes
                from over_weeks as o
                join worked as w
                    on w.location_id = o.location_id and w.therapist_id = o.therapist_id
                    and date_trunc('week', w.booking_date) = o.week_start
                cross join limits
            )
            where value - later_minutes > limit_minutes
        ),
        all_moves as (
            select * from bar_moves
            union all select * from hands_on_moves
            union all select * from weekly_moves
        ),
        moves as (
            select
                location_id, therapist_id, booking_date, source, booking_id, start_at, end_at,
                minutes, uses_bars, room_id, service,
                string_agg(kind, ',' order by kind) as kinds,
                -- each limit's figure (a session is moved for each limit at most once)
                max(value) filter (where kind = 'bar_sessions') as bar_sessions_value,
                max(value) filter (where kind = 'hands_on') as hands_on_value,
                max(value) filter (where kind = 'weekly') as weekly_value
            from all_moves
            where ?::date is null or booking_date >= ?::date
            group by all
        ),
        -- the room days of the sessions to move (their weeks)
        room_days as (
            select location_id, room_id, "date", room_name, has_bars, opens_at, closes_at
            from fct_room_days
            where list_contains(?, location_id)
                and "date" between date_trunc('week', ?::date)::date
                    and (date_trunc('week', ?::date) + interval 6 day)::date
        ),
        -- held bookings at a session's location within the turnover around it: the only ones
        -- that can keep a colleague (all of them) or a bar room (those overlapping the session,
        -- itself left out) from taking it; found once, then matched by key
        near as (
            select
                m.source as move_source, m.booking_id as move_id, b.therapist_id, b.room_id,
                b.start_at < m.end_at and b.end_at > m.start_at
                    and not (b.source = m.source and b.booking_id = m.booking_id) as overlapping
            from moves as m
            cross join limits
            join held as b
                on b.location_id = m.location_id
                and b.start_at < m.end_at + to_minutes(limits.turnover_minutes)
                and b.end_at > m.start_at - to_minutes(limits.turnover_minutes)
        ),
        room_taken as (select distinct move_source, move_id, room_id from near where overlapping),
        -- a bar room open for the session's whole time with nothing held in it then
        bar_room_free as (
            select distinct m.source, m.booking_id
            from moves as m
            join room_days as r
                on r.location_id = m.location_id and r."date" = m.booking_date and r.has_bars
                and r.opens_at <= m.start_at::time and r.closes_at >= m.end_at::time
            anti join room_taken as t
                on t.move_source = m.source and t.move_id = m.booking_id and t.room_id = r.room_id
        ),
        -- a bar session needs a bar room for its time: its own, else a free one
        rooms_free as (
            select
                m.source, m.booking_id,
                not m.uses_bars
                or coalesce(own.has_bars, false)
                or free.booking_id is not null as room_free
            from moves as m
            left join room_days as own
                on own.location_id = m.location_id and own.room_id = m.room_id
                and own."date" = m.booking_date
            left join bar_room_free as free
                on free.source = m.source and free.booking_id = m.booking_id
        ),
        -- shifts that can cover a session to move (it starts on their day or the next)
        -- no location filter here: on_shift joins them to the sessions to move, which are the
        -- viewer's locations only; a filter on the list ran on every shift row of the staging
        -- view (not pruned by date) before the dates did
        shifts as (
            select location_id, therapist_id, "date", shift_start_at, shift_end_at
            from stg_exports__therapist_shifts
            where "date" between (date_trunc('week', ?::date) - interval 1 day)::date
                and (date_trunc('week', ?::date) + interval 6 day)::date
        ),
        -- colleagues on shift for the session's whole time
        on_shift as (
            select distinct m.source, m.booking_id, s.therapist_id as helper_id
            from moves as m
            join shifts as s
                on s.location_id = m.location_id and s.therapist_id <> m.therapist_id
                and s."date" between m.booking_date - 1 and m.booking_date
                and s.shift_start_at <= m.start_at and s.shift_end_at >= m.end_at
        ),
        judged as (
            select
                m.source, m.booking_id,
                coalesce(t.therapist_name, c.helper_id) as helper,
                coalesce(wk.hands_on_minutes, 0) as week_minutes,
                t.bar_trained,
                -- free: nothing of theirs during it, nor within the turnover around it
                busy.therapist_id is null
                -- within every limit now, and after taking the session
                and not coalesce(d.over_bar_limit, false)
                and not coalesce(d.over_hands_on_limit, false)
                and not coalesce(wk.over_weekly_limit, false)
                and (not m.uses_bars
                    or coalesce(d.bar_sessions, 0) + 1 <= limits.max_bar_sessions_per_day)
                and coalesce(d.hands_on_minutes, 0) + m.minutes
                    <= limits.max_hands_on_minutes_per_day
                and coalesce(wk.hands_on_minutes, 0) + m.minutes
                    <= limits.weekly_hands_on_hours_limit * 60
                    as free_and_within
            from moves as m
            join on_shift as c on c.source = m.source and c.booking_id = m.booking_id
            cross join limits
            left join (select distinct move_source, move_id, therapist_id from near) as busy
                on busy.move_source = m.source and busy.move_id = m.booking_id
                and busy.therapist_id = c.helper_id
            left join dim_therapists as t
                on t.location_id = m.location_id and t.therapist_id = c.helper_id
            -- the sessions' weeks named in constants too, so only those days and weeks are
            -- joined, not every colleague's whole history
            left join fct_therapist_days as d
                on d.location_id = m.location_id and d.therapist_id = c.helper_id
                and d."date" = m.booking_date
                and d."date" between date_trunc('week', ?::date)::date
                    and (date_trunc('week', ?::date) + interval 6 day)::date
            left join fct_therapist_weeks as wk
                on wk.location_id = m.location_id and wk.therapist_id = c.helper_id
                and wk.week_start = date_trunc('week', m.booking_date)
                and wk.week_start between date_trunc('week', ?::date)::date and ?
        ),
        named as (
            select
                j.source, j.booking_id,
                count(*) as on_shift,
                string_agg(
                    j.helper || ' (' || printf('%g', round(j.week_minutes / 60, 1))
                        || ' h this week)',
                    ', ' order by j.week_minutes, j.helper
                ) filter (where j.free_and_within and (not m.uses_bars or j.bar_trained))
                    as names,
                string_agg(j.helper, ', ' order by j.helper) filter (
                    where j.free_and_within and m.uses_bars and j.bar_trained is null
                ) as training_unknown
            from judged as j
            join moves as m on m.source = j.source and m.booking_id = j.booking_id
            group by all
        )
        select
            m.booking_date as "date",
            l.display_name as location_name,
            coalesce(t.therapist_name, m.therapist_id) as therapist,
            strftime(m.start_at, '%H:%M') || '–' || strftime(m.end_at, '%H:%M') as "time",
            m.service,
            coalesce(rd.room_name, m.room_id) as room,
            case
                when n.on_shift is null then 'no colleague on shift for the whole session'
                when not f.room_free and (n.names is not null or n.training_unknown is not null)
                    then 'no bar room free then'
                when n.names is not null then n.names
                    || coalesce('; bar training unknown for ' || n.training_unknown, '')
                when n.training_unknown is not null
                    then 'bar training unknown for ' || n.training_unknown
                else 'no colleague free then and within every limit'
            end as could_take_over,
            m.location_id,
            m.therapist_id,
            m.kinds,
            m.bar_sessions_value,
            m.hands_on_value,
            m.weekly_value,
            m.start_at
        from moves as m
        join rooms_free as f on f.source = m.source and f.booking_id = m.booking_id
        left join named as n on n.source = m.source and n.booking_id = m.booking_id
        left join dim_therapists as t
            on t.location_id = m.location_id and t.therapist_id = m.therapist_id
        left join dim_locations as l on l.location_id = m.location_id
        left join room_days as rd
            on rd.location_id = m.location_id and rd.room_id = m.room_id
            and rd."date" = m.booking_date
        order by m.booking_date desc, location_name, therapist, m.start_at
        """,
        scope(locations),
        start,
        end,
        scope(locations),
        start,
        end,
        scope(locations),
        start,
        end,
        scope(locations),
        start,
        settings.turnover_minutes,
        settings.turnover_minutes,
        movable_from,
        movable_from,
        scope(locations),
        start,
        end,
        start,
        end,
        start,
        end,
        start,
        end,
    )
    frame = frame.copy()
    frame["date"] = pd.to_datetime(frame["date"]).dt.date
    # each limit's figures put in words once per distinct figure, then joined in kind order
    words = []
    for kind in ("bar_sessions", "hands_on", "weekly"):
        values = frame[f"{kind}_value"]
        said = {
            value: limit_words(kind, float(value), settings) for value in values.dropna().unique()
        }
        words.append(values.map(said))
    frame["over_limit"] = [
        "; ".join(said for said in row if isinstance(said, str)) for row in zip(*words, strict=True)
    ]
    extra = ["location_id", "therapist_id", "kinds", "start_at"]
    return frame[HINT_COLUMNS + extra].reset_index(drop=True)
