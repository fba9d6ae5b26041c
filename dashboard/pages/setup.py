"""Setup: the studio profile (rooms, bars, hours, therapists, shifts) shown and edited; owners."""

from zoneinfo import available_timezones

import streamlit as st

from dashboard import auth, profile_form
from dashboard.format import md_text
from dashboard.queries import setup as queries
from dashboard.queries import snapshot
from pipelines.profile import ProfileError, to_toml
from pipelines.settings import load_settings

VERSION = "setup_version"  # bumped after a save or a suggestion: the form starts again
SUGGESTED = "setup_suggested"  # a profile proposed from the data, not saved yet
OUTCOME = "setup_outcome"  # the last save's one line, shown after the page reloads
NEW = "+ Add a location"

st.title("Setup")

viewer = auth.viewer()
if viewer is None or not (viewer.sees_every_location and viewer.may_upload):
    st.info("The Setup page is for owners: it describes every location of the studio.")
    st.stop()

db = snapshot.warehouse_path()
stored = queries.stored_profile()
suggested = st.session_state.get(SUGGESTED)  # a profile_form.Suggestion
source = suggested.profile if suggested else stored
version = st.session_state.setdefault(VERSION, 0)
profile_path = profile_form.profile_file(db)

days_ahead = load_settings().profile_days_ahead
st.caption(
    "Describe your studio once: rooms and their ceiling bars, opening hours, closed days, and "
    "each therapist's bar training, weekly shifts, break and time off. Every load turns it into "
    f"the room calendar and shifts from your first booking to {days_ahead} days ahead, so no "
    "daily room or shift files are needed (a room or shift file for a day still wins)."
)

outcome = st.session_state.pop(OUTCOME, None)
if outcome:
    kind, line = outcome
    {"success": st.success, "info": st.info}.get(kind, st.error)(md_text(line))

demo = snapshot.is_demo()
if suggested is not None:
    st.warning(
        "**Suggested from your data, not saved yet.** Check each location (what was guessed "
        "is noted under its name), then save it, or discard the suggestion.",
        icon=":material/auto_fix_high:",
    )
elif stored is None and demo:
    # Save is off on the demo: point to a warehouse where it works rather than invite a save
    st.info(
        "The demo chain has no studio profile: its rooms and shifts come from room and shift "
        "files. Try **Suggest from my data** and the form here; to save a profile, start your "
        "own warehouse with `studio-ops init` and load your exports into it.",
        icon=":material/info:",
    )
elif stored is None:
    st.info(
        "No studio profile loaded yet, so the pages know only the rooms and shifts of room and "
        "shift files. Start with **Suggest from my data**, or fill in a location below and "
        "save.",
        icon=":material/info:",
    )
else:
    st.markdown(
        f":material/check_circle: Showing the profile every page uses, loaded from "
        f"**{md_text(stored.source)}**. Saving writes **{md_text(profile_path.name)}** beside "
        "the warehouse and loads it."
    )

try:
    beside = profile_form.file_profile(db)
except ProfileError as error:
    st.warning(f"{md_text(profile_path.name)} beside the warehouse has a problem: {md_text(error)}")
else:
    if beside is not None and stored is not None and beside != stored:
        st.warning(
            f"{md_text(profile_path.name)} beside the warehouse differs from the loaded "
            "profile (edited by hand and not loaded yet?). Load it with `studio-ops load`, or "
            "save here to replace it with what this page shows."
        )

# --- which location ---------------------------------------------------------------------------

in_profile = {loc.id: loc for loc in (source.locations if source else ())}
names = {loc.id: loc.name for loc in in_profile.values()}
loaded = snapshot.locations()
for location_id, name in zip(loaded["location_id"], loaded["location_name"], strict=True):
    names.setdefault(location_id, name)
options = [*names, NEW]
pick_column, suggest_column, download_column = st.columns([2, 1, 1], vertical_alignment="bottom")
picked = pick_column.selectbox(
    "Location to edit",
    options,
    format_func=lambda o: o if o == NEW else f"{names[o]} ({o})",
    key="setup_location",
    help="Locations of the profile, then locations loaded from exports that it does not "
    "describe yet.",
)
with suggest_column:
    if suggested is not None:
        if st.button("Discard the suggestion", icon=":material/undo:", width="stretch"):
            del st.session_state[SUGGESTED]
            st.session_state[VERSION] = version + 1
            st.rerun()
    else:
        can_suggest = profile_form.can_suggest()
        if st.button(
            "Suggest from my data",
            icon=":material/auto_fix_high:",
            disabled=not can_suggest,
            help="Proposes locations, therapists with the spellings seen, rooms named by the "
            "exports and opening hours from the last eight weeks. Nothing is saved until you "
            "save."
            if can_suggest
            else "Not available in this version yet.",
            width="stretch",
        ):
            try:
                st.session_state[SUGGESTED] = profile_form.suggestion(queries.profile_suggestion())
            except ProfileError as error:
                st.session_state[OUTCOME] = ("error", f"No suggestion: {error}")
            else:
                st.session_state[VERSION] = version + 1
            st.rerun()
with download_column:
    st.download_button(
        "Download TOML",
        data=to_toml(stored) if stored else "",
        file_name=profile_path.name,
        mime="application/toml",
        icon=":material/download:",
        on_click="ignore",
        disabled=stored is None,
        help="The loaded profile as a file: edit it in a text editor and load it with "
        "`studio-ops load`, or keep it as a copy.",
        width="stretch",
    )

if picked == NEW:
    new_id = st.text_input(
        "New location id", key="setup_new_id", placeholder="for example L04 or downtown"
    ).strip()
    if not new_id:
        st.caption(
            "Give the new location an id (letters, digits, '.', '_' or '-'), then its rooms."
        )
        st.stop()
    current = profile_form.LocationDraft(id=new_id)
