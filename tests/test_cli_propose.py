"""``python -m planner propose`` and ``sites`` on the store's seed scenario (the real Shenzhen data)."""

from __future__ import annotations

import json

import geopandas as gpd
import pytest

from planner.cli import main as cli
from planner.core.accounts import set_account
from planner.core.plan import load_plan
from planner.store import compare, open_store

PASSWORD = "correct-horse-1"


@pytest.fixture
def accounts(monkeypatch) -> None:
    set_account("alice", "planner", PASSWORD)
    set_account("ns", "district", PASSWORD, district_code="440305")
    monkeypatch.setenv("PLANNER_PASSWORD", PASSWORD)


def run(capsys, *args: str) -> tuple[int, str, str]:
    rc = cli.main(list(args))
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_propose_json_has_the_issue_fields(capsys):
    rc, out, _ = run(capsys, "propose", "--as-of", "2024", "--json")
    data = json.loads(out)
    assert rc == 0
    assert data["target_m2"] == 3_000_000 and data["deadline"] == "2025-12-31"
    assert data["feasible"] is True and data["shortfall_m2"] == 0
    assert data["proposed_m2"] == pytest.approx(3_000_000 - data["counted_m2"])
    assert {"site", "district", "specialisation", "m2", "year"} <= set(data["allocations"][0])
    assert data["saved_as"] is None


def test_propose_out_of_reach_names_what_binds(capsys):
    rc, out, _ = run(capsys, "propose", "--as-of", "2024", "--target", "80000000", "--json")
    data = json.loads(out)
    assert rc == 0 and data["feasible"] is False and data["shortfall_m2"] > 0
    kinds = {b["kind"] for b in data["binding"]}
    assert "capacity" in kinds and "capacity_by_year" in kinds
    rc, text, _ = run(capsys, "propose", "--as-of", "2024", "--target", "80000000")
    assert "无法达标" in text and "缺口 shortfall" in text


def test_quota_file_min_and_max(capsys, tmp_path):
    quotas = tmp_path / "quotas.csv"
    quotas.write_text("区,下限,上限\n宝安,,500000\n", encoding="utf-8")
    rc, out, _ = run(capsys, "propose", "--as-of", "2024", "--quota-file", str(quotas), "--json")
    data = json.loads(out)
    baoan = sum(a["m2"] for a in data["allocations"] if a["district_key"] == "440306")
    assert rc == 0 and baoan <= 500_000 - 400_000  # 40万㎡ of 宝安's already count
    bad = tmp_path / "bad.csv"
    bad.write_text("区,下限\n火星,1\n", encoding="utf-8")
    rc, _, err = run(capsys, "propose", "--quota-file", str(bad))
    assert rc == 1 and "火星" in err and "row 2" in err
    rc, _, err = run(capsys, "propose", "--quota-file", str(tmp_path / "missing.csv"))
    assert rc == 2 and "missing.csv" in err


def test_save_as_makes_a_new_scenario_and_leaves_the_source(capsys, accounts):
    plan = load_plan()
    rc, out, _ = run(capsys, "propose", "--as-of", "2024", "--save-as", "方案A", "--user", "alice", "--json")
    data = json.loads(out)
    assert rc == 0 and data["saved_as"] == "方案A" and data["saved_version"] == 1
    store = open_store(None, plan)
    main, main_v = store.load("main")
    assert main_v.version == 1  # the source scenario is untouched
    proposal, v = store.load("方案A")
    assert v.comment.startswith("方案生成 proposal, 基于 from main v1") and '"as_of": 2024' in v.comment
    added = proposal.allocations[proposal.allocations["basis"] == "proposal"]
    assert added["area_m2"].sum() == pytest.approx(data["proposed_m2"])
    cmp = compare(plan, main, proposal)
    counted = cmp.totals.set_index("metric").loc["counted"]
    assert counted["delta"] == pytest.approx(data["proposed_m2"]) and counted["b"] >= 3_000_000 - 1
    # the name is taken now: refused, nothing written
    rc, _, err = run(capsys, "propose", "--save-as", "方案A", "--user", "alice")
    assert rc == 1 and "已存在" in err
    # district staff may not create scenarios: denied and recorded
    rc, _, _ = run(capsys, "propose", "--as-of", "2024", "--save-as", "方案B", "--user", "ns")
    assert rc == 4 and not store.exists("方案B")
    assert (store.audit_log()["outcome"] == "denied").any()


def test_save_as_needs_a_user(capsys):
    rc, _, err = run(capsys, "propose", "--save-as", "x")
    assert rc == 2 and "--user" in err


def test_sites_table_and_export(capsys, tmp_path):
    rc, out, _ = run(capsys, "sites", "--as-of", "2024", "--json")
    rows = {r["site_id"]: r for r in json.loads(out)}
    assert rc == 0 and rows["tencent_penguin"]["capacity_m2"] == pytest.approx(2_836_000)
    assert rows["szsp"]["usable"] is False and "land area" in rows["szsp"]["reason_en"]
    path = tmp_path / "sites.geojson"
    rc, out, _ = run(capsys, "sites", "--as-of", "2024", "--format", "geojson", "--out", str(path))
    layer = gpd.read_file(path)
    assert rc == 0 and len(layer) == len(rows) and "capacity_m2" in layer.columns
    rc, out, _ = run(capsys, "sites", "--format", "csv", "--out", str(tmp_path / "sites.csv"))
    assert rc == 0 and (tmp_path / "sites.csv").read_text(encoding="utf-8-sig").startswith("site_id")
