"""What a selection's figures lack, in one line each: which data is missing and how to add it.

The counts come from dashboard.queries.gaps.data_gaps (one row per location); `lines` turns them
into sentences (pure, testable), and `show` puts them on a page. A figure without its data is
left empty, with one of these lines, never drawn as 0% or $0.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard.format import md_text

# what each kind of line is about, in the order a page shows them
KINDS = ("rooms", "bar_rooms", "inferred", "shifts", "training", "prices", "created")


def listed(names: list[str], total: int) -> str:
    """ "Eastside", "Eastside and Westside", or "Eastside, Westside and 10 more" (of a chain)."""
    shown = [str(n) for n in names[:2]]
    if len(names) > 2:
        rest = len(names) - 2
        return f"{', '.join(shown)} and {rest:,} more of {total:,} locations"
    return " and ".join(shown)


def _day(value: object) -> str:
    return f"{pd.Timestamp(value):%d %b %Y}"


def lines(gaps: pd.DataFrame, kinds: tuple[str, ...] = KINDS) -> list[tuple[str, str]]:
    """(kind, sentence) for each kind of missing data in `gaps` (plain text, not markdown)."""
    out: list[tuple[str, str]] = []
    if gaps is None or gaps.empty:
        return out
    total = len(gaps)

    def where(mask: pd.Series) -> list[str]:
        return list(gaps.loc[mask, "location_name"])

    for kind in kinds:
        if kind == "rooms":
            never = where(gaps["room_days_ever"] == 0)
            if never:
                out.append(
                    (
                        kind,
                        f"No rooms for {listed(never, total)} yet: add them on the Setup page "
                        "or load a room calendar.",
                    )
                )
            elsewhere = gaps[(gaps["room_days"] == 0) & (gaps["room_days_ever"] > 0)]
            if len(elsewhere) == 1:
                row = elsewhere.iloc[0]
                out.append(
                    (
                        kind,
                        f"No room calendar for {row['location_name']} in these dates (it covers "
                        f"{_day(row['room_calendar_from'])} – {_day(row['room_calendar_to'])}): "
                        "add the rooms on the Setup page, which fills every day, or load a "
                        "room calendar for these dates.",
                    )
                )
            elif len(elsewhere) > 1:
                out.append(
                    (
                        kind,
                        f"No room calendar for {listed(list(elsewhere['location_name']), total)} "
                        "in these dates: add the rooms on the Setup page, which fills every "
                        "day, or load a room calendar for these dates.",
                    )
                )
        elif kind == "bar_rooms":
            bare = where((gaps["room_days"] > 0) & (gaps["bar_room_days"] == 0))
            if bare:
                out.append(
                    (
                        kind,
                        f"No room with ceiling bars for {listed(bare, total)}: mark the rooms "
                        "that have bars on the Setup page or in the room calendar (has_bars).",
                    )
                )
        elif kind == "inferred":
            inferred = int(gaps["inferred_rooms"].sum())
            if inferred:
                out.append(
                    (
                        kind,
                        (
                            "The room of 1 booking was inferred"
                            if inferred == 1
                            else f"Rooms of {inferred:,} bookings were inferred"
                        )
                        + ": the export names no room (each took the first free room that "
                        "fits, bar work a bar room).",
                    )
                )
        elif kind == "shifts":
            never = where(gaps["shift_days_ever"] == 0)
            if never:
                out.append(
                    (
                        kind,
                        f"No shifts for {listed(never, total)} yet: add the therapists' weekly "
                        "shifts on the Setup page or load a shift export.",
                    )
                )
            elsewhere = where((gaps["shift_days"] == 0) & (gaps["shift_days_ever"] > 0))
            if elsewhere:
                out.append(
                    (
                        kind,
                        f"No shifts for {listed(elsewhere, total)} in these dates: add the "
                        "therapists' weekly shifts on the Setup page or load a shift export.",
                    )
                )
        elif kind == "training":
            unknown = gaps[gaps["training_unknown"] > 0]
            if len(unknown):
                count = int(unknown["training_unknown"].sum())
                who = "1 therapist's" if count == 1 else f"{count:,} therapists'"
                out.append(
                    (
                        kind,
                        f"Bar training unknown: {who} training at "
                        f"{listed(list(unknown['location_name']), total)} is in no shift export "
                        "or profile. Set it on the Setup page (bar_trained).",
                    )
                )
        elif kind == "prices":
            unpriced = where((gaps["completed"] > 0) & (gaps["priced"] == 0))
            if unpriced:
                out.append(
                    (
                        kind,
                        f"Revenue and RevPATH are empty for {listed(unpriced, total)}: no prices "
                        "in the exports. Load a booking export with a price column to see them.",
                    )
                )
        elif kind == "created":
            # a source that never records created_at cannot tell a rebooking (metric dictionary)
            unknown = gaps[
                (gaps["completed"] > 0)
                & ((gaps["rebooking_known"] == 0) | (gaps["created_known"] == 0))
            ]
            never = list(unknown.loc[unknown["created_known"] == 0, "location_name"])
            later = list(unknown.loc[unknown["created_known"] > 0, "location_name"])
            if never:
                out.append(
                    (
                        kind,
                        f"Rebooking rate is empty for {listed(never, total)}: the booking "
                        "export never says when a booking was made (no created_at).",
                    )
                )
            if later:
                out.append(
                    (
                        kind,
                        f"Rebooking rate is empty for {listed(later, total)}: the exports do "
                        "not say when the clients' next bookings were made.",
                    )
                )
    return out


def missing(gaps: pd.DataFrame, kind: str) -> bool:
    """True when `kind` of data is missing for some location of the selection."""
    return bool(lines(gaps, (kind,)))


# what each kind of line lacks, in a word or two, for the one-line summary of `show`
LACKS = {
    "rooms": "rooms",
    "bar_rooms": "bar rooms",
    "shifts": "shifts",
    "training": "bar training",
    "prices": "prices",
    "created": "booking dates",
}


def show(gaps: pd.DataFrame, kinds: tuple[str, ...] = KINDS) -> None:
    """The lines for `kinds` in one line each, so the figures stay above the fold at 1280x800:
    inferred rooms as a caption (the how in its tooltip), missing data as one expander whose
    label names what is missing and whose body holds the full sentences (which data, for which
    locations, how to add it)."""
    found = lines(gaps, kinds)
    for kind, sentence in found:
        if kind == "inferred":
            # "Rooms of N bookings were inferred: the export names no room (how they were)."
            what, _, how = sentence.partition(" (")
            st.caption(md_text(f"{what}."), help=md_text(how.rstrip(").").capitalize() + "."))
    notes = [(kind, md_text(sentence)) for kind, sentence in found if kind != "inferred"]
    if notes:
        lacking = list(dict.fromkeys(LACKS[kind] for kind, _ in notes))
        with st.expander(
            f"Missing from the data: {', '.join(lacking)} (which figures stay empty, how to "
            "add it)",
            icon=":material/info:",
        ):
            st.markdown("\n".join(f"- {sentence}" for _, sentence in notes))


def note(gaps: pd.DataFrame, kind: str, otherwise: str) -> None:
    """The line for `kind` when it applies, else `otherwise` (for an empty chart or table)."""
    found = lines(gaps, (kind,))
    st.info(md_text(found[0][1]) if found else otherwise, icon=":material/info:")


# The data each measure needs, and what to say when a chart of it is empty for another reason.
NEEDS = {
    "room_utilization": ("rooms", "No room time was open in these dates."),
    "utilization": ("rooms", "No room time was open in these dates."),
    "bar_utilization": ("bar_rooms", "No bar-room time was open in these dates."),
    "bar_fit": ("bar_rooms", "No bar-room time was booked in these dates."),
    "therapist_utilization": ("shifts", "No shift time in these dates."),
    "revenue": ("prices", "No completed visits with a price in these dates."),
    # revenue per open room hour needs both: prices, and rooms to have open hours
    "revpath": (("prices", "rooms"), "No completed visits with a price in these dates."),
    "rebooking_rate": ("created", "No completed visits in these dates."),
}


def drawable(
    frame: pd.DataFrame, column: str, gaps: pd.DataFrame, measure: str | None = None
) -> bool:
    """True when `column` of `frame` has a figure to draw; else (all empty) the note on the data
    that `measure` (default: the column's name, a key of NEEDS) lacks, so no chart is drawn on
    an axis of nothing (a 0.000000% axis)."""
    if column in frame and frame[column].notna().any():
        return True
    needs, otherwise = NEEDS[measure or column]
    needs = (needs,) if isinstance(needs, str) else needs
    # the first of the data it needs that is missing says what to do
    kind = next((need for need in needs if missing(gaps, need)), needs[0])
    # a location without rooms lacks bar rooms too: the rooms line says what to do
    if kind == "bar_rooms" and missing(gaps, "rooms"):
        kind = "rooms"
    note(gaps, kind, otherwise)
    return False
