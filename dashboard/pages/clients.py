"""Clients & retention: cohort activity, cohorts, rebooking, first therapist/service, lists."""

import datetime as dt

import pandas as pd
import streamlit as st

from dashboard import charts, filters, gaps, tables, tiles
from dashboard import format as fmt
from dashboard.mapping_questions import VENDOR_NAMES
from dashboard.queries import clients as queries
from dashboard.queries import kpis, snapshot
from dashboard.queries.gaps import data_gaps

st.title("Clients & retention")
picked = filters.sidebar()
if picked is None:
    st.stop()
settings = snapshot.settings_in_force()
symbol = settings.currency_symbol
as_of = snapshot.as_of_date()
targets = kpis.targets(picked.locations)

# The tiles: the chosen dates against the days just before and the same dates a year earlier.
# New clients are not counted before every chosen location's history start (empty, not 0).
_starts = snapshot.history_start(picked.locations)
_counted_from = _starts["new_clients_from"].min() if len(_starts) == len(picked.locations) else None


def _client_totals(periods: kpis.Periods) -> dict[str, dict | None]:
    found = kpis.kpi_totals_over(picked.locations, periods)
    returned = kpis.returns_total_over(picked.locations, periods)
    out: dict[str, dict | None] = {}
    for name, figures in found.items():
        if figures is None:
            out[name] = None
            continue
        end = getattr(periods, name)[1]
        if _counted_from is not None and end < pd.Timestamp(_counted_from).date():
            figures["new_clients"] = None
        out[name] = figures | returned[name]
    return out


tiles.show(
    [
        tiles.Tile("New clients", "new_clients", "count", help=fmt.meaning("new_clients")),
        tiles.Tile("Rebooking rate", "rebooking_rate", help=fmt.meaning("rebooking_rate")),
    ]
    + [
        tiles.Tile(
            f"{days}-day return",
            f"return_{days}",
            help=f"New clients whose {days} days after their first visit ended in these dates: "
            f"the share who came back within {days} days (at any location).",
        )
        for days in settings.retention_windows_days
    ],
    _client_totals(kpis.comparison_periods(picked.start, picked.end)),
    picked.start,
    picked.end,
    symbol,
    targets,
    lead=picked.caption,
)

span = st.segmented_control(
    "Clients whose first visit was in",
    ["the last 12 months", "the chosen dates"],
    default="the last 12 months",
    help="Cohorts need months of history; the last 12 months end on the last chosen day.",
)
if span == "the chosen dates":
    first_from = picked.start
else:
    first_from = (picked.end.replace(day=1) - dt.timedelta(days=335)).replace(day=1)
where = (picked.locations, first_from, picked.end)
st.caption(
    f"{fmt.md_text(picked.label)} · first visits {first_from:%d %b %Y} – "
    f"{picked.end:%d %b %Y}. Data complete through {as_of:%d %b %Y}."
)

# clients seen before a location's history start are not new (they may have come before)
history = snapshot.history_start(picked.locations)
# one line for every history start, however many locations (the details in its tooltip)
starts = [
    f"{counted_from:%d %b %Y} at "
    + fmt.md_text(gaps.listed(list(same["location_name"]), len(history)))
    + f" (data from {first:%d %b %Y})"
    for (counted_from, first), same in history.groupby(
        ["new_clients_from", "first_booking_date"], sort=True
    )
]
if starts:
    st.caption(
        f"New clients are counted from {'; from '.join(starts)}: an earlier "
        "first visit in the data may be a client who came before.",
        help="A location's data starts with its first booking, but its clients did not: a "
        "first visit in its first weeks of data was probably a returning client. Such clients "
        "belong to no cohort. The studio profile's opened_on sets the day a location opened; "
        "the setting new_client_lookback_days sets how long after the first booking new "
        "clients start to count.",
    )

windows = queries.retention_windows()
cohorts = queries.retention_cohorts(*where)
early = (
    "No new clients in these months yet: new clients are counted from "
    f"{history['new_clients_from'].min():%d %b %Y} (see above)."
    if len(history)
    else tables.NO_DATA
)
# the chart first, then the table of the same months (behind its toggle)
st.subheader("Cohort activity")
activity = queries.cohort_activity(*where)
if tables.has_rows(activity, early):
    st.altair_chart(charts.cohort_heatmap(activity), width="stretch")
    st.caption(
        "Share of each first-visit month's clients who came back for a visit 1, 2, 3 … "
        "calendar months later."
    )


st.subheader("Do new clients come back?")
if tables.has_rows(cohorts, early):
    st.caption(
        "Each cell: share of a month's new clients who came back within N days, with how many "
        "could have (clients whose N days have passed). **open** = too recent to tell yet."
    )
    tables.show_table(fmt.cohort_table(cohorts, windows), "retention-cohorts", people=False)

