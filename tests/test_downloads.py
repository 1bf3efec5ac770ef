"""Download bytes for the app's Export and District pages, written by planner.io.export."""

from __future__ import annotations

import io as pyio
import json

import geopandas as gpd
import pandas as pd

from planner.app import downloads
from planner.core.plan import Plan
from planner.core.register import Register
from planner.io.export import build_layer


def test_geojson_bytes_are_the_layer(plan: Plan, seed_register: Register) -> None:
    parks = build_layer("parks", plan, seed_register)
    data = json.loads(downloads.layer_bytes(parks, "geojson", layer="parks"))
    assert data["type"] == "FeatureCollection" and "crs" not in data
    assert [f["properties"]["id"] for f in data["features"]] == list(parks["id"])


def test_every_format_writes_readable_bytes(plan: Plan, seed_register: Register, tmp_path) -> None:
    districts = build_layer("districts", plan, seed_register)
    for fmt in downloads.formats():
        blob = downloads.layer_bytes(districts, fmt, layer="districts")
        name = downloads.file_name(plan.id, "districts", fmt)
        assert name.endswith("." + downloads.EXTENSIONS.get(fmt, fmt)) and fmt in downloads.MIME
        if fmt == "kml":
            text = blob.decode("utf-8")
            assert all(code in text for code in plan.district_codes())
            continue
        if fmt == "csv":
            back = pd.read_csv(pyio.BytesIO(blob), dtype={"code": str}, encoding="utf-8-sig")
        else:
            path = tmp_path / name
            path.write_bytes(blob)
            back = gpd.read_file(path) if fmt in ("geojson", "gpkg") else pd.read_excel(path)
        assert sorted(back["code"].astype(str)) == sorted(plan.district_codes())


def test_a_districts_annex_sheet_has_one_row_a_park_of_that_district(
    plan: Plan, seed_register: Register
) -> None:
    from planner.core.editing import district_parks, district_register

    code = "440306"
    blob = downloads.annex_bytes(plan, district_register(seed_register, plan, code))
    sheet = pd.read_excel(pyio.BytesIO(blob), sheet_name="一览表")
    assert sorted(sheet["园区名称"]) == sorted(district_parks(seed_register, plan, code)["name_zh"])
    assert set(sheet["区"]) == {plan.district(code).name_zh}
