"""Capacity: utilization trend, weekday × hour heatmaps, rooms, and the bottleneck view."""

import streamlit as st

from dashboard import charts, filters, gaps, tables, tiles
from dashboard import format as fmt
from dashboard.queries import capacity as queries
from dashboard.queries import kpis, snapshot
from dashboard.queries.gaps import data_gaps

st.title("Capacity")
picked = filters.sidebar()
if picked is None:
    st.stop()
symbol = snapshot.settings_in_force().currency_symbol
where = (picked.locations, picked.start, picked.end)
# the chosen dates against the days just before and the same dates a year earlier
periods = kpis.comparison_periods(picked.start, picked.end)
targets = kpis.targets(picked.locations)
tiles.show(
    [
        tiles.Tile("Room utilization", "room_utilization", help=fmt.meaning("room_utilization")),
        tiles.Tile("Bar utilization", "bar_utilization", help=fmt.meaning("bar_utilization")),
        tiles.Tile(
            "Shifts booked",
            "therapist_utilization",
            help="Therapist utilization: share of therapists' shift time booked.",
        ),
        tiles.Tile(
            "Hours open",
            "available_hours",
            "hours",
            help="Treatment-room hours open, summed over rooms (blocked time left out).",
        ),
        tiles.Tile(
            "Hours booked",
            "occupied_hours",
            "hours",
            help="Treatment-room hours held by bookings (no-shows included).",
        ),
    ],
    kpis.kpi_totals_over(picked.locations, periods),
    picked.start,
    picked.end,
    symbol,
    targets,
    lead=picked.caption,
)
# what the figures lack (rooms, shifts): said once here, and in place of each empty chart
missing = data_gaps(*where)
gaps.show(missing, ("rooms", "bar_rooms", "inferred", "shifts"))

st.subheader("Utilization over time")
left, right = st.columns(2)
grain = left.segmented_control(
    "Group by", ["day", "week", "month"], default="week", format_func=str.capitalize
)
measures = {
    "Rooms": ("room_utilization", "Room utilization"),
    "Ceiling bars": ("bar_utilization", "Bar utilization"),
    "Therapists": ("therapist_utilization", "Therapist utilization"),
}
measure = right.segmented_control("Show", list(measures), default="Rooms") or "Rooms"
# a line per location reads for a few; more are drawn as one line for all of them
together = picked.label if len(picked.locations) > charts.TREND_LINES else None
trend = queries.utilization_trend(*where, grain or "week", together)
column, title = measures[measure]
if tables.has_rows(trend) and gaps.drawable(trend, column, missing):
    # the target of the measure shown, a dashed line (settings [targets]; none set, no line)
    goal = tiles.target_lines(targets, column, picked.names, together=bool(together))
    st.altair_chart(charts.trend(trend, column, title, target=goal), width="stretch")
    if grain in ("week", "month"):
        # a week at the edge of the dates or the data may hold one day: say which are partial
        first = "Monday (weeks run Monday to Sunday)" if grain == "week" else "first day"
        st.caption(
            f"{grain.capitalize()}ly figures, each drawn at the {grain}'s {first}. "
            + fmt.md_text(charts.partial_note(trend))
        )
    if together:
        st.caption(
            f"{fmt.md_text(together)} as one line (shares of the summed minutes). Pick up to "
            f"{charts.TREND_LINES} locations in the sidebar to compare them line by line."
        )

st.subheader("Busy hours by weekday")
hourly = queries.hourly_heatmap(*where)
if hourly.empty:
    # hours need open room time or shift time: say which of them is missing
    gaps.note(missing, "rooms" if gaps.missing(missing, "rooms") else "shifts", tables.NO_DATA)
else:
    rooms_tab, therapists_tab = st.tabs(["Rooms", "Therapists"])
    with rooms_tab:
        if gaps.drawable(hourly, "room_utilization", missing):
            st.caption("Share of open room time booked, by weekday and hour of day.")
            st.altair_chart(
                charts.weekday_hour_heatmap(hourly, "room_utilization", "Rooms booked"),
                width="stretch",
            )
    with therapists_tab:
        if gaps.drawable(hourly, "therapist_utilization", missing):
            st.caption("Share of therapists' shift time booked, by weekday and hour of day.")
            st.altair_chart(
                charts.weekday_hour_heatmap(
                    hourly, "therapist_utilization", "Shift time booked", scheme="oranges"
                ),
                width="stretch",
            )
    st.caption(
        "Hour by hour, room time counts every open hour: the exports do not say when in the day "
        "a room was blocked, so blocked time is left out here (it is counted in the daily figures)."
    )

st.subheader("Utilization by room")
room_use = queries.room_use(*where)
if room_use.empty:
    gaps.note(missing, "rooms", tables.NO_DATA)
else:
    ranked, note = charts.ends(room_use, "utilization")
    if note:
        st.caption(note)
    st.altair_chart(
        charts.ranked_bars(
            ranked.assign(room_label=ranked["location_name"] + " · " + ranked["room"]),
            "room_label",
            "utilization",
            "Room utilization",
        ),
        width="stretch",
    )
    # a room without bars has no bar figures, and a bar room nobody booked no bar fit: say
    # so rather than leave an empty "None" cell
    blank = {
        "non_bar_hours_in_bar_room": "no bars",
        "bar_utilization": "no bars",
        "bar_fit": ["no bookings" if bars else "no bars" for bars in room_use["has_bars"]],
    }
    tables.show_table(room_use, "utilization-by-room", symbol, blank=blank)

st.subheader("What runs out first")
st.caption(
    "For each weekday and hour, the resource with the highest share booked is the one that runs "
    "out first: bar rooms, all rooms, or therapists on shift (no one on shift counts as "
    "therapists running out; a location with no shifts loaded compares its rooms only). "
    "**An extra bar room** would have sold the minutes when every bar room was occupied. "
    "**An extra bar-trained shift** would have sold the empty room time in hours when every "
    "therapist on shift was fully booked, up to one hour per clock hour. Both are upper "
    "bounds: they assume clients wanted those slots. In the grids, a darker colour means that "
    "resource was fuller."
)
summary = queries.bottleneck_summary(*where)
if summary.empty:
    # the comparison is hour by hour against open room time: nothing to compare without rooms
    gaps.note(missing, "rooms", tables.NO_DATA)
else:
    slots = queries.bottlenecks(*where)
    names = list(slots["location_name"].unique())
    # a map per location reads for a handful; for more, the table below has every hour
    if len(names) > charts.BOTTLENECK_MAPS:
        st.caption(
            f"Pick up to {charts.BOTTLENECK_MAPS} locations in the sidebar to see a map for "
            f"each; the table by hour below lists every hour of all {len(names):,}."
        )
    else:
        for name in names:
            st.markdown(f"**{fmt.md_text(name)}**")
            st.altair_chart(
                charts.bottleneck_map(slots[slots["location_name"] == name]), width="stretch"
            )
    # the maps first, then the tables (each behind its toggle)
    tables.show_table(
        summary,
        "extra-capacity-hours",
        symbol,
        toggle_label="Show extra hours by location",
        blank={
            "extra_bar_room_hours": "no room with bars",
            "extra_bar_shift_hours": "no shifts loaded",
        },
    )
    tables.show_table(
        slots,
        "bottlenecks-by-hour",
        symbol,
        toggle_label="Show table by hour",
        blank={
            "bar_room_utilization": "no bar room open",
            "therapist_utilization": "no one on shift",
            "extra_bar_room_hours": "no room with bars",
            "extra_bar_shift_hours": "no shifts loaded",
        },
    )
