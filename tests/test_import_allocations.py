"""Imports that feed the target: allocation columns become allocations, footprints give land areas."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest

from planner.core.capacity import capacity_report
from planner.core.geo import WGS84
from planner.io.allocations import FOOTPRINT_NOTE, taken_columns
from planner.io.ingest import ImportRefused, confirm_import, preview_import
from tests.conftest import METRIC, inside, square


def _csv(plan, tmp_path, rows: list[dict]) -> str:
    path = tmp_path / "parks.csv"
    pd.DataFrame(rows).to_csv(path, index=False, encoding="utf-8-sig")
    return str(path)


def _row(plan, name, code, dx, **extra):
    pt = inside(plan, code, dx, 500.0)
    return {"名称": name, "经度": pt.x, "纬度": pt.y, "状态": "在建", **extra}


def test_allocation_columns_become_allocations_and_count(plan, seed_register, tmp_path):
    path = _csv(
        plan, tmp_path,
        [
            _row(plan, "龙岗工业软件园", "440307", 0, 交付年份=2024, **{"分配面积(万㎡)": 5, "专业方向": "工业软件"}),
            _row(plan, "福田金融科技楼", "440304", 0, 交付年份=2025, **{"分配面积(万㎡)": 2.5, "专业方向": "fintech"}),
            _row(plan, "宝安远期园区", "440306", 0, 交付年份=2027, **{"分配面积(万㎡)": 9, "专业方向": ""}),
            _row(plan, "罗湖无分配", "440303", 0, 交付年份=2024, **{"分配面积(万㎡)": "", "专业方向": ""}),
        ],
    )  # fmt: skip
    preview = preview_import(path, None, plan, seed_register)
    assert preview.ok, preview.problems
    a = preview.allocations
    assert a["area_m2"].tolist() == [50_000.0, 25_000.0]
    assert a["specialisation"].tolist() == ["industrial_software", "fintech"]
    assert a["delivery_year"].tolist() == [2024, 2025] and set(a["basis"]) == {"import"}
    not_taken = [w for w in preview.warnings if w.code == "allocation_not_taken"]
    assert (
        len(not_taken) == 1
        and "row 4" in not_taken[0].problem.place
        and "2027" in not_taken[0].problem.message_zh
    )
    assert "ignored_columns" not in {w.code for w in preview.warnings}  # the allocation columns were taken
    before = capacity_report(plan, seed_register).counted_m2
    register = confirm_import(preview, seed_register, plan)
    assert capacity_report(plan, register).counted_m2 == pytest.approx(before + 75_000)
    assert len(register.allocations) == len(seed_register.allocations) + 2
    assert len(seed_register.allocations) == 11  # the register passed in is unchanged
    out = preview.to_dict(plan)
    assert out["n_allocations"] == 2 and out["allocated_m2"] == 75_000
    taken = taken_columns(preview.columns, preview.allocation_columns)
    assert "分配面积(万㎡)" in taken["文件列"].tolist() and "名称" in taken["文件列"].tolist()


def test_bad_allocation_values_refuse_the_import_naming_row_and_field(plan, seed_register, tmp_path):
    path = _csv(
        plan, tmp_path,
        [
            _row(plan, "甲", "440307", 0, 交付年份=2024, 分配面积="很多", 专业方向="工业软件"),
            _row(plan, "乙", "440307", 300, 交付年份=2024, 分配面积=1000, 专业方向="火星软件"),
            _row(plan, "丙", "440307", 600, 交付年份=2024, 分配面积=-5, 专业方向=""),
        ],
    )  # fmt: skip
    preview = preview_import(path, None, plan, seed_register)
    found = {
        (i.problem.place.split(" (")[0].split(" ")[-1], i.problem.field, i.code) for i in preview.problems
    }
    assert ("2", "分配面积", "bad_number") in found
    assert ("3", "专业方向", "unknown_value") in found
    assert ("4", "分配面积", "negative_area") in found
    with pytest.raises(ImportRefused):
        confirm_import(preview, seed_register, plan)


def test_a_polygon_without_land_area_is_measured_from_its_footprint(plan, seed_register, tmp_path):
    shape = square(inside(plan, "440309", 0, 800.0), 200.0)
    gdf = gpd.GeoDataFrame(
        {"名称": ["龙华新地块"], "软件与信息服务新增空间": ["3万㎡"], "交付年份": [2025], "状态": ["规划"]},
        geometry=[shape],
        crs=WGS84,
    )
    path = tmp_path / "parcel.geojson"
    path.write_text(gdf.to_json(), encoding="utf-8")
    preview = preview_import(str(path), None, plan, seed_register)
    assert preview.ok, preview.problems
    expected = float(gpd.GeoSeries([shape], crs=WGS84).to_crs(METRIC).area.iloc[0])
    assert preview.parks["land_area_m2"].iloc[0] == pytest.approx(expected, abs=0.1)
    assert expected == pytest.approx(40_000, rel=1e-3)
    assert FOOTPRINT_NOTE in preview.parks["figures_conf"].iloc[0]
    assert "land_area_from_footprint" in {w.code for w in preview.warnings}
    assert preview.allocations["area_m2"].tolist() == [30_000.0]
    register = confirm_import(preview, seed_register, plan)
    park = register.parks[register.parks["name_zh"] == "龙华新地块"]
    assert park["land_area_m2"].iloc[0] == pytest.approx(expected, abs=0.1)
    data = json.loads(json.dumps(preview.to_dict(plan), default=str))
    assert data["n_allocations"] == 1


def test_a_point_without_land_area_is_not_guessed(plan, seed_register, tmp_path):
    path = _csv(plan, tmp_path, [_row(plan, "点状园区", "440307", 0, 交付年份=2024)])
    preview = preview_import(path, None, plan, seed_register)
    assert preview.ok and pd.isna(preview.parks["land_area_m2"].iloc[0])
    assert preview.allocations.empty


def test_the_import_page_says_what_was_taken_and_what_was_not(plan, tmp_path):
    from tests.test_app_import import _confirm, _open, _upload

    path = _csv(
        plan, tmp_path,
        [
            _row(plan, "龙岗工业软件园", "440307", 0, 交付年份=2024, 分配面积=50000, 专业方向="工业软件", 备注x="?"),
            _row(plan, "宝安远期园区", "440306", 0, 交付年份=2027, 分配面积=90000, 专业方向="", 备注x=""),
        ],
    )  # fmt: skip
    at = _upload(_open(), "parks.csv", Path(path).read_bytes())
    assert any("将导入的分配 (1 条" in s.value for s in at.subheader)
    taken = next(d.value for d in at.dataframe if "导入为" in d.value.columns)
    assert "分配面积" in taken["文件列"].tolist()
    issues = next(d.value for d in at.dataframe if "代码" in d.value.columns)
    assert {"allocation_not_taken", "ignored_columns"} <= set(issues["代码"])
    counted = capacity_report(plan, at.session_state.register).counted_m2
    _confirm(at).click().run()
    assert not at.exception
    assert capacity_report(plan, at.session_state.register).counted_m2 == pytest.approx(counted + 50_000)
