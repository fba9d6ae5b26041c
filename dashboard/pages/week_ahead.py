"""Next 7 days: who is booked over a limit in the coming week, the sessions involved, and who
could take one over (the Therapists page's rebalancing rules), so the scheduler can act first."""

import datetime as dt

import streamlit as st

from dashboard import charts, filters, tables
from dashboard import format as fmt
from dashboard.queries import ahead, snapshot

DAYS = 7

choice = filters.day_and_location()
if choice is None:
    st.stop()
settings = snapshot.settings_in_force()
symbol = settings.currency_symbol
scope = (choice.location,)
first, last = ahead.window(choice.day, DAYS)
place = fmt.md_text(choice.location_name)

st.title(f"{place} · next {DAYS} days")
# the days it covers, and from which day: the location's latest complete day by default
st.caption(
    f"{first:%a %d %b} – {last:%a %d %b %Y}, the {DAYS} days after {choice.day:%a %d %b} "
    "(pick another day in the sidebar), from the appointments booked so far."
)
if choice.note:
    st.caption(fmt.md_text(choice.note))

found = ahead.warnings(scope, choice.day, DAYS)
if found.empty:
    st.success(f"No one is booked over a limit in the next {DAYS} days.")
    st.stop()

st.caption(
    f"Limits: {settings.max_bar_sessions_per_day} bar sessions and "
    f"{settings.max_hands_on_minutes_per_day / 60:g} h hands-on a day, "
    f"{settings.weekly_hands_on_hours_limit} h a week (Monday to Sunday, hours already worked "
    f"count), and a {settings.turnover_minutes}-minute turnover between sessions."
)
days = [first + dt.timedelta(days=n) for n in range(DAYS)]
st.altair_chart(charts.overload_grid(found, days), width="stretch")

st.subheader("Warnings")
# one location: its name is in the title
tables.show_table(
    found[ahead.COLUMNS].drop(columns=["kind", "location_name"]), "next-7-days-warnings", symbol
)

st.subheader("Sessions to move, and who could take them")
st.caption(
    "The latest sessions until the day or week is under its limit. Named: a colleague on "
    "shift for the whole session, with nothing booked within the turnover around it, "
    "bar-trained for a bar session with a bar room free then, and within every daily and "
    "weekly limit after taking it (each session judged on its own). Back-to-back pairs need "
    "a gap, not another therapist: they are not listed here."
)
hints = ahead.hints_ahead(scope, choice.day, DAYS)
if tables.has_rows(hints, "No session needs to move: the warnings are back-to-back pairs only."):
    # who could take it next to the session, so it is in view at 1280 px
    order = ["date", "time", "therapist", "could_take_over", "service", "room", "over_limit"]
    tables.show_table(
        hints[order],
        "next-7-days-hints",
        symbol,
        # what the scheduler acts on: shown unless they hide it
        shown_by_default=True,
        columns={"date": {"width": 95}, "time": {"width": 100}, "could_take_over": {"width": 330}},
    )

st.subheader("Day by day")
sessions = ahead.sessions_ahead(scope, choice.day, DAYS)
for day, of_day in sessions.groupby("date", sort=True):
    people = of_day["therapist"].nunique()
    with st.expander(f"{day:%a %d %b}: {people} {'therapist' if people == 1 else 'therapists'}"):
        tables.show_table(
            of_day.drop(columns=["date", "location_name"]),
            f"next-7-days-{day}",
            symbol,
            # the 7 days are 7 weekdays: a name that stays with the view in the URL
            name=f"next-7-days-{day:%a}".lower(),
        )
