"""The Data page's mapping questions: what a booking system's export does not say, asked once.

Layout only: the questions come from the adapter (pipelines.ingest.formats.needs.MappingNeeded),
the answers become a mapping file through pipelines.ingest.formats.mapped.save_answers, and the
preview is pipelines.ingest.formats.preview.preview.
"""

from __future__ import annotations

import streamlit as st

from dashboard import tables
from dashboard.format import md_text
from pipelines.ingest.formats.mapped import DATETIME_CHOICES, AnswerError
from pipelines.ingest.formats.needs import (
    DECIMAL_CHOICES,
    LOCALE_CHOICES,
    MappingNeeded,
    Question,
    with_file_questions,
)
from pipelines.ingest.formats.preview import preview

VENDOR_NAMES = {
    "acuity": "Acuity",
    "calendly": "Calendly",
    "fresha": "Fresha",
    "ics": "calendar (ICS)",
    "jane": "Jane",
    "mapped": "booking-system",
    "mindbody": "Mindbody",
    "square": "Square",
    "vagaro": "Vagaro",
}
CALENDAR_MEANINGS = {
    "therapist": "A therapist: each Calendar is one person's schedule",
    "room": "A treatment room: each Calendar is one room",
    "location": "A studio location: each Calendar is one of your studios",
}
NEW_LOCATION = "__new__"
NOT_IN_EXPORT = ""
STATUS_MEANINGS = {
    "completed": "Completed: the client came",
    "booked": "Booked: still to come",
    "no_show": "No-show: the client did not come",
    "cancelled": "Cancelled",
    "late_cancelled": "Cancelled late",
}


PENDING = "mapping_pending"  # session state: uploads waiting for answers
SAID = "mapping_said"  # session state: result lines to show (until the next upload)


def show_results(results, files, location: str | None) -> None:
    """One line per uploaded file; a file whose mapping lacks answers is kept (in this
    session only) to load once they are given below."""
    pending, said = [], []
    for result, upload in zip(results, files, strict=True):
        if result.needs:
            pending.append(
                {
                    "name": result.file_name,
                    "data": upload.getvalue(),
                    "needs": result.needs,
                    "location": location,
                }
            )
            asked = with_file_questions(MappingNeeded.from_dict(result.needs))
            if asked.vendor == "mapped":
                # no format knows its header: it may be another system's export, or no export
                said.append(("error", md_text(result.summary())))
            elif result.needs["vendor"] == "mapped":  # Fresha in another language
                line = (
                    f"{result.file_name}: looks like a {VENDOR_NAMES[asked.vendor]} export in "
                    "another language: a few answers before it loads (below)"
                )
                said.append(("warning", md_text(line)))
            else:
                line = f"{result.file_name}: needs a few answers before it loads (below)"
                said.append(("warning", md_text(line)))
            continue
        kind = {"loaded": "success", "skipped": "info"}.get(result.outcome, "error")
        said.append((kind, md_text(result.summary())))
    st.session_state[PENDING] = pending
    st.session_state[SAID] = said


def ask_pending(db, allowed: tuple[str, ...] | None) -> None:
    """Ask the first waiting file's questions; on "Save and load", save the mapping in the
    mappings folder beside the warehouse and load every waiting file again (a second file of
    the same source needs nothing more)."""
    from dashboard import uploads
    from dashboard.queries import snapshot
    from pipelines.ingest.formats.mapped import mappings_folder, save_answers
    from pipelines.settings import load_settings

    for kind, line in st.session_state.get(SAID, []):  # the last load's lines, until the next
        getattr(st, kind)(line)
    pending = st.session_state.get(PENDING) or []
    if not pending:
        return
    first = MappingNeeded.from_dict(pending[0]["needs"])
    same = [p["name"] for p in pending if p["needs"]["source"] == first.source]
    # what the file's first rows raise too: a decimal comma, Fresha in another language
    need = with_file_questions(first)
    known = _locations(snapshot, allowed)
    answers = ask(need, same, known, allowed is None, key=f"map-{len(pending)}")
    if st.button("Not now", key=f"map-{len(pending)}-cancel"):
        st.session_state[PENDING] = []
        st.rerun()
    if answers is None:
        return
    try:
        saved = save_answers(mappings_folder(db), need, answers, allowed)
    except AnswerError as error:
        st.error(md_text(str(error)))
        return
    with st.spinner("Loading…"):
        results = uploads.load_uploads(
            db,
            [(p["name"], p["data"]) for p in pending],
            load_settings(),
            location=pending[0]["location"],
            allowed=allowed,
        )
    show_results(results, [_Held(p["data"]) for p in pending], pending[0]["location"])
    line = f"Saved the answers as {saved.name}; later files of this source load with them."
    st.session_state[SAID].insert(0, ("success", md_text(line)))
    st.rerun()  # the next run shows these lines, and no longer the questions they settled


