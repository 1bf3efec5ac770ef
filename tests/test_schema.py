"""The schema: one table of columns from which the register, the store, the labels and the import's
header matching are derived."""

from __future__ import annotations

import pandas as pd
import pytest

from planner.core import register
from planner.core.geo import M2_PER_HECTARE, M2_PER_MU, M2_PER_WAN
from planner.core.schema import ALLOCATIONS, PARKS, QUOTAS, TABLES, area_columns
from planner.io.headers import match_header
from planner.io.ingest import preview_import
from planner.store.base import COLUMNS

NANSHAN = (113.9517, 22.5412)


def test_register_columns_and_dtypes_come_from_the_schema(seed_register):
    assert PARKS.names == register.PARK_COLUMNS
    assert ALLOCATIONS.names == register.ALLOCATION_COLUMNS
    assert QUOTAS.names == register.QUOTA_COLUMNS
    for frame, table in (
        (seed_register.parks.drop(columns="geometry"), PARKS),
        (seed_register.allocations, ALLOCATIONS),
        (seed_register.quotas, QUOTAS),
    ):
        assert list(frame.columns) == table.names
        assert {c: str(t) for c, t in frame.dtypes.items()} == {c.name: c.dtype for c in table.columns}


def test_store_columns_come_from_the_schema():
    assert set(COLUMNS) == set(TABLES) == {"parks", "allocations", "quotas"}
    assert COLUMNS["parks"][PARKS.names.index("figures_verified")] == ("figures_verified", "bool")
    assert dict(COLUMNS["parks"])["delivery_year"] == "int"
    assert dict(COLUMNS["allocations"])["area_m2"] == "real"
    assert dict(COLUMNS["quotas"]) == {"district_code": "text", "quota_m2": "real"}


def test_labels_carry_units_in_both_languages():
    assert register.PARK_LABELS["new_gfa_m2"] == ("新增建筑面积(m²)", "New floor area (m²)")
    assert register.PARK_LABELS["name_zh"] == ("名称", "Name (zh)")
    assert register.ALLOCATION_LABELS["area_m2"] == ("分配面积(m²)", "Allocated area (m²)")
    assert set(register.PARK_LABELS) == set(PARKS.names)
    assert area_columns(PARKS) == ("land_area_m2", "gfa_m2", "new_gfa_m2")


@pytest.mark.parametrize(
    ("header", "column", "factor"),
    [
        ("new_floor_area_m2", "new_gfa_m2", 1.0),
        ("NEW_FLOOR_AREA_M2", "new_gfa_m2", 1.0),
        ("新增建筑面积(㎡)", "new_gfa_m2", 1.0),
        ("land_area_ha", "land_area_m2", M2_PER_HECTARE),
        ("占地面积(亩)", "land_area_m2", M2_PER_MU),
        ("Floor_Area_Wan_m2", "gfa_m2", M2_PER_WAN),
        ("new_gfa_m2", "new_gfa_m2", 1.0),
        ("Land area", "land_area_m2", None),
        ("park_name", "name_zh", None),
    ],
)
def test_headers_match_whatever_the_unit_suffix_and_case(header, column, factor):
    col, _, unit = match_header(header)
    assert col == column
    assert unit == (pytest.approx(factor) if factor is not None else None)


def test_header_that_is_no_column_is_not_matched():
    assert match_header("alpha")[0] == ""  # ends like 'ha' but names no column
    assert match_header("geo_district_code")[0] == ""  # an export's derived column


def test_import_keeps_floor_areas_under_a_suffixed_english_header(plan, seed_register, tmp_path):
    """Today's bug: `new_floor_area_m2` was dropped with a warning and the import lost its floor areas."""
    table = pd.DataFrame(
        {
            "name": ["南山新园"],
            "lon": [NANSHAN[0]],
            "lat": [NANSHAN[1]],
            "new_floor_area_m2": ["25000"],
            "land_area_ha": ["2"],
        }
    )
    path = tmp_path / "parks.csv"
    table.to_csv(path, index=False)
    preview = preview_import(path, None, plan, seed_register)
    assert preview.ok, preview.problems
    assert "ignored_columns" not in {w.code for w in preview.warnings}
    assert preview.parks["new_gfa_m2"].iloc[0] == pytest.approx(25_000)
    assert preview.parks["land_area_m2"].iloc[0] == pytest.approx(20_000)
