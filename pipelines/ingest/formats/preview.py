"""The Data page's preview of a generic mapping being answered: the first rows of the file as
the loader would read them with those answers.

Apart from mapped.py (the generic adapter) because it runs the whole read (read_export, which
tries every adapter) and the validator: the adapter itself must not import the registry that
imports it.
"""

from __future__ import annotations

import csv
import tempfile
from pathlib import Path

import duckdb

from pipelines.ingest.formats import read_export
from pipelines.ingest.formats.base import ExportError
from pipelines.ingest.formats.mapped import SAMPLE_ROWS, AnswerError, answers_to_data, to_toml
from pipelines.ingest.formats.needs import MappingNeeded
from pipelines.ingest.validate import validate


def preview(need: MappingNeeded, answers: dict[str, str], rows: int = SAMPLE_ROWS):
    """The first rows of the file as the loader would read them with these answers (a pandas
    DataFrame: line, start, end, therapist, service, status, price, and the reason a row would
    be rejected), or an AnswerError saying what is still unanswered. Reads only the sample the
    MappingNeeded carries, in an in-memory DuckDB; client details are left out."""
    data = answers_to_data(need, answers)
    with tempfile.TemporaryDirectory(prefix="studio-ops-preview-") as folder:
        sample = Path(folder) / "sample.csv"
        with open(sample, "w", encoding="utf-8", newline="") as out:
            csv.writer(out).writerows([need.header, *need.sample[:rows]])
        mapping_file = Path(folder) / "mapping.toml"
        mapping_file.write_text(to_toml(data), encoding="utf-8")
        con = duckdb.connect()
        try:
            read = read_export(
                sample, con, "preview_rows", mapping=mapping_file, salt=lambda: "preview"
            )
            validate(con, read.kind, read.table, "preview_checked", read.params, read.raw_row)
            # rows the read itself rejected (a date-time the format does not read, a price
            # with a decimal comma) are shown too, with their reason: the answer to change
            con.execute("create temp table preview_rejects (line_number bigint, reason varchar)")
            if read.rejects:
                con.executemany(
                    "insert into preview_rejects values (?, ?)",
                    [
                        (line, reason.replace(f"mapping file {mapping_file}", "your answers"))
                        for line, reason, _ in read.rejects
                    ],
                )
            return con.execute(
                """
                select r.line_number as line, r.start_at as start,
                    coalesce(r.end_at, r.duration_minutes || ' min') as "end",
                    r.therapist_id as therapist, r.service, r.status, r.price,
                    coalesce(c.reason, 'ok') as "would load?"
                from preview_rows as r join preview_checked as c using (line_number)
                union all
                select line_number, null, null, null, null, null, null, reason
                from preview_rejects
                order by line
                """
            ).df()
        except ExportError as error:
            # the file of the answers is temporary: its name would mean nothing on the page
            said = str(error).replace(f"mapping file {mapping_file}", "your answers")
            raise AnswerError(said) from None
        finally:
            con.close()
