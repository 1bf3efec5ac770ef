"""The command line: check (text and JSON), export (RFC 7946 GeoJSON, GeoPackage, CSV), exit codes."""

from __future__ import annotations

import json
import subprocess
import sys

import geopandas as gpd
import pandas as pd
import pytest
import shapely

from planner.cli.main import main
from tests.conftest import ROOT


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "planner", *args], cwd=ROOT, capture_output=True, text=True, timeout=120
    )


def test_check_json_gives_the_real_picture(plan, seed_register):
    proc = run_cli("check", "--json")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    for key in (
        "target_m2",
        "deadline",
        "counted_m2",
        "gap_m2",
        "secured_m2",
        "by_district",
        "by_year",
        "by_status",
        "by_specialisation",
        "findings",
    ):
        assert key in out, key
    assert out["target_m2"] == 3_000_000 and out["deadline"] == "2025-12-31"
    assert out["gap_m2"] == out["target_m2"] - out["counted_m2"]
    assert sum(out["by_district"].values()) == out["counted_m2"] == sum(out["by_year"].values())
    assert set(out["by_district"]) >= {d.name_zh for d in plan.districts}
    assert {f["code"] for f in out["findings"]} >= {"TARGET_GAP", "PARK_OUTSIDE_CITY"}
    assert all(set(f) >= {"severity", "id", "code", "message"} for f in out["findings"])


def test_check_text_report_shows_units_and_chinese_labels(capsys):
    assert main(["check"]) == 0
    text = capsys.readouterr().out
    assert "新增产业空间" in text and "万㎡" in text and "m²" in text and "缺口 Gap" in text
    assert "official  187.53  computed  204.55" in text  # Nanshan: both areas side by side
    assert "深汕特别合作区" in text and "no boundary here" in text


def test_a_plan_without_a_new_space_target_checks_and_exits_0():
    """`check --plan tests/data/zhejiang`: its other targets are reported, with the register's counts."""
    proc = run_cli("check", "--plan", "tests/data/zhejiang")
    assert proc.returncode == 0, proc.stderr
    assert "本规划未设新增空间目标" in proc.stdout and "this plan sets no new-space target" in proc.stdout
    assert (
        "省级数字经济特色小镇 Provincial digital-economy towns (2020): >= 40 个; 登记册 register 4"
        in proc.stdout
    )
    assert (
        "数字经济“飞地”平台 Digital-economy enclave platforms (2020): >= 30 个; 登记册 register 1"
        in proc.stdout
    )
    assert "杭州市 Hangzhou" in proc.stdout and "official       —  computed 16869.83" in proc.stdout


def test_check_json_of_a_plan_without_a_new_space_target(tmp_path):
    proc = run_cli("check", "--plan", "tests/data/zhejiang", "--json")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)  # strict JSON: no NaN
    assert out["target_m2"] is None and out["gap_m2"] is None
    assert [t["key"] for t in out["targets"]] == ["pilot_zones", "digital_towns", "enclaves"]
    assert [t["counted"] for t in out["targets"]] == [None, 4, 1]
    assert [f["code"] for f in out["findings"] if f["code"] == "PARK_OUTSIDE_CITY"] == []


def test_planner_plan_chooses_the_plan_on_the_command_line(monkeypatch):
    monkeypatch.setenv("PLANNER_PLAN", "tests/data/zhejiang")
    proc = run_cli("check")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("浙江省推进数字经济发展2020年工作要点")


@pytest.mark.parametrize("layer", ["districts", "parks", "allocations"])
def test_export_geojson_is_rfc7946(tmp_path, layer):
    out = tmp_path / f"{layer}.geojson"
    assert main(["export", "--layer", layer, "--format", "geojson", "--out", str(out)]) == 0
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert doc["type"] == "FeatureCollection" and "crs" not in doc
    for feat in doc["features"]:
        geom = feat["geometry"]
        if geom is None:
            continue
        shape = shapely.geometry.shape(geom)
        for poly in getattr(shape, "geoms", [shape]):
            if poly.geom_type == "Polygon":
                assert shapely.is_ccw(poly.exterior) and all(not shapely.is_ccw(r) for r in poly.interiors)
        lon, lat = shapely.get_coordinates(shape)[0]
        assert 113 < lon < 116 and 22 < lat < 23.5
    if layer == "districts":
        props = {f["properties"]["code"]: f["properties"] for f in doc["features"]}
        assert props["440304"]["role"] == "centre" and "金融科技软件" in props["440304"]["specialisations_zh"]
        assert "大鹏新区" in props["440307"]["note"]
    if layer == "parks":
        p = {f["properties"]["id"]: f["properties"] for f in doc["features"]}
        assert p["szbay_eco"]["figures_conf"].startswith("memory") and p["szbay_eco"]["coord_conf"] == "est"


