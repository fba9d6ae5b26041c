"""Sidebar filters (dates and locations), kept in the URL so a link reproduces the view.

URL parameters: ``locations`` (repeated), ``from`` and ``to`` (ISO dates) for the pages with a
date range; ``location`` and ``day`` for the Day page. A page's other parameters (the tables
shown, the Locations page's ranking) are left as they are.

The URL (st.query_params) wins when a page is opened from a link; within a session the last
choice is remembered across pages (navigation clears the URL); otherwise the defaults are the
four weeks up to the latest complete day, and every location. No location picked means every
location (the viewer's), so a chain of hundreds of studios is not hundreds of chips and
URL parameters.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import streamlit as st

from dashboard.format import md_text
from dashboard.queries import snapshot
from dashboard.queries import today as today_queries

DEFAULT_DAYS = 28
_SAVED = "saved_filters"


@dataclass(frozen=True)
class Filters:
    """What the viewer picked: locations (ids) and an inclusive date range."""

    locations: snapshot.Locations
    start: dt.date
    end: dt.date
    names: dict[str, str] = field(default_factory=dict, compare=False)
    everywhere: bool = False  # nothing picked: every location the viewer may see

    @property
    def days(self) -> int:
        """Number of days in the range."""
        return (self.end - self.start).days + 1

    @property
    def label(self) -> str:
        """The locations in a few words, names when there are a few: plain text, so pass it
        through format.md_text before it meets markdown (caption does)."""
        names = list(self.names.values())
        if len(names) == 1:
            return names[0]
        if self.everywhere:
            return f"All {len(names)} locations"
        return ", ".join(names) if len(names) <= 3 else f"{len(names)} locations"

    @property
    def caption(self) -> str:
        """The locations and the date range, for the line under a page's title (markdown: the
        names are escaped)."""
        return f"{md_text(self.label)} · {self.start:%d %b %Y} – {self.end:%d %b %Y}"


@dataclass(frozen=True)
class Day:
    """One location and one day (the Day page)."""

    location: str
    location_name: str
    day: dt.date
    # one line (plain text) when the day is not the one asked for: where the location's data
    # ends, or the nearest day with data to a day outside it
    note: str = ""


def _parse_date(text: str | None) -> dt.date | None:
    try:
        return dt.date.fromisoformat(text) if text else None
    except ValueError:
        return None


def _clip(day: dt.date, bounds: tuple[dt.date, dt.date]) -> dt.date:
    return min(max(day, bounds[0]), bounds[1])


def _saved() -> dict:
    return st.session_state.setdefault(_SAVED, {})


def _write_url(values: dict[str, str | list[str]]) -> None:
    """Write the filters' own URL parameters and leave the others (a page's own, such as the
    Locations page's rank=, and the tables shown): an empty value drops its parameter."""
    for name, value in values.items():
        if value:
            st.query_params[name] = value
        elif name in st.query_params:
            del st.query_params[name]


def _context() -> tuple[dict[str, str], tuple[dt.date, dt.date], dt.date] | None:
    """Location names, the date bounds and the latest complete day; None for an empty warehouse."""
    frame = snapshot.locations()
    bounds = snapshot.date_bounds()
    if frame.empty or bounds is None:
        st.info("The warehouse has no bookings yet. Load export files on the Data page.")
        return None
    names = dict(zip(frame["location_id"], frame["location_name"], strict=True))
    latest = snapshot.as_of_date() or bounds[1]
    return names, bounds, _clip(latest, bounds)


