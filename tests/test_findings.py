"""Every finding code is triggered by a fixture, and a clean park triggers none of the park codes."""

from __future__ import annotations

import geopandas as gpd
import pytest
import shapely

from planner.core.findings import findings_frame, run_checks
from planner.core.geo import WGS84
from tests.conftest import METRIC, inside, make_register, square

CLEAN = {
    "id": "clean", "name_zh": "合规园", "district_code": "440305", "status": "planned", "land_area_m2": 100_000.0,
    "gfa_m2": 300_000.0, "new_gfa_m2": 300_000.0, "figures_conf": "verified",
}  # fmt: skip


def park(plan, **kw) -> dict:
    p = dict(CLEAN, geometry=square(inside(plan, "440305", dx_m=3000), 300))
    p.update(kw)
    return p


def border_point(plan, a: str, b: str) -> shapely.Point:
    d = plan.district_polygons.set_index("code")
    line = d.loc[a, "geometry"].boundary.intersection(d.loc[b, "geometry"].boundary)
    return line.interpolate(0.5, normalized=True) if not line.is_empty else None


def offshore(plan, metres: float) -> shapely.Point:
    """A point ``metres`` south of Nanshan's southernmost vertex (open sea)."""
    nanshan = gpd.GeoSeries(
        [plan.district_polygons.set_index("code").loc["440305", "geometry"]], crs=WGS84
    ).to_crs(METRIC)
    coords = shapely.get_coordinates(nanshan.values)
    x, y = coords[coords[:, 1].argmin()]
    return gpd.GeoSeries([shapely.Point(x, y - metres)], crs=METRIC).to_crs(WGS84).iloc[0]


def alloc(id_: str, park_id: str = "clean", **kw) -> dict:
    a = {"allocation_id": id_, "park_id": park_id, "specialisation": "core_cluster", "area_m2": 10_000,
         "delivery_year": 2024, "status": "planned", "basis": "planner"}  # fmt: skip
    a.update(kw)
    return a


CASES = {
    "PARK_NO_LOCATION": lambda plan: ([park(plan, id="x", geometry=None)], []),
    "PARK_OUTSIDE_CITY": lambda plan: (
        [park(plan, id="x", district_code="", geometry=shapely.Point(116.40, 39.90))],
        [],
    ),
    "PARK_NEAR_BOUNDARY": lambda plan: ([park(plan, id="x", geometry=offshore(plan, 300))], []),
    "PARK_IN_FUNCTIONAL_AREA": lambda plan: (
        [
            park(
                plan,
                id="x",
                district_code="",
                functional_area="shenshan",
                geometry=shapely.Point(115.03, 22.87),
            )
        ],
        [],
    ),
    "PARK_STRADDLES_DISTRICTS": lambda plan: (
        [park(plan, id="x", geometry=square(border_point(plan, "440305", "440304"), 2000))],
        [],
    ),
    "PARK_DISTRICT_MISMATCH": lambda plan: ([park(plan, id="x", district_code="440303")], []),
    "PARK_DISTRICT_AMBIGUOUS": lambda plan: (
        [park(plan, id="x", district="南山/宝安", district_code="")],
        [],
    ),
    "PARK_NO_AREA": lambda plan: ([park(plan, id="x", land_area_m2=None, gfa_m2=None)], []),
    "PLOT_RATIO_EXCEEDED": lambda plan: ([park(plan, id="x", gfa_m2=900_000.0)], []),
    "PLOT_RATIO_ABOVE_LIMIT": lambda plan: ([park(plan, id="x", plot_ratio=6.0)], []),
    "PARKS_OVERLAP": lambda plan: (
        [
            park(plan, id="x", geometry=square(inside(plan, "440305", dx_m=3000), 300)),
            park(plan, id="y", geometry=square(inside(plan, "440305", dx_m=3100), 300)),
        ],
        [],
    ),
    "FIGURES_UNCONFIRMED": lambda plan: ([park(plan, id="x", figures_conf="memory")], []),
    "ALLOC_UNKNOWN_PARK": lambda plan: ([park(plan)], [alloc("x", park_id="ghost")]),
    "ALLOC_EXCEEDS_NEW_SPACE": lambda plan: (
        [park(plan, id="x", new_gfa_m2=10_000.0)],
        [alloc("x1", "x", area_m2=8_000), alloc("x2", "x", area_m2=8_000)],
    ),
    "ALLOC_NOT_COUNTED": lambda plan: ([park(plan)], [alloc("x", delivery_year=None)]),
    "ALLOC_SPEC_MISALIGNED": lambda plan: (
        [park(plan, id="p", district_code="440307", geometry=inside(plan, "440307"))],
        [alloc("x", "p", specialisation="fintech")],
    ),
}
EXPECTED_ID = {"ALLOC_EXCEEDS_NEW_SPACE": "x", "PARKS_OVERLAP": "x"}
PARK_CODES = [c for c in CASES if c.startswith(("PARK", "PLOT", "FIGURES"))]


