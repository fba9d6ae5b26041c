"""Data: upload exports, past loads, rejected rows and data-quality findings."""

import inspect
import tempfile
from pathlib import Path

import streamlit as st

from dashboard import data, tables
from pipelines.load import load_files
from pipelines.settings import db_path, load_settings

st.title("Data")

st.subheader("Load export files")
with st.form("upload", clear_on_submit=True):
    files = st.file_uploader(
        "Booking, room and shift exports (CSV, XLSX, XLS, ICS)", accept_multiple_files=True
    )
    location = st.text_input(
        "Location (only for exports that do not say which location they are from)",
        placeholder="for example downtown",
    )
    submitted = st.form_submit_button("Load files", type="primary")
if submitted and files:
    with tempfile.TemporaryDirectory(prefix="studio-ops-upload-") as folder:
        paths = []
        for number, upload in enumerate(files):
            # one sub-folder per upload keeps the original file name, even for two same names
            path = Path(folder) / str(number) / Path(upload.name).name
            path.parent.mkdir()
            path.write_bytes(upload.getvalue())
            paths.append(path)
        # report and record the names people uploaded, not the temp folder
        extra = {}
        if "display_names" in inspect.signature(load_files).parameters:
            extra["display_names"] = {path: path.name for path in paths}
        with st.spinner("Loading…"):
            results = load_files(
                db_path(), paths, load_settings(), location=location.strip() or None, **extra
            )
    for result in results:
        show = {"loaded": st.success, "skipped": st.info}.get(result.outcome, st.error)
        show(result.summary())
elif submitted:
    st.warning("Choose at least one file first.")

st.subheader("Loads")
runs = data.load_runs()
if tables.has_rows(runs, "Nothing loaded yet."):
    tables.show_table(runs, "loads")

st.subheader("Rejected rows")
reasons = data.rejected_reasons()
if tables.has_rows(reasons, "No rows were rejected."):
    left, right = st.columns([1, 2])
    with left:
        tables.show_table(reasons, "rejected-reasons")
    with right:
        tables.show_table(data.rejected_rows(), "rejected-rows")

st.subheader("Data-quality findings")
everywhere = tuple(data.locations()["location_id"])
bounds = data.date_bounds()
if bounds is None:
    st.info("No data yet.")
else:
    counts = data.dq_counts(everywhere, *bounds)
    if tables.has_rows(counts, "No data-quality findings."):
        tables.show_table(
            counts.assign(kind=counts["kind"].map(lambda k: data.DQ_KIND_LABELS.get(k, k))),
            "data-quality-counts",
        )
        findings = data.dq_findings(everywhere, *bounds)
        tables.show_table(
            findings.assign(kind=findings["kind"].map(lambda k: data.DQ_KIND_LABELS.get(k, k))),
            "data-quality-findings",
        )