st.subheader("Rebooking rate")
rebooking = queries.rebooking_trend(picked.locations, picked.start, picked.end)
missing = data_gaps(picked.locations, picked.start, picked.end)
if gaps.missing(missing, "created"):
    # a source that never says when a booking was made cannot tell a rebooking: no rate at all
    gaps.show(missing, ("created",))
    rebooking = rebooking.iloc[0:0] if missing["created_known"].sum() == 0 else rebooking
if rebooking.empty and not gaps.missing(missing, "created"):
    st.info("No completed visits in the chosen dates.")
elif not rebooking.empty:
    # the rebooking target, a dashed line (settings [targets]; none set, no line)
    goal = tiles.target_lines(
        targets, "rebooking_rate", picked.names, together=True
    ) or tiles.target_lines(targets, "rebooking_rate", picked.names)
    st.altair_chart(
        charts.rate_line(rebooking, "rebooking_rate", "Rebooking rate", target=goal),
        width="stretch",
    )
    st.caption(
        "Share of completed visits (in the chosen dates) where the client booked again the "
        "same day, week by week (Monday to Sunday). " + fmt.md_text(charts.partial_note(rebooking))
    )

st.subheader("Return by first therapist and first service")
window = st.segmented_control(
    "Came back within",
    windows,
    default=windows[0] if windows else None,
    format_func="{} days".format,
)
if window:
    left, right = st.columns(2)
    for column, by, title in (
        (left, "therapist", "First therapist"),
        (right, "service", "First service"),
    ):
        with column:
            st.markdown(f"**{title}**")
            result = queries.retention_by_first(*where, by, window)
            if tables.has_rows(result, early):
                # the rate next to the name: half the page wide, the last column was cut off
                shown = result[["first_by", "return_rate", "new_clients", "eligible", "returned"]]
                shown = shown.rename(columns={"first_by": f"first_{by}"})
                # no client's window has closed yet: too recent to tell, as in the cohorts
                tables.show_table(
                    shown, f"return-by-first-{by}", symbol, blank={"return_rate": "open"}
                )


# A booking source as people say it; 'native' files come from the studio's own system.
SYSTEM_NAMES = {**VENDOR_NAMES, "native": "native file"}


def system_name(source: str | None) -> str | None:
    return None if source is None or pd.isna(source) else SYSTEM_NAMES.get(source, source)


def client_ref_note(listed: pd.DataFrame) -> str:
    """One line on the Client ref column: the booking system's own client id, and which of the
    listed clients' systems give none (their exports carry no client id)."""
    named = listed.assign(system=listed["booking_system"].map(system_name))
    with_ref = named.dropna(subset=["client_ref"])["system"].dropna().unique()
    without = sorted(set(named["system"].dropna()) - set(with_ref))
    note = "Client ref: the booking system's own client id"
    if len(with_ref):
        # a native file's ids are those of whatever system the studio exported it from
        where = sorted(
            "your booking system" if name == SYSTEM_NAMES["native"] else name for name in with_ref
        )
        note += f" (look the client up in {' or '.join(where)} by this id)"
    if without:
        note += f". {', '.join(without)} exports carry no client id: – in those rows"
    return note + "."


st.subheader("Clients to win back")
st.caption(
    f"No visit for {settings.at_risk_days}+ days (**at risk**) or {settings.lapsed_days}+ days "
    f"(**lapsed**) before {as_of:%d %b %Y}, and nothing booked; by the location of their first "
    "visit. The warehouse holds no names or contact details: find the client in their booking "
    "system by the client ref."
)
clients = queries.client_lists(picked.locations, settings.at_risk_days, settings.lapsed_days)
if tables.has_rows(clients, "No at-risk or lapsed clients."):
    counts = queries.client_list_counts(
        picked.locations, settings.at_risk_days, settings.lapsed_days
    )
    left, right = st.columns(2)
    left.metric("At risk", fmt.count(counts["at risk"]), border=True)
    right.metric("Lapsed", fmt.count(counts["lapsed"]), border=True)
    if sum(counts.values()) > len(clients):
        st.caption(
            f"Showing the {fmt.count(len(clients))} most recently seen of "
            f"{fmt.count(sum(counts.values()))}: the likeliest to come back."
        )
    st.caption(fmt.md_text(client_ref_note(clients)))
    systems = clients["booking_system"].map(system_name)
    tables.show_table(
        clients.assign(booking_system=systems),
        "clients-to-win-back",
        symbol,
        blank={"client_ref": "–", "booking_system": "–"},
    )