@pytest.mark.parametrize("code", list(CASES))
def test_each_code_is_triggered(plan, code):
    parks, allocs = CASES[code](plan)
    findings = run_checks(plan, make_register(parks, allocs))
    hits = [f for f in findings if f.code == code]
    assert [f.id for f in hits] == [EXPECTED_ID.get(code, "x")], findings_frame(findings)
    f = hits[0]
    assert f.severity in ("error", "warning", "info") and f.message_zh and f.message_en
    assert f.message == f"{f.message_zh} / {f.message_en}"


def test_a_clean_park_triggers_no_park_finding(plan):
    findings = run_checks(plan, make_register([park(plan)], [alloc("a")]))
    assert {f.code for f in findings} == {"TARGET_GAP"}


def test_quota_and_target_findings(plan):
    reg = make_register(
        [park(plan)], [alloc("a", area_m2=50_000)], [{"district_code": "440305", "quota_m2": 60_000}]
    )
    found = {f.code: f for f in run_checks(plan, reg)}
    assert found["QUOTA_NOT_MET"].id == "440305" and "60,000" in found["QUOTA_NOT_MET"].message_en
    assert found["TARGET_GAP"].id == plan.id and "2,950,000" in found["TARGET_GAP"].message_en
    met = make_register(
        [park(plan)], [alloc("a", area_m2=60_000)], [{"district_code": "440305", "quota_m2": 60_000}]
    )
    assert "QUOTA_NOT_MET" not in {f.code for f in run_checks(plan, met)}


def test_misalignment_is_a_warning_and_the_core_accepts_any_specialisation(plan):
    reg = make_register([park(plan)], [alloc("a", specialisation="fintech")])
    assert "ALLOC_SPEC_MISALIGNED" not in {f.code for f in run_checks(plan, reg)}
    case = CASES["ALLOC_SPEC_MISALIGNED"](plan)
    (f,) = [f for f in run_checks(plan, make_register(*case)) if f.code == "ALLOC_SPEC_MISALIGNED"]
    assert f.severity == "warning" and "龙岗区" in f.message_zh


def test_seed_register_findings(plan, seed_register):
    found = findings_frame(run_checks(plan, seed_register))
    by = found.groupby("code")["id"].apply(set)
    assert by["PARK_OUTSIDE_CITY"] == {"hk_loop_hsitp"}  # the Hong Kong row, 465 m beyond Futian
    assert by["PARK_DISTRICT_AMBIGUOUS"] == {"qianhai"}  # 南山/宝安: location decides
    assert by["PARK_IN_FUNCTIONAL_AREA"] == {"shenshan_eco", "baguang"}
    assert by["PARK_NO_LOCATION"] == {"baoan_zhigu", "futian_ngit", "futian_fintech_city"}
    assert "szbay_eco" in by["PLOT_RATIO_EXCEEDED"]  # 199万㎡ on 20.3万㎡ of land
    assert set(found["severity"]) <= {"error", "warning", "info"}