def sidebar() -> Filters | None:
    """Dates and locations in the sidebar; None (after a note) when there is nothing to show."""
    context = _context()
    if context is None:
        return None
    names, bounds, latest = context
    ids = list(names)
    saved = _saved()

    # Seed the widgets: URL first, then this session's last choice, then the defaults.
    if "filter_locations" not in st.session_state:
        from_url = [x for x in st.query_params.get_all("locations") if x in names]
        st.session_state.filter_locations = from_url or saved.get("locations") or []
    else:
        st.session_state.filter_locations = [
            x for x in st.session_state.filter_locations if x in names
        ]
    if "filter_dates" not in st.session_state:
        start = _parse_date(st.query_params.get("from"))
        end = _parse_date(st.query_params.get("to"))
        if start is None or end is None:
            start, end = saved.get("dates") or (
                latest - dt.timedelta(days=DEFAULT_DAYS - 1),
                latest,
            )
        st.session_state.filter_dates = (start, end)
    dates = tuple(st.session_state.filter_dates)
    if dates:
        st.session_state.filter_dates = tuple(sorted(_clip(d, bounds) for d in dates))

    with st.sidebar:
        st.multiselect(
            "Locations",
            options=ids,
            format_func=lambda x: names.get(x, x),
            key="filter_locations",
            placeholder=f"All {len(ids)} locations" if len(ids) > 1 else "All locations",
            help="Leave empty for every location, or pick the ones to compare.",
        )
        st.date_input(
            "Dates",
            key="filter_dates",
            min_value=bounds[0],
            max_value=bounds[1],
            format="YYYY-MM-DD",
            help=f"Data runs from {bounds[0]:%d %b %Y} to {bounds[1]:%d %b %Y}; "
            f"complete through {latest:%d %b %Y}.",
        )

    picked = list(st.session_state.filter_locations)
    chosen = tuple(picked) or tuple(ids)
    dates = tuple(st.session_state.filter_dates)
    start, end = (dates[0], dates[-1]) if dates else (latest, latest)
    saved["locations"] = picked
    saved["dates"] = (start, end)
    saved.setdefault("location", chosen[0])
    _write_url({"locations": picked, "from": start.isoformat(), "to": end.isoformat()})
    return Filters(chosen, start, end, {x: names[x] for x in chosen}, everywhere=not picked)


def _mark_day_picked() -> None:
    """The viewer chose the day (the Day widget): it stays when they change location."""
    _saved()["day_picked"] = True


def day_and_location() -> Day | None:
    """One location and one day in the sidebar.

    The default day is the latest complete day of the chosen location (not the chain's): a
    location whose data ends earlier opens on its own last day, with a note saying where its
    data ends. A day the viewer picked (in the URL or the Day widget) stays as the location
    changes; outside that location's data it moves to the nearest day with data, with a note.
    """
    context = _context()
    if context is None:
        return None
    names, _bounds, chain_latest = context
    ids = list(names)
    saved = _saved()

    if "filter_location" not in st.session_state or st.session_state.filter_location not in names:
        from_url = [x for x in st.query_params.get_all("location") if x in names]
        remembered = saved.get("location")
        st.session_state.filter_location = (
            from_url[0] if from_url else remembered if remembered in names else ids[0]
        )
    location = st.session_state.filter_location
    name = names[location]
    span = today_queries.location_span(location)
    if span is None:  # a location without a single location-day row
        st.info(f"No bookings, rooms or shifts for {md_text(name)} yet.")
        return None
    first, last, complete = span
    latest = _clip(complete or last, (first, last))

    if "filter_day" not in st.session_state or st.session_state.filter_day is None:
        from_url = _parse_date(st.query_params.get("day"))
        if from_url is not None:
            saved["day_picked"] = True
        st.session_state.filter_day = from_url or saved.get("day")
    note = ""
    wanted = st.session_state.filter_day
    if wanted is None or not saved.get("day_picked"):
        wanted = latest
        if latest < chain_latest:
            note = f"{name}'s data ends on {latest:%d %b %Y}."
    day = _clip(wanted, (first, last))
    if day != wanted:
        note = (
            f"{name} has no data on {wanted:%d %b %Y} (its data runs {first:%d %b %Y} – "
            f"{last:%d %b %Y}): showing {day:%d %b %Y}, the nearest day with data."
        )
    st.session_state.filter_day = day
    # the note stays while the view it explains does (a rerun finds the day already moved)
    if note:
        saved["day_note"] = (location, day, note)
    elif saved.get("day_note", (None, None, ""))[:2] == (location, day):
        note = saved["day_note"][2]
    else:
        saved.pop("day_note", None)

    with st.sidebar:
        st.selectbox(
            "Location", options=ids, format_func=lambda x: names.get(x, x), key="filter_location"
        )
        st.date_input(
            "Day",
            key="filter_day",
            min_value=first,
            max_value=last,
            format="YYYY-MM-DD",
            on_change=_mark_day_picked,
            # names come from the exports: a widget's help is markdown
            help=f"Defaults to {md_text(name)}'s latest complete day, {latest:%a %d %b %Y}.",
        )

    saved["location"] = location
    saved["day"] = day
    _write_url({"location": location, "day": day.isoformat()})
    return Day(location, name, day, note)
