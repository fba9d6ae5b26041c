"""Therapists: utilization, weekly hands-on hours, bar sessions, flags, rebalancing hints."""

import streamlit as st

from dashboard import charts, filters, gaps, tables, tiles
from dashboard import format as fmt
from dashboard.queries import kpis, snapshot
from dashboard.queries import therapists as queries
from dashboard.queries.gaps import data_gaps

st.title("Therapists")
picked = filters.sidebar()
if picked is None:
    st.stop()
settings = snapshot.settings_in_force()
symbol = settings.currency_symbol
where = (picked.locations, picked.start, picked.end)

summary = queries.therapist_summary(*where)
if not tables.has_rows(summary):
    st.stop()
missing = data_gaps(*where)
targets = kpis.targets(picked.locations)
# the chosen dates against the days just before and the same dates a year earlier
tiles.show(
    [
        tiles.Tile(
            "Shifts booked",
            "therapist_utilization",
            help="Therapist utilization: share of therapists' shift time booked.",
        ),
        tiles.Tile(
            "Hands-on hours",
            "hands_on_hours",
            "hours",
            help="Hours of completed and booked sessions, summed over therapists.",
        ),
        tiles.Tile("Bar sessions", "bar_sessions", "count", help="Sessions that used the bars."),
        tiles.Tile(
            "Days over a limit",
            "days_over_limit",
            "count",
            rise_is_bad=True,
            help=f"Therapist-days over {settings.max_bar_sessions_per_day} bar sessions or "
            f"{settings.max_hands_on_minutes_per_day / 60:g} hands-on hours.",
        ),
        tiles.Tile(
            "Back-to-back",
            "back_to_back_pairs",
            "count",
            rise_is_bad=True,
            help="Sessions followed by the next one less than "
            f"{settings.turnover_minutes} minutes later (no time to turn the room over).",
        ),
    ],
    kpis.therapist_totals_over(picked.locations, kpis.comparison_periods(picked.start, picked.end)),
    picked.start,
    picked.end,
    symbol,
    targets,
    lead=picked.caption,
)
gaps.show(missing, ("shifts", "training"))

st.subheader("Utilization: share of shift time booked")
# without shifts there is no shift time to book: the note above says so, and no chart is drawn
if gaps.drawable(summary, "utilization", missing, "therapist_utilization"):
    ranked, note = charts.ends(summary, "utilization")
    if note:
        st.caption(note)
    st.altair_chart(
        charts.ranked_bars(
            ranked,
            "therapist_label",
            "utilization",
            "Therapist utilization",
            # a colour per location helps with a few; the labels name the location anyway
            color="location_name"
            if 1 < ranked["location_name"].nunique() <= len(charts.LOCATION_COLORS)
            else None,
            # each location's utilization target, a dashed line (none set, no line)
            target=tiles.target_lines(targets, "therapist_utilization", picked.names),
        ),
        width="stretch",
    )
tables.show_table(
    summary.drop(columns=["therapist_label"]),
    "therapists",
    symbol,
    blank={"utilization": "no shifts"},
)

weeks = queries.therapist_weeks(*where)
st.subheader("Workload week by week")
# weeks run Monday to Sunday; one the dates or the data cut is faded, and said so here
partial = fmt.md_text(charts.partial_note(weeks, "week", cells=True))
hours_tab, bars_tab = st.tabs(["Hands-on hours per week", "Most bar sessions in one day"])
with hours_tab:
    limit = settings.weekly_hands_on_hours_limit
    shown, note = charts.most(weeks, "therapist", "hands_on_hours")
    st.caption(f"Weekly limit {limit} h; weeks above it are red. {partial} {note}")
    st.altair_chart(
        charts.therapist_week_grid(shown, "hands_on_hours", "Hands-on hours", limit, ",.0f"),
        width="stretch",
    )
with bars_tab:
    limit = settings.max_bar_sessions_per_day
    shown, note = charts.most(weeks, "therapist", "most_bar_sessions_in_a_day")
    st.caption(
        f"Daily limit {limit} bar sessions; weeks with a day above it are red. {partial} {note}"
    )
    st.altair_chart(
        charts.therapist_week_grid(
            shown, "most_bar_sessions_in_a_day", "Bar sessions in a day", limit
        ),
        width="stretch",
    )

st.subheader("Flags")
st.caption(
    f"Days over {settings.max_bar_sessions_per_day} bar sessions or "
    f"{settings.max_hands_on_minutes_per_day / 60:g} hands-on hours, and weeks over "
    f"{settings.weekly_hands_on_hours_limit} hands-on hours. Back-to-back sessions: the gap "
    f"before the next session was under {settings.turnover_minutes} minutes."
)
flags = queries.therapist_flags(*where)
if tables.has_rows(flags, "No one went over a limit in this selection."):
    st.caption(tables.how_many(flags, "flag"))
    tables.show_table(flags, "therapist-flags", symbol)

st.subheader("Rebalancing hints")
st.caption(
    "The sessions to move off each day or week over a limit (the latest ones, until under it), "
    "and who could have taken each: a colleague at the same location on shift for the whole "
    "session, with nothing booked within the turnover around it, bar-trained for a bar session "
    "with a bar room free then, and within every daily and weekly limit after taking it. Each "
    "session is judged on its own."
)
hints = queries.rebalancing_hints(*where)
if tables.has_rows(hints, "Nothing to rebalance: no one went over a daily or weekly limit."):
    st.caption(tables.how_many(hints, "session"))
    tables.show_table(
        hints[queries.HINT_COLUMNS],
        "rebalancing-hints",
        symbol,
        columns={"date": {"width": 95}, "time": {"width": 100}, "could_take_over": {"width": 300}},
    )
