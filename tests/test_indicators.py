"""The other targets' actual values: CSV import (a bad row refused with row and field, nothing
stored), planner-only and audited, on both backends; confirmed values only are official."""

from __future__ import annotations

import datetime as dt

import pytest

from planner.cli.main import main
from planner.core.access import User
from planner.core.accounts import set_account
from planner.core.indicators import NAMEPARKS, read_indicator_csv, target_status
from planner.errors import AccessDenied, ValidationError

PLANNER = User("alice", "planner")
NANSHAN_STAFF = User("ns", "district", "440305")

GOOD = """indicator,year,district_code,value,source,confidence,note
value_added,2025,,4350,深圳市统计局 2025 年统计公报,confirmed,
new_employees,2025,,150000,行业协会估算,estimate,
new_rd_institutions,2025,440305,6,南山区科创局,confirmed,
new_rd_institutions,2025,440304,5,福田区科创局,confirmed,
"""
BAD = """indicator,year,district_code,value,source,confidence,note
value_added,2024,,3900,统计公报,confirmed,
new_employees,20x5,,150000,估算,estimate,
firms_over_100yi,2025,999999,3,,sure,
"""


def test_a_bad_csv_is_refused_row_by_row_and_nothing_is_stored(store, plan):
    with pytest.raises(ValidationError) as err:
        read_indicator_csv(BAD.encode(), plan, name="bad.csv")
    got = {(p.place.split("row ")[-1], p.field) for p in err.value.problems}
    assert got == {("2", "year"), ("3", "district_code"), ("3", "source"), ("3", "confidence")}
    import pandas as pd

    raw = pd.read_csv(__import__("io").StringIO(BAD), dtype=str, keep_default_na=False)
    with pytest.raises(ValidationError):
        store.record_indicators(raw, user=PLANNER, comment="bad.csv")
    assert store.indicators().empty  # the good first row was not stored either
    assert store.audit_log(1)["outcome"].tolist() == ["invalid"]


def test_values_stored_and_shown_official_only_when_confirmed(store, plan):
    rows = read_indicator_csv(GOOD.encode(), plan)
    assert store.record_indicators(rows, user=PLANNER, comment="2025 figures") == 4
    stored = store.indicators()
    assert len(stored) == 4 and set(stored["recorded_by"]) == {"alice"}
    register, _ = store.load()
    status = target_status(plan, stored, register, dt.date(2026, 11, 29)).set_index("key")
    va = status.loc["value_added"]
    assert va["official_value"] == 4350 and va["confirmed"] and va["met"] is True  # > 4,200亿
    emp = status.loc["new_employees"]
    assert pd_isnull(emp["official_value"]) and emp["unconfirmed_value"] == 150000
    assert not emp["confirmed"] and emp["met"] is None  # an estimate decides nothing
    rd = status.loc["new_rd_institutions"]
    assert rd["official_value"] == 11 and rd["met"] is True  # 6 + 5 districts, >= 10
    assert status.loc["national_key_software_firms", "met"] is None  # nothing recorded
    counts = register.parks["namepark_level"].value_counts()
    expected = sum(int(counts.get(k, 0)) for k in ("national", "provincial", "municipal"))
    assert status.loc[NAMEPARKS, "official_value"] == expected  # from the register
    assert "baseline_value_added_2021" not in status.index  # a baseline is not a target
    # a later recording of the same year replaces the earlier one (both kept in the store)
    fix = rows.iloc[[0]].assign(value=4100.0)
    store.record_indicators(fix, user=PLANNER, comment="revised")
    status = target_status(plan, store.indicators(), register, dt.date(2026, 11, 29)).set_index("key")
    assert status.loc["value_added", "official_value"] == 4100 and status.loc["value_added", "met"] is False
    assert len(store.indicators()) == 5


def pd_isnull(x) -> bool:
    return x is None or x != x


def test_only_a_city_planner_records_values_and_refusals_are_recorded(store, plan):
    rows = read_indicator_csv(GOOD.encode(), plan)
    with pytest.raises(AccessDenied, match="只有市级规划人员"):
        store.record_indicators(rows, user=NANSHAN_STAFF)
    assert store.indicators().empty
    last = store.audit_log(1).iloc[0]
    assert last["action"] == "indicators" and last["outcome"] == "denied" and last["user"] == "ns"


def test_indicators_on_the_command_line(tmp_path, monkeypatch, capsys):
    set_account("alice", "planner", "correct-horse-1")
    set_account("vic", "viewer", "correct-horse-1")
    monkeypatch.setenv("PLANNER_PASSWORD", "correct-horse-1")
    good, bad = tmp_path / "good.csv", tmp_path / "bad.csv"
    good.write_text(GOOD, encoding="utf-8-sig")
    bad.write_text(BAD, encoding="utf-8")
    assert main(["indicators", "import", str(bad), "--user", "alice"]) == 1
    assert "bad.csv" in capsys.readouterr().err
    assert main(["indicators", "import", str(good), "--user", "vic"]) == 4
    assert main(["indicators", "import", str(good), "--user", "alice"]) == 0
    capsys.readouterr()
    assert main(["indicators", "list", "--json"]) == 0
    out = {r["key"]: r for r in __import__("json").loads(capsys.readouterr().out)}
    assert out["value_added"]["official_value"] == 4350 and out["value_added"]["met"] is True
    assert out["new_employees"]["official_value"] is None