class _Held:
    """A waiting upload's bytes, shaped like Streamlit's UploadedFile for show_results."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def getvalue(self) -> bytes:
        return self.data


def _locations(snapshot, allowed: tuple[str, ...] | None) -> list[tuple[str, str]]:
    """(id, name) of the locations the viewer may load into: those loaded, and for a
    manager every location of theirs even before it has data."""
    try:
        frame = snapshot.locations()
        known = list(zip(frame["location_id"], frame["location_name"], strict=True))
    except Exception:  # no warehouse yet: nothing loaded, nothing to offer
        known = []
    names = dict(known)
    for location in allowed or ():
        names.setdefault(location, location)
    if allowed is not None:
        names = {k: v for k, v in names.items() if k in allowed}
    return sorted(names.items(), key=lambda item: (item[1], item[0]))


def ask(
    need: MappingNeeded,
    file_names: list[str],
    locations: list[tuple[str, str]],
    may_add_location: bool,
    key: str,
) -> dict[str, str] | None:
    """Show the questions; the answers when "Save and load" is clicked, else None.

    `locations` are (id, name) pairs the viewer may load into; `may_add_location` lets an owner
    type a location id not loaded yet (a manager picks one of theirs)."""
    vendor = VENDOR_NAMES.get(need.vendor, need.vendor)
    renamed = any(q.key.startswith("headers.") for q in need.questions)
    files = ", ".join(f"“{md_text(name)}”" for name in file_names)
    with st.container(border=True):
        if need.vendor == "mapped":
            st.markdown(f"#### {files}: which column is which?")
            st.write(
                "This looks like an export of a booking system the loader does not know yet. "
                "Say once which column holds what; later files with the same columns load on "
                "their own."
            )
        else:
            article = "an" if vendor[0] in "AEIOU" else "a"
            what = f"{vendor} export in another language" if renamed else f"{vendor} export"
            st.markdown(f"#### {files}: {article} {what} needs a few answers")
            if renamed:
                st.write(
                    f"Its columns are named in another language. Say which of {vendor}'s "
                    "columns each one is (the guesses from its first rows are chosen), and "
                    f"what its words mean: they are saved, and later {vendor} files with these "
                    "columns load without asking."
                )
            else:
                st.write(
                    f"Your {vendor} export does not say these things. Answer them once: they "
                    f"are saved for this account, and later {vendor} files load without asking."
                )
        answers: dict[str, str] = dict(need.known)
        wide = need.vendor == "mapped" or renamed
        if wide:
            _sample(need)
        left, right = st.columns(2) if wide else (st.container(), None)
        shown = 0
        for question in need.questions:
            if question.key in need.known or not question.applies(answers):
                continue
            column = left if right is None or shown % 2 == 0 else right
            with column:
                answers[question.key] = _widget(
                    question, need, locations, may_add_location, f"{key}-{question.key}"
                )
            shown += 1
        if wide:
            st.markdown("**The first rows as they would load**")
            try:
                tables.show_table(preview(need, answers), f"{key}-preview", toggle=False)
            except AnswerError as error:
                st.info(md_text(f"The preview appears once everything is answered. {error}"))
        clicked = st.button("Save and load", type="primary", key=f"{key}-save")
    return answers if clicked else None


def _widget(
    question: Question,
    need: MappingNeeded,
    locations: list[tuple[str, str]],
    may_add_location: bool,
    key: str,
) -> str:
    label = question.prompt + ("" if question.required else " (optional)")
    if question.key == "source.location" or question.key.startswith("locations."):
        return _location(label, question.help, locations, may_add_location, key)
    proposed = (
        list(question.choices).index(question.proposed)
        if question.proposed in question.choices
        else None
    )
    if question.key in ("formats.decimal", "fresha.locale"):
        meanings = DECIMAL_CHOICES if question.key == "formats.decimal" else LOCALE_CHOICES
        return (
            st.radio(
                label,
                list(question.choices),
                format_func=lambda c: meanings.get(c, c),
                index=proposed,
                help=question.help,
                key=key,
            )
            or ""
        )
    if question.key.startswith("headers."):  # a column named in another language
        column = question.key.partition(".")[2]
        options = [NOT_IN_EXPORT, *question.choices]
        return (
            st.selectbox(
                f"{_column_label(need, column)} is {VENDOR_NAMES.get(need.vendor)}'s column",
                options,
                format_func=lambda c: "(not needed)" if c == NOT_IN_EXPORT else c,
                index=options.index(question.proposed) if question.proposed in options else 0,
                help=question.help,
                key=key,
            )
            or ""
        )
    if question.key == "fresha.rooms":  # several names: one a line in the answer
        chosen = st.multiselect(
            label,
            list(question.choices),
            default=[c for c in question.proposed.splitlines() if c in question.choices],
            help=question.help,
            key=key,
        )
        return "\n".join(chosen)
    if question.key.startswith("status_words."):
        return (
            st.selectbox(
                label,
                list(question.choices),
                format_func=lambda c: STATUS_MEANINGS.get(c, c),
                index=proposed,
                placeholder="Choose what it means",
                key=key,
            )
            or ""
        )
    if question.key == "acuity.calendar":
        calendars = ", ".join(row[0] for row in need.sample if row)
        help_ = question.help + (f" The first rows' Calendars: {calendars}." if calendars else "")
        return (
            st.radio(
                label,
                list(question.choices),
                format_func=lambda c: CALENDAR_MEANINGS.get(c, c),
                index=None,
                help=help_,
                key=key,
            )
            or ""
        )
    if question.key == "formats.datetime":
        return (
            st.selectbox(
                label,
                list(question.choices),
                format_func=lambda f: DATETIME_CHOICES.get(f, f),
                index=None,
                placeholder="Choose how the export writes them",
                help=question.help,
                key=key,
            )
            or ""
        )
    if question.choices:  # a column of the file
        options = (
            list(question.choices) if question.required else [NOT_IN_EXPORT, *question.choices]
        )
        return (
            st.selectbox(
                label,
                options,
                format_func=lambda h: _column_label(need, h),
                index=None if question.required else 0,
                placeholder="Choose a column",
                help=question.help or None,
                key=key,
            )
            or ""
        )
    return st.text_input(label, help=question.help or None, key=key).strip()


def _location(
    label: str,
    help_: str,
    locations: list[tuple[str, str]],
    may_add_location: bool,
    key: str,
) -> str:
    names = dict(locations)
    options = list(names) + ([NEW_LOCATION] if may_add_location else [])
    if not names and may_add_location:  # nothing loaded yet: type the id
        return st.text_input(label, help=help_, placeholder="for example L01", key=key).strip()
    picked = st.selectbox(
        label,
        options,
        format_func=lambda i: (
            "Another location (type its id)"
            if i == NEW_LOCATION
            else (f"{names[i]} ({i})" if names[i] != i else i)
        ),
        index=0 if len(options) == 1 else None,
        placeholder="Choose the location",
        help=help_,
        key=key,
    )
    if picked == NEW_LOCATION:
        return st.text_input("Location id", placeholder="for example L04", key=f"{key}-new").strip()
    return picked or ""


def _column_label(need: MappingNeeded, header: str) -> str:
    if header == NOT_IN_EXPORT:
        return "(not in this export)"
    index = need.header.index(header) if header in need.header else None
    example = next(
        (
            row[index]
            for row in need.sample
            if index is not None and index < len(row) and row[index]
        ),
        "",
    )
    return f"{header}  (e.g. {example[:30]})" if example else header


def _sample(need: MappingNeeded) -> None:
    import pandas as pd

    width = len(need.header)
    rows = [(list(row) + [""] * width)[:width] for row in need.sample]
    st.markdown("**The file's first rows**")
    st.dataframe(pd.DataFrame(rows, columns=_unique(need.header)), hide_index=True)


def _unique(header: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for name in header:
        seen[name] = seen.get(name, 0) + 1
        out.append(name if seen[name] == 1 else f"{name} ({seen[name]})")
    return out