elif picked in in_profile:
    current = profile_form.draft(in_profile[picked])
else:
    current = profile_form.LocationDraft(id=picked, name=names[picked])
    st.caption(
        "This location is loaded from exports but not described in the profile yet: add its "
        "rooms, hours and therapists."
    )
if suggested is not None and picked in suggested.notes:
    with st.expander("What was guessed for this location", expanded=True):
        st.caption("  \n".join(md_text(line) for line in suggested.notes[picked]))


def key(part: str) -> str:
    return profile_form.editor_key(part, current.id, version)


# --- the form ---------------------------------------------------------------------------------

zones = ["", *sorted(available_timezones())]
with st.form(f"setup-{current.id}", border=False):
    left, middle, right = st.columns(3)
    name = left.text_input("Name", value=current.name, key=key("name"))
    timezone = middle.selectbox(
        "Time zone",
        zones,
        index=zones.index(current.timezone) if current.timezone in zones else 0,
        format_func=lambda z: z or "not set",
        key=key("timezone"),
    )
    opened_on = right.date_input(
        "Opened on (optional)",
        value=current.opened_on,
        key=key("opened_on"),
        help="Clients count as new from this day. Leave it empty when the exports start "
        "after the studio opened.",
    )

    st.subheader("Opening hours")
    st.caption("One range a day, such as 09:00-20:00. Leave a day empty when the studio is closed.")
    hours = {}
    for column, day in zip(st.columns(7), profile_form.DAY_LABELS, strict=True):
        hours[day] = column.text_input(
            profile_form.DAY_LABELS[day],
            value=current.hours.get(day, ""),
            placeholder="closed",
            key=key(f"hours-{day}"),
        )
    closed_on = st.text_input(
        "Closed days",
        value=current.closed_on,
        placeholder="2026-12-25, 2027-01-01",
        help="Holidays and other days the whole studio is closed (YYYY-MM-DD, comma between).",
        key=key("closed_on"),
    )

    st.subheader("Rooms")
    st.caption("Tick *Ceiling bars* for rooms with bars (or a bar frame) for barefoot work.")
    rooms = st.data_editor(
        current.rooms,
        num_rows="dynamic",
        hide_index=True,
        width="stretch",
        key=key("rooms"),
        column_config={
            "id": st.column_config.TextColumn(
                "ID", help="Short and fixed, as room exports name it; made from the name if empty"
            ),
            "name": st.column_config.TextColumn("Name"),
            "bars": st.column_config.CheckboxColumn("Ceiling bars", default=False),
        },
    )

    st.subheader("Therapists")
    st.caption(
        "*Bar training* unknown is not a no. *Also known as*: how booking exports write the "
        "name, separated by ; (so they are matched to this therapist)."
    )
    therapists = st.data_editor(
        current.therapists,
        num_rows="dynamic",
        hide_index=True,
        width="stretch",
        key=key("therapists"),
        column_config={
            "id": st.column_config.TextColumn("ID", help="Made from the name if empty"),
            "name": st.column_config.TextColumn("Name"),
            "bar_training": st.column_config.SelectboxColumn(
                "Bar training", options=list(profile_form.TRAINING), default="unknown"
            ),
            "break_minutes": st.column_config.NumberColumn(
                "Break (min)", min_value=0, step=1, default=0, help="Unpaid break per working day"
            ),
            "time_off": st.column_config.TextColumn(
                "Time off", help="Days off (YYYY-MM-DD, comma between)"
            ),
            "also_known_as": st.column_config.TextColumn("Also known as"),
        },
    )

    st.subheader("Weekly shifts")
    st.caption(
        "One row per therapist, by ID. A day's shift such as 09:00-17:00, or two pieces "
        "09:00-12:00, 13:00-18:00; empty is a day off. No shifts on closed days or time off."
    )
    shifts = st.data_editor(
        current.shifts,
        num_rows="dynamic",
        hide_index=True,
        width="stretch",
        key=key("shifts"),
        column_config={
            "id": st.column_config.TextColumn("Therapist ID"),
            **{
                day: st.column_config.TextColumn(label)
                for day, label in profile_form.DAY_LABELS.items()
            },
        },
    )
    saved = st.form_submit_button(
        "Save and reload",
        type="primary",
        icon=":material/save:",
        # the loader refuses a studio's files in the demo chain, its profile too
        disabled=demo,
        help="The demo chain's profile cannot be saved: start your own warehouse with "
        "`studio-ops init`."
        if demo
        else None,
    )

if saved:
    edited = profile_form.LocationDraft(
        id=current.id,
        name=name,
        timezone=timezone or None,
        opened_on=opened_on,
        hours=hours,
        closed_on=closed_on,
        rooms=rooms,
        therapists=therapists,
        shifts=shifts,
    )
    others = [profile_form.draft(loc) for loc in in_profile.values() if loc.id != current.id]
    order = list(in_profile)
    drafts = sorted(
        [*others, edited],
        key=lambda d: order.index(d.id) if d.id in order else len(order),
    )
    try:
        profile = profile_form.check(drafts, profile_path.name)
    except ProfileError as error:
        st.error(f"Not saved: {md_text(error)}")
    else:
        with st.spinner("Saving and loading the profile…"):
            result = profile_form.save_profile(db, profile, load_settings())
        kind = {"loaded": "success", "skipped": "info"}.get(result.outcome, "error")
        st.session_state[OUTCOME] = (kind, result.summary())
        if result.outcome != "failed":
            st.session_state.pop(SUGGESTED, None)
            st.session_state[VERSION] = version + 1
        st.rerun()
