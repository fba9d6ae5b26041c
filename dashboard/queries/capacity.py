"""The Capacity page's queries: utilization trend, hourly heatmap, room use, bottlenecks."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from dashboard.queries import periods
from dashboard.queries.snapshot import GRAINS, Locations, query, scope


def utilization_trend(
    locations: Locations,
    start: dt.date,
    end: dt.date,
    grain: str = "week",
    together: str | None = None,
) -> pd.DataFrame:
    """Room, bar and therapist utilization plus RevPATH per location and day/week/month; with
    `together` (a label), one row per period for all the locations (ratios of the sums)."""
    if grain not in GRAINS:
        raise ValueError(f"grain must be one of {GRAINS}")
    # each row also says how many of its period's days the dates and the data cover
    # (periods.mark_coverage), so a week cut to one day is never drawn as a full week
    frame = query(
        f"""
        with {periods.BOUNDS_CTE}
        select
            date_trunc(?, d."date")::date as period,
            coalesce(?, l.display_name) as location_name,
            sum(d.occupied_minutes) / nullif(sum(d.available_minutes), 0) as room_utilization,
            sum(d.bar_room_bar_minutes) / nullif(sum(d.bar_room_available_minutes), 0)
                as bar_utilization,
            sum(d.booked_minutes) / nullif(sum(d.scheduled_minutes), 0)
                as therapist_utilization,
            sum(d.revenue)::double / nullif(sum(d.available_minutes) / 60.0, 0) as revpath,
            sum(d.revenue)::double as revenue,
            {periods.DATA_BOUNDS}
        from fct_location_days as d
        join bounds as b using (location_id)
        left join dim_locations as l using (location_id)
        where list_contains(?, d.location_id) and d."date" between ? and ?
        group by all
        order by period, location_name
        """,
        scope(locations),
        grain,
        together,
        scope(locations),
        start,
        end,
    )
    return periods.mark_coverage(frame, grain, start, end)


WEEKDAY = "strftime(h.\"date\", '%a')"


def hourly_heatmap(locations: Locations, start: dt.date, end: dt.date) -> pd.DataFrame:
    """Room and therapist utilization by weekday and clock hour (ratios of sums)."""
    return query(
        f"""
        select
            isodow(h."date") as weekday_number,
            {WEEKDAY} as weekday,
            h.hour,
            sum(h.room_occupied_minutes) / nullif(sum(h.room_available_minutes), 0)
                as room_utilization,
            sum(h.therapist_booked_minutes) / nullif(sum(h.therapist_scheduled_minutes), 0)
                as therapist_utilization
        from fct_hourly_capacity as h
        where list_contains(?, h.location_id) and h."date" between ? and ?
        group by all
        having sum(h.room_available_minutes) > 0 or sum(h.therapist_scheduled_minutes) > 0
        order by weekday_number, h.hour
        """,
        scope(locations),
        start,
        end,
    )


def room_use(
    locations: Locations, start: dt.date, end: dt.date, bar_rooms_only: bool = False
) -> pd.DataFrame:
    """Per room: available, occupied and bar hours, utilization, bar utilization and bar fit."""
    return query(
        """
        select
            l.display_name as location_name,
            coalesce(r.room_name, d.room_id) as room,
            bool_or(d.has_bars) as has_bars,
            sum(d.available_minutes) / 60.0 as available_hours,
            sum(d.occupied_minutes) / 60.0 as occupied_hours,
            sum(d.bar_minutes) / 60.0 as bar_hours,
            sum(d.occupied_minutes - d.bar_minutes) filter (where d.has_bars) / 60.0
                as non_bar_hours_in_bar_room,
            sum(d.occupied_minutes) / nullif(sum(d.available_minutes), 0) as utilization,
            sum(d.bar_minutes) filter (where d.has_bars)
                / nullif(sum(d.available_minutes) filter (where d.has_bars), 0)
                as bar_utilization,
            sum(d.bar_minutes) filter (where d.has_bars)
                / nullif(sum(d.occupied_minutes) filter (where d.has_bars), 0) as bar_fit
        from fct_room_days as d
        left join dim_rooms as r on r.location_id = d.location_id and r.room_id = d.room_id
        left join dim_locations as l on l.location_id = d.location_id
        where list_contains(?, d.location_id) and d."date" between ? and ?
            and (not ? or d.has_bars)
        group by all
        order by location_name, room
        """,
        scope(locations),
        start,
        end,
        bar_rooms_only,
    )


def bottlenecks(locations: Locations, start: dt.date, end: dt.date) -> pd.DataFrame:
    """Per location, weekday and hour: which resource runs out first, and hours left unsold.

    Method (kept simple, shown in the UI): the resource with the highest utilization in that
    weekday-hour is the one that runs out first. An extra bar room would have sold the minutes
    when every bar room was full. An extra bar-trained shift would have sold, in hours when the
    therapists on shift were fully booked (or nobody was on shift), the room time left empty,
    at most one hour per clock hour.
    """
    return query(
        f"""
        with {_IN_DATES},
        hours as (
            select
                h.location_id,
                h.staffed,
                isodow(h."date") as weekday_number,
                {WEEKDAY} as weekday,
                h.hour,
                h.room_available_minutes,
                h.room_occupied_minutes,
                h.bar_room_available_minutes,
                h.bar_room_occupied_minutes,
                h.bar_rooms_full_minutes,
                h.therapist_scheduled_minutes,
                h.therapist_booked_minutes,
                case
                    when h.therapist_booked_minutes >= h.therapist_scheduled_minutes
                        then least(
                            60,
                            greatest(h.room_available_minutes - h.room_occupied_minutes, 0)
                        )
                    else 0
                end as room_minutes_without_therapist
            from in_dates as h
            where h.room_available_minutes > 0
        ),
        by_slot as (
            select
                location_id,
                weekday_number,
                weekday,
                hour,
                sum(bar_room_occupied_minutes) / nullif(sum(bar_room_available_minutes), 0)
                    as bar_room_utilization,
                sum(room_occupied_minutes) / nullif(sum(room_available_minutes), 0)
                    as room_utilization,
                sum(therapist_booked_minutes) / nullif(sum(therapist_scheduled_minutes), 0)
                    as therapist_utilization,
                sum(bar_rooms_full_minutes) / 60.0 as extra_bar_room_hours,
                sum(room_minutes_without_therapist) / 60.0 as extra_bar_shift_hours,
                bool_or(staffed) as staffed
            from hours
            group by location_id, weekday_number, weekday, hour
        )
        select
            l.display_name as location_name,
            s.weekday_number,
            s.weekday,
            s.hour,
            s.bar_room_utilization,
            s.room_utilization,
            s.therapist_utilization,
            -- no therapist on shift while rooms are open: therapists ran out (at a location
            -- whose shifts are known at all; without any, only the rooms are compared)
            case
                when s.staffed and coalesce(s.therapist_utilization, 9) >= greatest(
                    coalesce(s.bar_room_utilization, 0), coalesce(s.room_utilization, 0)
                ) then 'Therapists on shift'
                when coalesce(s.bar_room_utilization, -1) >= coalesce(s.room_utilization, 0)
                    then 'Bar rooms'
                else 'All rooms'
            end as runs_out_first,
            greatest(
                coalesce(s.bar_room_utilization, 0),
                coalesce(s.room_utilization, 0),
                case when s.staffed then coalesce(s.therapist_utilization, 1) else 0 end
            ) as tightest_utilization,
            case when s.bar_room_utilization is not null then s.extra_bar_room_hours end
                as extra_bar_room_hours,
            case when s.staffed then s.extra_bar_shift_hours end as extra_bar_shift_hours
        from by_slot as s
        left join dim_locations as l on l.location_id = s.location_id
        order by location_name, s.weekday_number, s.hour
        """,
        scope(locations),
        start,
        end,
    )


# The chosen days' hours, read once (parameters: locations, first, last day). staffed: the location
# has any shift time in them. Without shifts nobody knows when therapists were free, so the
# bottleneck view leaves the therapists out rather than counting every hour as "no one on shift".
_IN_DATES = """in_dates as (
            select
                *,
                coalesce(
                    sum(therapist_scheduled_minutes) over (partition by location_id) > 0, false
                ) as staffed
            from fct_hourly_capacity
            where list_contains(?, location_id) and "date" between ? and ?
        )"""


def bottleneck_summary(locations: Locations, start: dt.date, end: dt.date) -> pd.DataFrame:
    """Per location: hours an extra bar room or an extra bar-trained shift would have sold."""
    return query(
        f"""
        with {_IN_DATES},
        hours as (
            select
                location_id,
                staffed,
                bar_room_available_minutes,
                bar_rooms_full_minutes,
                case
                    when therapist_booked_minutes >= therapist_scheduled_minutes
                        then least(
                            60, greatest(room_available_minutes - room_occupied_minutes, 0)
                        )
                    else 0
                end as room_minutes_without_therapist
            from in_dates
            where room_available_minutes > 0
        )
        select
            l.display_name as location_name,
            -- empty, not 0 h, when the location has no bar room or no shifts to go by
            case when sum(h.bar_room_available_minutes) > 0
                then sum(h.bar_rooms_full_minutes) / 60.0 end as extra_bar_room_hours,
            case when bool_or(h.staffed)
                then sum(h.room_minutes_without_therapist) / 60.0 end as extra_bar_shift_hours
        from hours as h
        left join dim_locations as l on l.location_id = h.location_id
        group by all
        order by location_name
        """,
        scope(locations),
        start,
        end,
    )
