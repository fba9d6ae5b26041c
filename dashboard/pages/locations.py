"""Locations: the chain's tiles, every location ranked on the metric the owner picks (against
"All locations" and its target), side by side in a table that fits the screen, and trends."""

import streamlit as st

from dashboard import charts, filters, gaps, tables, tiles
from dashboard import format as fmt
from dashboard.queries import kpis, snapshot
from dashboard.queries import locations as side
from dashboard.queries.capacity import utilization_trend
from dashboard.queries.gaps import data_gaps

st.title("Locations")
# Read before the sidebar, which rewrites the URL with the dates and locations: the ranked
# metric (?rank=) and the extra columns (?more=, repeated) are this page's own.
asked_rank = st.query_params.get("rank")
asked_more = st.query_params.get_all("more")
picked = filters.sidebar()
if picked is None:
    st.stop()
symbol = snapshot.settings_in_force().currency_symbol
where = (picked.locations, picked.start, picked.end)

# the tiles' periods: the table's figures come from the same queries as the tiles'
periods = kpis.comparison_periods(picked.start, picked.end)
by_period = side.side_by_side_over(picked.locations, periods)
table = by_period["now"]
if not tables.has_rows(table):
    st.stop()
# an empty cell below is missing data, said here location by location
missing = data_gaps(*where)
gaps.show(missing, ("rooms", "bar_rooms", "inferred", "shifts", "prices", "created"))

window = side.return_window()
returned = f"return_{window}"
targets = kpis.targets(picked.locations)
period_totals = side.totals_over(picked.locations, periods)
tiles.show(
    [
        tiles.Tile("Room utilization", "room_utilization", help=fmt.meaning("room_utilization")),
        tiles.Tile("Bar utilization", "bar_utilization", help=fmt.meaning("bar_utilization")),
        tiles.Tile(f"RevPATH ({symbol})", "revpath", "money", help=fmt.meaning("revpath")),
        tiles.Tile(
            f"{window}-day return",
            returned,
            help=f"New clients whose {window}-day window closed in these dates: the share who "
            f"came back within {window} days (any location).",
        ),
        tiles.Tile("Rebooking", "rebooking_rate", help=fmt.meaning("rebooking_rate")),
    ],
    period_totals,
    picked.start,
    picked.end,
    symbol,
    targets,
    lead=picked.caption,
)

# --- ranking ---------------------------------------------------------------------------------
metrics = {m.title: m for m in side.metrics(window)}
first = next(iter(metrics))
if "rank_by" not in st.session_state:
    st.session_state.rank_by = asked_rank if asked_rank in metrics else first
st.subheader("Ranking")
choice = st.segmented_control("Rank by", list(metrics), key="rank_by") or first
metric = metrics[choice]
st.query_params["rank"] = choice

each = table[~table["is_total"]].copy()
overall = table.loc[table["is_total"], metric.column].iloc[0]
if metric.has_target:
    each = each.merge(
        targets[["location_id", metric.column]].rename(columns={metric.column: "target"}),
        on="location_id",
        how="left",
    )
title = f"{metric.title} ({symbol})" if metric.kind == "money" else metric.title
if metric.column == returned and each[returned].isna().all():
    st.info(
        f"No new client's {window}-day window closed between {picked.start:%d %b %Y} and "
        f"{picked.end:%d %b %Y}: widen the dates to rank on return.",
        icon=":material/info:",
    )
elif metric.column == returned or gaps.drawable(each, metric.column, missing):
    ranked, note = charts.ends(each, metric.column)
    st.altair_chart(
        charts.ranked_bars(
            ranked,
            "location_name",
            metric.column,
            title,
            metric.kind,
            symbol,
            overall=overall,
            ticks="target" if metric.has_target else None,
        ),
        width="stretch",
    )
    explained = "Dashed line: all locations together."
    if metric.has_target and each["target"].notna().any():
        explained += " Dark tick: the location's target (settings)."
    st.caption(f"{explained} {note}")
if metric.column == returned:
    st.caption(
        f"{window}-day return counts the new clients whose first visit + {window} days fell "
        f"in these dates (and by the day the data is complete through), at their first-visit "
        f"location: the share with another completed visit within {window} days, anywhere in "
        "the chain. Clients whose window is still open are not counted."
    )

# --- side by side ----------------------------------------------------------------------------
st.subheader("Side by side")
shown = side.default_columns(window)
extra = side.more_columns(window)
more = [c for c in asked_more if c in extra]
# the extra columns are for the table: asked only while it is shown (?more= stays meanwhile)
if tables.is_open("locations"):
    if "more_columns" not in st.session_state:
        st.session_state.more_columns = more
    more = st.multiselect(
        "More columns",
        extra,
        key="more_columns",
        format_func=lambda column: fmt.label(column, symbol),
        placeholder="Add columns (bookings, no-shows, revenue, …)",
    )
    st.query_params["more"] = more

previous = by_period["previous"]
table["change_vs_previous"] = side.change_text(table, previous, metric, symbol)
# rows in the ranking's order (no figure last), "All locations" at the bottom
table = table.sort_values(
    ["is_total", metric.column], ascending=[True, False], na_position="last", kind="stable"
).reset_index(drop=True)
# the ranked metric's change sits right after it
columns = list(shown)
columns.insert(columns.index(metric.column) + 1, "change_vs_previous")
columns += more
blank = {
    "room_utilization": "no rooms",
    "bar_utilization": "no bar rooms",
    "bar_fit": "no bar rooms",
    "therapist_utilization": "no shifts",
    "revenue": "no prices",
    "revpath": "no prices",
    "rebooking_rate": "not known",
    returned: "none closed",
    "change_vs_previous": fmt.DASH,
}
marks = [c for c in shown if c in targets.columns and c != "location_id"]
tables.show_table(
    table[["location_id", "is_total", *columns]],
    "locations",
    symbol,
    blank=blank,
    marked=side.below_target(table, targets, marks),
    # the CSV holds every column, whatever is shown
    download=table[["location_id", *shown, "change_vs_previous", *extra]],
    columns=side.GRID_COLUMNS,
)
previous_days = f"{periods.previous[0]:%d %b} – {periods.previous[1]:%d %b %Y}"
st.caption(
    "Every row uses the same definitions. **All locations** divides the summed totals "
    "(it is not an average of the rows above). RevPATH = revenue per open room hour. "
    f"**vs prev.** is the change in {metric.title.lower()} against {previous_days}."
    + (
        " A cell shaded red is below that location's target."
        if targets[marks].notna().any(axis=None)
        else ""
    )
)

# --- trends ----------------------------------------------------------------------------------
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
    shown_names, note = charts.ends(
        averages, column, charts.SMALL_MULTIPLES, ("highest on average", "lowest"), table=False
    )
    trend = trend[trend["location_name"].isin(shown_names["location_name"])]
    st.altair_chart(charts.small_multiples(trend, column, measure, kind))
    partial = fmt.md_text(charts.partial_note(trend))
    st.caption(f"Weekly figures, Monday to Sunday, drawn at each Monday. {partial} {note}")
