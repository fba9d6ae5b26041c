"""Day: one location's day: KPI tiles, the room timeline, the appointments (no-shows and late
cancels on top) and the next 14 days. The file keeps its name (and the default URL)."""

import datetime as dt

import pandas as pd
import streamlit as st

from dashboard import charts, filters, gaps, tables, tiles
from dashboard import format as fmt
from dashboard.mapping_questions import VENDOR_NAMES
from dashboard.queries import kpis, snapshot
from dashboard.queries import today as queries
from dashboard.queries.gaps import data_gaps

choice = filters.day_and_location()
if choice is None:
    st.stop()

symbol = snapshot.settings_in_force().currency_symbol
scope = (choice.location,)
week_before = choice.day - dt.timedelta(days=7)
# the same weekday a year earlier: 52 weeks back, so a Saturday compares with a Saturday
year_before = choice.day - dt.timedelta(weeks=52)
# names come from the exports: escaped wherever they meet markdown
place = fmt.md_text(choice.location_name)
# named for what it shows: "Yesterday" / "Today" by the clock, else the date
by_clock = {dt.date.today(): "Today", dt.date.today() - dt.timedelta(days=1): "Yesterday"}
# kept short enough for one line at 1280 px; the full date is in the caption below
st.title(f"{place} · {by_clock.get(choice.day, f'{choice.day:%a %d %b %Y}')}")

# the three days in one query; None where the data does not reach back a year: the tiles then
# leave it out
_days = kpis.kpi_totals_over(
    scope,
    {
        "now": (choice.day, choice.day),
        "before": (week_before, week_before),
        "year_ago": (year_before, year_before),
    },
)
now, before, year_ago = _days["now"], _days["before"], _days["year_ago"]
# one line at 1280 px: the year-earlier figures are in each tile's help
# one caption line: the day, what the arrows compare with, and where the location's data ends
# when that moved the day (the note)
st.caption(
    f"{choice.day:%A %d %B %Y}. Arrows: against {week_before:%a %d %b}, a week earlier"
    + (f"; a tile's ? adds {year_before:%a %d %b %Y}." if year_ago is not None else ".")
    + (f" {fmt.md_text(choice.note)}" if choice.note else "")
)
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

SHOW = {"rate": fmt.pct, "count": fmt.count, "money": lambda v: fmt.money(v, symbol)}

if now is None:
    st.info(f"No room calendar, shifts or bookings for {place} on {choice.day}.")
else:
    for row in (tiles.DAY_TILES[:5], tiles.DAY_TILES[5:]):
        for column, tile in zip(st.columns(5), row, strict=True):
            title, name, kind, rise_is_bad = tile.label, tile.metric, tile.kind, tile.rise_is_bad
            value = None if name in unknown else now.get(name)
            previous = None if name in unknown else (before or {}).get(name)
            unchanged = fmt.is_finite(value) and fmt.is_finite(previous) and value == previous
            shown = fmt.money(value, symbol, 2) if name == "revpath" else SHOW[kind](value)
            meaning = fmt.meaning(name)
            if year_ago is not None:
                then = None if name in unknown else year_ago.get(name)
                then_shown = fmt.money(then, symbol, 2) if name == "revpath" else SHOW[kind](then)
                change = fmt.change(value, then, kind, symbol)
                meaning += (
                    f"\n\nA year earlier ({year_before:%a %d %b %Y}): {then_shown}"
                    + (f", change {change}" if change else "")
                    + "."
                )
            column.metric(
                title,
                shown,
                delta=fmt.change(value, previous, kind, symbol),
                delta_color="off" if unchanged else "inverse" if rise_is_bad else "normal",
                delta_arrow="off" if unchanged else "auto",
                help=meaning,
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

# the room timeline (the page's main chart) before the list it draws
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

st.subheader("Appointments")
listed = queries.appointments(scope, choice.day)
if tables.has_rows(listed, f"No appointments at {place} on this day."):
    said = listed["status"].value_counts()

    def counted(status: str, one: str) -> str:
        n = int(said.get(status, 0))
        return f"{n:,} {one}{'' if n == 1 else 's'}"

    to_act = said.get("No-show", 0) + said.get("Late cancel", 0)
    st.markdown(
        f"**{counted('No-show', 'no-show')} and {counted('Late cancel', 'late cancel')}** out "
        f"of {len(listed):,} appointment{'' if len(listed) == 1 else 's'}"
        + ("; they are on top, shaded." if to_act else ".")
    )

    def clock(value: object, pattern: str) -> str | None:
        return None if pd.isna(value) else f"{pd.Timestamp(value):{pattern}}"

    # the client ref column waits for warehouses that keep the booking system's client id
    with_ref = snapshot.has_column("fct_bookings", "client_ref")
    systems = listed["booking_system"].map(lambda s: VENDOR_NAMES.get(s, s))
    table = pd.DataFrame(
        {
            "Time": [
                f"{clock(a, '%H:%M')}–{clock(b, '%H:%M')}"
                for a, b in zip(listed["start_at"], listed["end_at"], strict=True)
            ],
            "Status": listed["status"],
            "Room": listed["room"],
            "Therapist": listed["therapist"],
            "Service": listed["service"],
            "Booked": [clock(v, "%d %b %H:%M") for v in listed["booked_at"]],
            "Cancelled": [clock(v, "%d %b %H:%M") for v in listed["cancelled_at"]],
            "Client ref": listed["client_ref"],
            "Booking system": systems,
        }
    )
    # the CSV: whole date-times a spreadsheet can sort, empty cells left empty
    download = pd.DataFrame(
        {
            "Start": [clock(v, "%Y-%m-%d %H:%M") for v in listed["start_at"]],
            "End": [clock(v, "%Y-%m-%d %H:%M") for v in listed["end_at"]],
            "Status": listed["status"],
            "Room": listed["room"],
            "Therapist": listed["therapist"],
            "Service": listed["service"],
            "Booked at": [clock(v, "%Y-%m-%d %H:%M") for v in listed["booked_at"]],
            "Cancelled at": [clock(v, "%Y-%m-%d %H:%M") for v in listed["cancelled_at"]],
            "Client ref": listed["client_ref"],
            "Booking system": systems,
        }
    )
    if not with_ref:
        table = table.drop(columns="Client ref")
        download = download.drop(columns="Client ref")
    table = table.astype(object).where(table.notna(), "–")
    act_on = listed["status"].isin(["No-show", "Late cancel"]).reset_index(drop=True)
    tables.show_table(
        table,
        f"appointments-{choice.location}-{choice.day}",
        symbol,
        people=False,
        # the list a manager acts on (who to call): shown unless they hide it
        shown_by_default=True,
        name="appointments",
        marked=pd.DataFrame({"Status": act_on, "Time": act_on}),
        download=download,
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