def test_export_gpkg_and_csv_keep_chinese_and_figures(tmp_path, seed_register):
    gpkg, csv = tmp_path / "parks.gpkg", tmp_path / "parks.csv"
    assert main(["export", "--layer", "parks", "--format", "gpkg", "--out", str(gpkg)]) == 0
    assert main(["export", "--layer", "parks", "--format", "csv", "--out", str(csv)]) == 0
    back = gpd.read_file(gpkg).set_index("id")
    src = seed_register.parks.set_index("id")
    assert back.crs.to_epsg() == 4326
    assert (back.loc[src.index, "name_zh"] == src["name_zh"]).all()
    pd.testing.assert_series_equal(back.loc[src.index, "gfa_m2"], src["gfa_m2"], check_names=False)
    table = pd.read_csv(csv, encoding="utf-8-sig").set_index("id")
    assert table.loc["tencent_penguin", "name_zh"] == "腾讯“互联网+”未来科技城(企鹅岛)"
    assert table.loc["tencent_penguin", "lon"] == pytest.approx(113.862)


def test_bad_arguments_and_unreadable_input_exit_2(tmp_path):
    proc = run_cli("export", "--layer", "roads", "--format", "geojson", "--out", str(tmp_path / "x"))
    assert proc.returncode == 2 and "roads" in proc.stderr
    proc = run_cli("check", "--plan", str(tmp_path / "nowhere"))
    assert proc.returncode == 2 and "no such plan folder" in proc.stderr
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "plan.toml").write_text("[plan", encoding="utf-8")
    proc = run_cli("check", "--plan", str(broken))
    assert proc.returncode == 2 and "TOML syntax error" in proc.stderr
    assert not (tmp_path / "x").exists()


def test_the_process_prints_what_main_prints_in_this_process(tmp_path, capsys):
    """``python -m planner`` (imports with the collector paused, then frozen) prints the same
    ``check --json`` as ``main`` called in a process that does neither, on the same store."""
    db = str(tmp_path / "s.gpkg")
    args = ["check", "--json", "--db", db, "--as-of", "2026-03-01", "--findings", "all"]
    assert main(args) == 0  # seeds the store
    here = capsys.readouterr().out
    proc = run_cli(*args)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == here
    assert json.loads(here)["monitor"]["warnings"]


def test_import_planner_loads_its_names_when_first_used():
    """``import planner`` loads no numpy, pandas or geopandas; each public name is its module's own,
    loaded on first use; a name it does not have is an AttributeError."""
    code = (
        "import sys, planner\n"
        "print(sorted(m for m in ('numpy', 'pandas', 'geopandas') if m in sys.modules))\n"
        "from planner.core.plan import load_plan\n"
        "print(planner.load_plan is load_plan, 'load_plan' in dir(planner))\n"
        "import importlib\n"
        "print(all(getattr(planner, n) is getattr(importlib.import_module(m), n)"
        " for n, m in planner._EXPORTS.items()), sorted(planner._EXPORTS) == sorted(planner.__all__))\n"
        "try:\n"
        "    planner.no_such_name\n"
        "except AttributeError as exc:\n"
        "    print('AttributeError', exc)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [
        "[]",
        "True True",
        "True True",
        "AttributeError module 'planner' has no attribute 'no_such_name'",
    ]


def test_check_loads_no_app_chart_report_password_token_look_alike_or_solver_module(tmp_path):
    """``python -m planner check`` starts quickly: it needs no app, charts, documents, password
    hashing, sign-in tokens, the confusables table of scenario names or the proposal solver; their
    modules are loaded by the commands that use them."""
    code = (
        "import sys, io, contextlib\n"
        "from planner.cli.main import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        f"    rc = main(['check', '--json', '--db', {str(tmp_path / 's.gpkg')!r}])\n"
        "names = ('streamlit', 'matplotlib', 'docx', 'scipy', 'argon2', 'itsdangerous', "
        "'confusable_homoglyphs', 'planner.core.propose', 'planner.core.sites')\n"
        "print(rc, [m for m in names if m in sys.modules])\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "0 []"
