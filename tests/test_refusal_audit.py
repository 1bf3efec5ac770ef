"""Every refused write reaches the store's audit log, whatever layer refuses it (issue 12, item 10):
the app's district table (a forged row of another district, a year of 2031, a negative area) and
an import reusing another district's park id, on both backends."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import shapely
from streamlit.testing.v1 import AppTest

from planner.cli.main import main
from planner.core.access import User
from planner.core.accounts import set_account
from planner.store import open_store
from tests.conftest import as_account, inside, square
from tests.test_app import APP, TIMEOUT

BAOAN, NANSHAN = "440306", "440305"
LI = User("li", "district", BAOAN, "李科长")
PASSWORD = "correct-horse-1"


@pytest.fixture
def db(store_db: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("PLANNER_DB", store_db)
    return store_db


def _refusals(db: str):
    log = open_store(db).audit_log()
    return log[log["outcome"].isin(["invalid", "denied"])]


def _apply(rows: dict, added: list) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.session_state["user"] = as_account(LI)
    at.run()
    at.switch_page("pages/district.py").run()
    at.session_state[f"alloc_editor_{BAOAN}"] = {"edited_rows": rows, "added_rows": added, "deleted_rows": []}
    at.button(key="apply_allocations").click().run()
    assert not at.exception and at.error
    return at


def test_a_forged_row_of_another_district_is_recorded(db: str) -> None:
    before = open_store(db).version("main")
    forged = {"park_id": "szsib", "specialisation": "core_cluster", "area_m2": 1000,
              "delivery_year": 2024, "status": "planned"}  # fmt: skip
    _apply({}, [forged])
    (row,) = _refusals(db).to_dict("records")
    assert (row["user"], row["role"], row["action"], row["outcome"]) == ("li", "district", "save", "invalid")
    assert (
        "row 3" in row["detail"] and "[park_id]" in row["detail"] and "南山区" in row["detail"]
    )  # the park's district, named
    assert row["scenario"] == "main" and row["version"] == before.version
    assert open_store(db).version("main") == before  # nothing written


def test_validation_refusals_in_the_app_are_recorded(db: str) -> None:
    _apply({0: {"area_m2": -5}, 1: {"delivery_year": 2031}}, [])
    (row,) = _refusals(db).to_dict("records")
    assert (row["user"], row["outcome"]) == ("li", "invalid")
    assert "row 1 " in row["detail"] and "[area_m2]" in row["detail"]
    assert "row 2 " in row["detail"] and "[delivery_year]" in row["detail"] and "2031" in row["detail"]


def test_an_import_reusing_another_districts_park_id_is_recorded(
    db: str, plan, tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    set_account("li", "district", PASSWORD, district_code=BAOAN)
    monkeypatch.setenv("PLANNER_PASSWORD", PASSWORD)
    shape = square(inside(plan, BAOAN), 300)
    feature = {"type": "Feature", "geometry": shapely.geometry.mapping(shape),
               "properties": {"id": "szsib", "名称": "宝安新园", "占地面积": 90000}}  # fmt: skip
    path = tmp_path / "reuse.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [feature]}), encoding="utf-8")
    before = open_store(db).version("main")
    assert main(["import", str(path), "--user", "li", "--db", db]) == 1
    assert "szsib" in capsys.readouterr().out
    (row,) = _refusals(db).to_dict("records")
    assert (row["user"], row["role"], row["action"], row["outcome"]) == (
        "li",
        "district",
        "import",
        "invalid",
    )
    assert "szsib" in row["detail"] and "reuse.geojson" in row["detail"]
    assert open_store(db).version("main") == before


def test_refused_scenario_commands_are_recorded(db: str, capsys, monkeypatch: pytest.MonkeyPatch) -> None:
    set_account("alice", "planner", PASSWORD)
    monkeypatch.setenv("PLANNER_PASSWORD", PASSWORD)
    assert main(["scenario", "copy", "main", "a/b", "--user", "alice", "--db", db]) != 0
    assert main(["scenario", "copy", "main", "main", "--user", "alice", "--db", db]) == 1
    assert main(["scenario", "delete", "main", "--yes-delete", "main", "--user", "alice", "--db", db]) == 1
    rows = _refusals(db)
    assert list(rows["action"])[::-1] == ["copy", "copy", "delete"]
    assert set(rows["user"]) == {"alice"} and set(rows["outcome"]) == {"invalid"}
    assert (
        rows["detail"].str.contains("already exists").any()
        and rows["detail"].str.contains("cannot be deleted").any()
    )
