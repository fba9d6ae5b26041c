"""Today: one location, one day: KPI tiles, the room timeline and the next 14 days."""

import datetime as dt

import pandas as pd
import streamlit as st

from dashboard import charts, filters, gaps, tables
from dashboard import format as fmt
from dashboard.queries import kpis, snapshot
from dashboard.queries import today as queries
from dashboard.queries.gaps import data_gaps

st.title("Today")
choice = filters.day_and_location()
if choice is None:
    st.stop()

symbol = snapshot.settings_in_force().currency_symbol
scope = (choice.location,)
week_before = choice.day - dt.timedelta(days=7)
# names come from the exports: escaped wherever they meet markdown
place = fmt.md_text(choice.location_name)
st.caption(
    f"**{place}**, {choice.day:%A %d %B %Y}. "
    f"Arrows compare with the same weekday a week earlier ({week_before:%a %d %b})."
)

now = kpis.kpi_totals(scope, choice.day, choice.day)
before = kpis.kpi_totals(scope, week_before, week_before)
# what the day's figures lack (rooms, shifts, prices, ...): one line each, under the tiles
missing = data_gaps(scope, choice.day, choice.day)
# a day before the location's history start has no new clients to count, not zero
history = snapshot.history_start(scope)
counted_from = history["new_clients_from"].iloc[0] if len(history) else None
too_early = counted_from is not None and choice.day < pd.Timestamp(counted_from).date()
# figures whose data is missing are empty, whatever a warehouse built before says
unknown = {"new_clients"} if too_early else set()
if gaps.missing(missing, "created"):
    unknown.add("rebooking_rate")

# (label, metric, kind, a rise is bad)
TILES = [
    ("Room utilization", "room_utilization", "rate", False),
    ("Bar utilization", "bar_utilization", "rate", False),
    ("Shifts booked", "therapist_utilization", "rate", False),
    ("Bookings", "bookings", "count", False),
    ("No-shows", "no_shows", "count", True),
    ("Late cancels", "late_cancellations", "count", True),
    ("Revenue", "revenue", "money", False),
    ("RevPATH", "revpath", "money", False),
    ("New clients", "new_clients", "count", False),
    ("Rebooking rate", "rebooking_rate", "rate", False),
]
SHOW = {"rate": fmt.pct, "count": fmt.count, "money": lambda v: fmt.money(v, symbol)}

if now is None:
    st.info(f"No room calendar, shifts or bookings for {place} on {choice.day}.")
else:
    for row in (TILES[:5], TILES[5:]):
        for column, (title, name, kind, rise_is_bad) in zip(st.columns(5), row, strict=True):
            value = None if name in unknown else now.get(name)
            previous = None if name in unknown else (before or {}).get(name)
            unchanged = fmt.is_finite(value) and fmt.is_finite(previous) and value == previous
            shown = fmt.money(value, symbol, 2) if name == "revpath" else SHOW[kind](value)
            column.metric(
                title,
                shown,
                delta=fmt.change(value, previous, kind, symbol),
                delta_color="off" if unchanged else "inverse" if rise_is_bad else "normal",
                delta_arrow="off" if unchanged else "auto",
                help=fmt.meaning(name),
                border=True,
            )
    gaps.show(missing, ("rooms", "bar_rooms", "inferred", "shifts", "prices", "created"))
    if too_early:
        first = history["first_booking_date"].iloc[0]
        st.info(
            f"New clients are counted from {pd.Timestamp(counted_from):%d %b %Y}: the data "
            f"starts on {pd.Timestamp(first):%d %b %Y}, so a first visit before then may be a "
            "client who came before.",
            icon=":material/info:",
        )

st.subheader("Rooms through the day")
bookings = queries.room_timeline(scope, choice.day)
rooms = queries.rooms(scope)
if tables.has_rows(bookings, f"No bookings at {place} on this day."):
    room_list = list(zip(rooms["room"], rooms["has_bars"], strict=True))
    st.altair_chart(charts.room_timeline(bookings, room_list), width="stretch")
    if rooms.empty:
        st.caption("Bookings are under **No room** until the rooms are known (see above).")
    else:
        roomless = (
            " **No room**: bookings that found no free room that fits (more bookings than "
            "rooms, or bar work with every bar room taken)."
            if (bookings["room"] == "No room").any()
            else ""
        )
        st.caption(
            f"Rooms marked (bars) have ceiling bars. No-shows still held the room.{roomless}"
        )

st.subheader("Next 14 days: booked share of room time")
upcoming = queries.pacing(scope, choice.day)
ahead = (
    "No room calendar for the 14 days after this day yet: describe the rooms and opening "
    "hours on the Setup page (it fills the weeks ahead) or load a room calendar for them."
)
if tables.has_rows(upcoming, ahead):
    st.altair_chart(charts.pacing(upcoming), width="stretch")
    st.caption(
        "Room hours already held by bookings, out of the room hours open each day "
        "(blocked time excluded)."
    )
