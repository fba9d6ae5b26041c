"""Ceiling-bar rooms: bar utilization and fit, full hours, non-bar use, bar-work findings."""

import streamlit as st

from dashboard import charts, filters, gaps, tables, tiles
from dashboard import format as fmt
from dashboard.queries import bar_rooms as queries
from dashboard.queries import kpis, snapshot
from dashboard.queries.capacity import room_use
from dashboard.queries.data import dq_findings
from dashboard.queries.gaps import data_gaps

st.title("Ceiling-bar rooms")
picked = filters.sidebar()
if picked is None:
    st.stop()
symbol = snapshot.settings_in_force().currency_symbol
where = (picked.locations, picked.start, picked.end)

# the chosen dates against the days just before and the same dates a year earlier: one query
# serves the tiles and, for the chosen dates, the check below
periods = kpis.comparison_periods(picked.start, picked.end)
totals = kpis.kpi_totals_over(picked.locations, periods)["now"]
bar_rooms = room_use(*where, bar_rooms_only=True)
full = queries.bar_rooms_full(*where)
missing = data_gaps(*where)
if totals is None or bar_rooms.empty:
    # say which data is missing (no rooms at all, or none marked with bars), not just "none"
    if gaps.missing(missing, "rooms"):
        gaps.show(missing, ("rooms",))
    else:
        gaps.note(missing, "bar_rooms", "No rooms with ceiling bars in this selection.")
    st.stop()
gaps.show(missing, ("rooms", "bar_rooms", "inferred"))
targets = kpis.targets(picked.locations)


def _totals(periods: kpis.Periods) -> dict[str, dict | None]:
    found = kpis.kpi_totals_over(picked.locations, periods)
    bars = queries.bar_room_totals_over(picked.locations, periods)
    return {name: None if found[name] is None else found[name] | bars[name] for name in found}


# the chosen dates against the days just before and the same dates a year earlier
tiles.show(
    [
        tiles.Tile("Bar utilization", "bar_utilization", help=fmt.meaning("bar_utilization")),
        tiles.Tile("Bar fit", "bar_fit", help=fmt.meaning("bar_fit")),
        tiles.Tile(
            "Bar sessions",
            "bar_sessions",
            "count",
            help="Sessions that used the ceiling bars (completed and booked).",
        ),
        tiles.Tile(
            "Bar rooms full",
            "full_hours",
            "hours",
            help="Time when no bar room was free: bar clients could not be booked.",
        ),
        tiles.Tile(
            "Non-bar hours",
            "non_bar_hours_in_bar_room",
            "hours",
            help="Bar-room hours booked for treatments that do not need bars.",
        ),
    ],
    _totals(periods),
    picked.start,
    picked.end,
    symbol,
    targets,
    lead=picked.caption,
)

st.subheader("How bar-room time was used")
shares = bar_rooms.assign(bar_share=bar_rooms["bar_hours"] / bar_rooms["available_hours"])
ranked, note = charts.ends(shares, "bar_share", words=("with the most bar work", "the least"))
if note:
    st.caption(note)
# the bar-utilization target: the purple (bar work) share of each bar reaches it or not
bar_goal = tiles.target_lines(targets, "bar_utilization", picked.names)
st.altair_chart(charts.room_time_split(ranked, target=bar_goal), width="stretch")
# a bar room nobody booked has no bar fit (no booked time to compare with)
tables.show_table(
    bar_rooms.drop(columns=["has_bars"]), "bar-rooms", symbol, blank={"bar_fit": "no bookings"}
)

st.subheader("When every bar room is full")
if tables.has_rows(full, "No bar-room hours in this selection."):
    st.altair_chart(
        charts.weekday_hour_heatmap(
            full, "full_share", "Time all bar rooms full", scheme="purples"
        ),
        width="stretch",
    )
    st.caption(
        "Share of each hour, over the chosen days, in which every open bar room was occupied."
    )

st.subheader("Bar work in the wrong place or by the wrong person")
left, right = st.columns(2)
with left:
    st.markdown("**Bar services in rooms without bars**")
    wrong_room = dq_findings(*where, kinds=("bar_service_in_non_bar_room",))
    if tables.has_rows(wrong_room, "None found."):
        st.caption(tables.how_many(wrong_room, "booking"))
        tables.show_table(
            wrong_room.drop(columns=["kind"]), "bar-services-in-non-bar-rooms", symbol
        )
with right:
    st.markdown("**Bar sessions by therapists not bar-trained**")
    untrained = dq_findings(*where, kinds=("bar_session_by_untrained_therapist",))
    # only a known "not trained" is a finding: unknown training is said, not counted
    gaps.show(missing, ("training",))
    if tables.has_rows(untrained, "None found."):
        st.caption(tables.how_many(untrained, "session"))
        tables.show_table(untrained.drop(columns=["kind"]), "bar-sessions-by-untrained", symbol)
