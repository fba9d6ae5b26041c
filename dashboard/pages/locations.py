"""Locations: side-by-side KPIs with an "All locations" row, rankings, small multiples."""

import streamlit as st

from dashboard import charts, filters, gaps, tables
from dashboard.queries import snapshot
from dashboard.queries.capacity import utilization_trend
from dashboard.queries.gaps import data_gaps
from dashboard.queries.kpis import kpis_by_location

st.title("Locations")
picked = filters.sidebar()
if picked is None:
    st.stop()
symbol = snapshot.settings_in_force().currency_symbol
where = (picked.locations, picked.start, picked.end)
st.caption(picked.caption)

kpis = kpis_by_location(*where)
if not tables.has_rows(kpis):
    st.stop()
# an empty cell below is missing data, said here location by location
missing = data_gaps(*where)
gaps.show(missing, ("rooms", "bar_rooms", "inferred", "shifts", "prices", "created"))

st.subheader("Side by side")
st.caption(
    "Every row uses the same definitions. **All locations** divides the summed totals "
    "(it is not an average of the rows above). RevPATH = revenue per open room hour."
)
columns = [
    "location_name",
    "room_utilization",
    "bar_utilization",
    "bar_fit",
    "therapist_utilization",
    "bookings",
    "completed",
    "no_show_rate",
    "late_cancellations",
    "revenue",
    "revpath",
    "new_clients",
    "rebooking_rate",
]
# an empty cell says why, as the notes above do, instead of "None"
tables.show_table(
    kpis[columns],
    "locations",
    symbol,
    blank={
        "room_utilization": "no rooms",
        "bar_utilization": "no bar rooms",
        "therapist_utilization": "no shifts",
        "revenue": "no prices",
        "revpath": "no prices",
        "rebooking_rate": "not known",
    },
)

each = kpis[~kpis["is_total"]]
left, right = st.columns(2)
note = ""
with left:
    st.subheader("RevPATH ranking")
    if gaps.drawable(each, "revpath", missing):
        ranked, note = charts.ends(each, "revpath")
        st.altair_chart(
            charts.ranked_bars(
                ranked, "location_name", "revpath", f"RevPATH ({symbol})", "money", symbol
            ),
            width="stretch",
        )
with right:
    st.subheader("Room utilization ranking")
    if gaps.drawable(each, "room_utilization", missing):
        ranked, note = charts.ends(each, "room_utilization")
        st.altair_chart(
            charts.ranked_bars(ranked, "location_name", "room_utilization", "Room utilization"),
            width="stretch",
        )
if note:
    st.caption(note)

st.subheader("Trends by location")
measures = {
    "Room utilization": ("room_utilization", "rate"),
    "Bar utilization": ("bar_utilization", "rate"),
    "Therapist utilization": ("therapist_utilization", "rate"),
    f"RevPATH ({symbol})": ("revpath", "money"),
}
measure = st.segmented_control("Show", list(measures), default="Room utilization")
measure = measure or "Room utilization"
trend = utilization_trend(*where, "week")
column, kind = measures[measure]
if tables.has_rows(trend) and gaps.drawable(trend, column, missing):
    # one small chart per location: a dozen at most, the highest and lowest on average
    averages = trend.groupby("location_name", as_index=False)[column].mean()
    shown, note = charts.ends(
        averages, column, charts.SMALL_MULTIPLES, ("highest on average", "lowest"), table=False
    )
    trend = trend[trend["location_name"].isin(shown["location_name"])]
    st.altair_chart(charts.small_multiples(trend, column, measure, kind))
    st.caption(f"Weekly figures; weeks cut by the date range count only the chosen days. {note}")
