"""Each SQL model declares what it reads (`-- reads:`), and the build is ordered and checked by it.

The build runs against a copy of sql/ in tmp_path with one model edited, on a real warehouse
file; a model whose header and statement disagree stops the build with one line naming the
file, and nothing is published.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from pipelines.settings import Settings
from pipelines.warehouse import build, models, store
from pipelines.warehouse.build import build_marts
from pipelines.warehouse.models import model_scripts
from pipelines.warehouse.store import WarehouseError

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def sql(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the project's sql/ that the build reads instead of the real one."""
    copy = tmp_path / "project" / "sql"
    shutil.copytree(ROOT / "sql", copy)
    monkeypatch.setattr(models, "SQL_DIR", copy)
    monkeypatch.setattr(build, "SQL_DIR", copy)
    return copy


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{path.name} no longer holds {old!r}"
    path.write_text(text.replace(old, new, 1))


def build_into(db: Path) -> None:
    with store.building(db) as con:
        build_marts(con, Settings())


def test_a_model_reading_an_undeclared_table_stops_the_build(sql: Path, tmp_path: Path) -> None:
    # rpt_win_back reads dim_clients and rpt_as_of; its header now declares only rpt_as_of
    edit(
        sql / "marts" / "rpt_win_back.sql",
        "-- reads: dim_clients, rpt_as_of",
        "-- reads: rpt_as_of",
    )
    db = tmp_path / "w.duckdb"

    with pytest.raises(WarehouseError) as raised:
        build_into(db)

    assert str(raised.value) == (
        "sql/marts/rpt_win_back.sql: reads dim_clients, which its '-- reads:' line "
        "does not declare; add it there"
    )
    assert not db.exists()  # nothing published


def test_a_declared_table_the_model_does_not_read_stops_the_build(
    sql: Path, tmp_path: Path
) -> None:
    edit(
        sql / "marts" / "rpt_win_back.sql",
        "-- reads: dim_clients, rpt_as_of",
        "-- reads: dim_clients, fct_bookings, rpt_as_of",
    )

    with pytest.raises(WarehouseError) as raised:
        build_into(tmp_path / "w.duckdb")

    assert str(raised.value) == (
        "sql/marts/rpt_win_back.sql: its '-- reads:' line declares fct_bookings, "
        "which it does not read; remove it there"
    )


def test_a_staging_view_without_a_reads_line_stops_the_build(sql: Path, tmp_path: Path) -> None:
    edit(sql / "staging" / "stg_exports__rooms.sql", "-- reads: profile_rooms, raw_rooms\n", "")

    with pytest.raises(WarehouseError) as raised:
        build_into(tmp_path / "w.duckdb")

    assert str(raised.value) == (
        "sql/staging/stg_exports__rooms.sql: needs one '-- reads: <table>, ...' line "
        "naming what it reads (found 0)"
    )


def test_a_table_read_inside_a_cte_of_the_same_name_must_be_declared(
    sql: Path, tmp_path: Path
) -> None:
    # fct_therapist_weeks has `settings as (select * from settings)`: the CTE reads the table
    edit(
        sql / "marts" / "fct_therapist_weeks.sql",
        "-- reads: fct_therapist_days, settings",
        "-- reads: fct_therapist_days",
    )

    with pytest.raises(WarehouseError, match="reads settings, which its '-- reads:' line"):
        build_into(tmp_path / "w.duckdb")


def test_build_order_comes_from_the_reads_lines_not_from_names_in_comments(
    sql: Path, tmp_path: Path
) -> None:
    # A comment in int_booking_sources (which fct_bookings reads) naming rpt_win_back (which
    # reads, through dim_clients, fct_bookings): matching names in the text made that a circle.
    edit(
        sql / "intermediate" / "int_booking_sources.sql",
        "-- reads: raw_bookings",
        "-- (the clients to win back, rpt_win_back, are counted from fct_bookings)\n"
        "-- reads: raw_bookings",
    )
    db = tmp_path / "w.duckdb"

    build_into(db)

    order = [script.stem for script in model_scripts()]
    position = {name: index for index, name in enumerate(order)}
    # every model runs after each model its header declares
    for script in model_scripts():
        text = script.read_text()
        declared = models.declared_reads(script, text)
        assert all(position[name] < position[script.stem] for name in declared & position.keys())
    assert position["int_booking_sources"] < position["fct_bookings"] < position["rpt_win_back"]
    with store.connect(db, read_only=True) as con:
        assert con.execute("select count(*) from rpt_win_back").fetchone()[0] == 0


def test_the_midnight_cut_is_written_once() -> None:
    # Each cut at midnight (opening hours, shifts, bookings) is written in one model only, the
    # int_*_pieces model that the segments and the hourly capacity read.
    cuts = {
        "least(close_at, date + interval 1 day)": "int_opening_pieces.sql",
        "least(shift_end_at, date + interval 1 day)": "int_shift_pieces.sql",
        "least(end_at, day_start + interval 1 day)": "int_booking_pieces.sql",
    }
    for cut, model in cuts.items():
        holders = [
            path.name for path in sorted((ROOT / "sql").rglob("*.sql")) if cut in path.read_text()
        ]
        assert holders == [model], cut
