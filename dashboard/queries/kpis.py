"""Location KPIs (Today, Ceiling-bar rooms, Locations): ratios of sums over fct_location_days."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from dashboard.queries.snapshot import Locations, query, scope

# Ratios of sums over fct_location_days (metric dictionary), once for every location and once for
# all of them together (grouping sets), so the "All locations" row uses identical definitions.
# Rebooking needs its denominator (completed visits whose is_rebooked is known), which the
# location-day mart does not carry, so it is counted from fct_bookings with the same scope.
_KPI_SQL = """
with priced as (
    -- locations whose exports give prices: revenue and RevPATH are empty (not $0) without
    -- them, and the "All locations" RevPATH divides by the open hours of these only
    select location_id, count(price) > 0 as has_prices
    from fct_bookings
    where list_contains(?, location_id)
        and booking_date between ? and ?
        and status = 'completed'
    group by location_id
),
day_totals as (
    select
        location_id,
        grouping(location_id) = 1 as is_total,
        coalesce(bool_or(p.has_prices), false) as has_prices,
        sum(available_minutes) filter (where p.has_prices) as priced_available_minutes,
        count(distinct "date") as days,
        sum(available_minutes) as available_minutes,
        sum(occupied_minutes) as occupied_minutes,
        sum(bar_room_available_minutes) as bar_room_available_minutes,
        sum(bar_room_occupied_minutes) as bar_room_occupied_minutes,
        sum(bar_room_bar_minutes) as bar_room_bar_minutes,
        sum(scheduled_minutes) as scheduled_minutes,
        sum(booked_minutes) as booked_minutes,
        sum(bookings) as bookings,
        sum(completed) as completed,
        sum(no_shows) as no_shows,
        sum(cancellations) as cancellations,
        sum(late_cancellations) as late_cancellations,
        sum(revenue)::double as revenue,
        sum(new_clients) as new_clients
    from fct_location_days
    left join priced as p using (location_id)
    where list_contains(?, location_id) and "date" between ? and ?
    group by grouping sets ((location_id), ())
),
rebooking as (
    select
        location_id,
        grouping(location_id) = 1 as is_total,
        count(*) filter (where is_rebooked) as rebooked_visits,
        count(is_rebooked) as rebook_known_visits
    from fct_bookings
    where list_contains(?, location_id)
        and booking_date between ? and ?
        and status = 'completed'
    group by grouping sets ((location_id), ())
)
select
    d.location_id,
    d.is_total,
    case when d.is_total then 'All locations'
        else l.display_name end as location_name,
    d.days,
    d.occupied_minutes / nullif(d.available_minutes, 0) as room_utilization,
    d.bar_room_bar_minutes / nullif(d.bar_room_available_minutes, 0) as bar_utilization,
    d.bar_room_bar_minutes / nullif(d.bar_room_occupied_minutes, 0) as bar_fit,
    d.booked_minutes / nullif(d.scheduled_minutes, 0) as therapist_utilization,
    coalesce(d.bookings, 0) as bookings,
    coalesce(d.completed, 0) as completed,
    coalesce(d.no_shows, 0) as no_shows,
    d.no_shows / nullif(d.completed + d.no_shows, 0) as no_show_rate,
    coalesce(d.cancellations, 0) as cancellations,
    coalesce(d.late_cancellations, 0) as late_cancellations,
    case when d.has_prices then coalesce(d.revenue, 0) end as revenue,
    case when d.has_prices
        then coalesce(d.revenue, 0) / nullif(d.priced_available_minutes / 60.0, 0) end as revpath,
    coalesce(d.new_clients, 0) as new_clients,
    coalesce(r.rebooked_visits, 0) as rebooked_visits,
    r.rebooked_visits / nullif(r.rebook_known_visits, 0) as rebooking_rate,
    d.available_minutes / 60.0 as available_hours,
    d.occupied_minutes / 60.0 as occupied_hours
from day_totals as d
left join rebooking as r
    on d.is_total = r.is_total and d.location_id is not distinct from r.location_id
left join dim_locations as l on l.location_id = d.location_id
order by d.is_total, location_name
"""


def _kpis(locations: Locations, start: dt.date, end: dt.date) -> pd.DataFrame:
    chosen = scope(locations)
    return query(_KPI_SQL, chosen, start, end, chosen, start, end, chosen, start, end)


def kpi_totals(locations: Locations, start: dt.date, end: dt.date) -> dict[str, object] | None:
    """KPIs over all the given locations and days together; None when there is no data."""
    frame = _kpis(locations, start, end)
    total = frame[frame["is_total"]]
    if total.empty or not total.iloc[0]["days"]:
        return None
    return total.iloc[0].to_dict()


def kpis_by_location(locations: Locations, start: dt.date, end: dt.date) -> pd.DataFrame:
    """One KPI row per location plus an "All locations" row (ratios of sums, same definitions)."""
    frame = _kpis(locations, start, end)
    if frame[~frame["is_total"]].empty:
        return frame.iloc[0:0]
    return frame.reset_index(drop=True)
