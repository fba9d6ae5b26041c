"""Data: upload exports, past loads, rejected rows and data-quality findings."""

from pathlib import Path

import streamlit as st

from dashboard import auth, mapping_questions, tables, uploads
from dashboard.queries import data as queries
from dashboard.queries import snapshot
from pipelines.settings import load_settings, shown_db_path

st.title("Data")

viewer = auth.viewer()
allowed = viewer.allowed() if viewer else ()
cap_mb = load_settings().max_upload_mb

st.subheader("Load export files")
if viewer is None or not viewer.may_upload:
    st.caption("Loading exports is for owners and managers; your account can read the data.")
else:
    # the loader refuses a studio's files in the demo chain: say so before anyone uploads
    demo = snapshot.is_demo()
    if demo:
        st.info(
            "The demo chain takes no uploads (its data is made up and never mixes with a "
            "studio's): start your own warehouse with `studio-ops init`, then load your "
            "exports into it.",
            icon=":material/science:",
        )
    with st.form("upload", clear_on_submit=True):
        files = st.file_uploader(
            "Booking, room and shift exports (CSV, XLSX, XLS, ICS)",
            accept_multiple_files=True,
            max_upload_size=cap_mb,
            help=f"At most {cap_mb} MB per file.",
        )
        location = st.text_input(
            "Location (only for exports that do not say which location they are from)",
            placeholder="for example downtown",
        )
        submitted = st.form_submit_button("Load files", type="primary", disabled=demo)
    location = location.strip() or None
    if submitted and files and location is not None and allowed is not None:
        if location not in allowed:
            st.error(f"{location}: not loaded: not one of your locations ({', '.join(allowed)})")
            files = []
    too_big = [f for f in files or [] if f.size > cap_mb * 1024 * 1024]
    for upload in too_big:
        st.error(
            f"{Path(upload.name).name}: not loaded: {upload.size / 1024 / 1024:,.1f} MB is over "
            f"the {cap_mb} MB upload limit; load it with `studio-ops load` instead"
        )
    files = [f for f in files or [] if f not in too_big]
    if submitted and files:
        with st.spinner("Loading…"):
            # in a child process, so a file that needs too much memory costs the app nothing
            results = uploads.load_uploads(
                shown_db_path(),
                [(upload.name, upload) for upload in files],
                load_settings(),
                location=location,
                allowed=allowed,
            )
        # a file whose mapping lacks answers waits below for them, instead of failing
        mapping_questions.show_results(results, files, location)
    elif submitted and not too_big:
        st.warning("Choose at least one file first.")
    mapping_questions.ask_pending(shown_db_path(), allowed)

if viewer is not None and viewer.sees_every_location:
    st.subheader("Loads")
    runs = queries.load_runs()
    if tables.has_rows(runs, "Nothing loaded yet."):
        tables.show_table(runs, "loads", toggle=False)

    st.subheader("Rejected rows")
    reasons = queries.rejected_reasons()
    if tables.has_rows(reasons, "No rows were rejected."):
        left, right = st.columns([1, 2])
        with left:
            tables.show_table(reasons, "rejected-reasons", toggle=False)
        with right:
            tables.show_table(queries.rejected_rows(), "rejected-rows", toggle=False)
else:
    st.caption(
        "The load history and rejected rows cover whole files, which can hold several "
        "locations, so only owners see them."
    )

st.subheader("Data-quality findings")
everywhere = tuple(snapshot.locations()["location_id"])
bounds = snapshot.date_bounds()
if bounds is None:
    st.info("No data yet.")
else:
    counts = queries.dq_counts(everywhere, *bounds)
    if tables.has_rows(counts, "No data-quality findings."):
        tables.show_table(
            counts.assign(kind=counts["kind"].map(lambda k: queries.DQ_KIND_LABELS.get(k, k))),
            "data-quality-counts",
            toggle=False,
        )
        findings = queries.dq_findings(everywhere, *bounds)
        tables.show_table(
            findings.assign(kind=findings["kind"].map(lambda k: queries.DQ_KIND_LABELS.get(k, k))),
            "data-quality-findings",
            toggle=False,
        )
