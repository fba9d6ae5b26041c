"""The dashboard's query cache keys a query by its parameters' values: location lists that
differ by one id, or a list against the same ids as a tuple, never share a cached result.

  A plain warehouse file with one table: L1 has 1 booking, L2 has 2, L10 has 10.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
import streamlit as st

from dashboard.queries.snapshot import acting_for, query

SQL = "select sum(n)::integer as n from bookings where list_contains(?, location_id)"


def test_each_location_list_has_its_own_cached_result(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "studio.duckdb"
    with duckdb.connect(str(db)) as con:
        con.execute("create table bookings (location_id varchar, n integer)")
        con.execute("insert into bookings values ('L1', 1), ('L2', 2), ('L10', 10)")
    monkeypatch.setenv("STUDIO_OPS_DB", str(db))
    st.cache_data.clear()
    try:
        with acting_for(None):
            first = [
                int(query(SQL, locations)["n"].iloc[0])
                for locations in (("L1",), ("L2",), ("L1", "L2"), ("L1", "L10"), ("L1",))
            ]
            # ids given as a list (the Clients page passes its windows so)
            as_list = int(query(SQL, ["L2", "L10"])["n"].iloc[0])
    finally:
        st.cache_data.clear()
    # 1; 2; 1 + 2; 1 + 10 (L1 and L10 share a prefix); L1 again from the cache
    assert first == [1, 2, 3, 11, 1]
    assert as_list == 12
