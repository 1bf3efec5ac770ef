"""District assignment from geometry (planner.core.assign) on the real Shenzhen districts, and the one
"whose park is this" rule that capacity, the district pages, rights and import share."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from planner.core.access import User, check_change
from planner.core.assign import NEAR_M, assign_districts, owner_district, park_districts
from planner.core.editing import district_parks
from planner.core.geo import WGS84
from planner.core.plan import Plan
from planner.core.register import Register, add_parks, conform_parks
from planner.errors import AccessDenied
from planner.io.ingest import preview_import
from tests.conftest import METRIC, inside, square

NANSHAN, FUTIAN, BAOAN = "440305", "440304", "440306"


def _parks(rows: list[dict], geoms: list) -> gpd.GeoDataFrame:
    return conform_parks(gpd.GeoDataFrame(rows, geometry=geoms, crs=WGS84))


def _outside(plan: Plan, code: str, metres: float) -> shapely.Point:
    """A WGS84 point ``metres`` outside every district, nearest to ``code``."""
    metric = plan.district_polygons.to_crs(METRIC)
    edge = shapely.union_all(metric.geometry.values).buffer(metres).boundary
    lines = shapely.get_parts(edge)
    points = [ln.interpolate(f, normalized=True) for ln in lines for f in np.linspace(0, 1, 400)]
    candidates = gpd.GeoSeries(points, crs=METRIC)
    own = metric.set_index("code").geometry[code]
    near = candidates[candidates.distance(own) < metres + 1]
    return near.to_crs(WGS84).iloc[0]


def test_a_point_takes_the_district_it_lies_in(plan):
    parks = _parks([{"id": "a"}, {"id": "b"}], [inside(plan, NANSHAN), inside(plan, BAOAN)])
    where = assign_districts(parks, plan)
    assert where["geo_district_code"].tolist() == [NANSHAN, BAOAN]
    assert where["geo_share"].tolist() == [1.0, 1.0] and where["distance_m"].tolist() == [0.0, 0.0]


def test_a_polygon_takes_the_district_holding_most_of_its_area(plan):
    futian = plan.district_polygons.set_index("code").to_crs(METRIC).geometry[FUTIAN]
    nanshan = plan.district_polygons.set_index("code").to_crs(METRIC).geometry[NANSHAN]
    border = shapely.shortest_line(futian.representative_point(), nanshan).coords[1]  # a point on Nanshan
    c = gpd.GeoSeries([shapely.Point(border)], crs=METRIC).to_crs(WGS84).iloc[0]
    where = assign_districts(_parks([{"id": "x"}], [square(c, 800)]), plan)
    assert where["geo_district_code"].iloc[0] in (NANSHAN, FUTIAN)
    assert 0.5 <= where["geo_share"].iloc[0] < 1.0 and where["n_districts"].iloc[0] == 2


def test_a_point_outside_is_not_snapped_but_measured(plan):
    far = _outside(plan, NANSHAN, 5_000)
    where = assign_districts(_parks([{"id": "far"}], [far]), plan)
    assert where["geo_district_code"].iloc[0] == ""
    assert where["nearest_district_code"].iloc[0] != "" and where["distance_m"].iloc[0] == pytest.approx(
        5_000, rel=0.05
    )


def test_an_unlocated_park_is_reported_as_such(plan):
    where = assign_districts(_parks([{"id": "u", "district_code": FUTIAN}], [None]), plan)
    assert not where["located"].iloc[0] and where["geo_district_code"].iloc[0] == ""


def test_whose_park_the_one_rule():
    where = pd.DataFrame(
        {
            "geo_district_code": [NANSHAN, "", "", "", ""],
            "located": [True, False, True, True, True],
            "distance_m": [0.0, np.nan, NEAR_M - 1, NEAR_M + 1, np.nan],
        }
    )
    declared = pd.Series([FUTIAN, BAOAN, FUTIAN, FUTIAN, FUTIAN])
    assert owner_district(where, declared).tolist() == [NANSHAN, BAOAN, FUTIAN, "", ""]


@pytest.fixture(scope="module")
def edge_register(plan: Plan, seed_register: Register) -> Register:
    """The seed plus three parks declared in Nanshan: 300 m outside the polygons (an estimated
    coordinate, inside the plan's extent), a partner park 5 km outside, and one without a location."""
    new = _parks(
        [
            {"id": "near", "name_zh": "近界园", "district_code": NANSHAN},
            {
                "id": "far",
                "name_zh": "远园",
                "district_code": NANSHAN,
                "district": "outside Shenzhen (partner)",
            },
            {"id": "nowhere", "name_zh": "未定位园", "district_code": NANSHAN},
        ],
        [_outside(plan, NANSHAN, 300), _outside(plan, NANSHAN, 5_000), None],
    )
    return add_parks(seed_register, new, plan)


def test_whose_park_is_the_same_everywhere(plan, edge_register):
    """Capacity (effective_district_code), the district page (district_parks) and rights agree."""
    owners = park_districts(edge_register.parks, plan)
    assert owners[["near", "far", "nowhere"]].tolist() == [NANSHAN, "", NANSHAN]
    effective = assign_districts(edge_register.parks, plan)["effective_district_code"]
    assert effective.tolist() == owners.tolist()
    on_page = set(district_parks(edge_register, plan, NANSHAN)["id"])
    assert {"near", "nowhere"} <= on_page and "far" not in on_page


@pytest.mark.parametrize(("park", "allowed"), [("near", True), ("nowhere", True), ("far", False)])
def test_rights_follow_the_same_rule(plan, edge_register, park, allowed):
    parks = edge_register.parks.copy()
    parks.loc[parks["id"] == park, "name_en"] = "renamed"
    after = Register(parks, edge_register.allocations, edge_register.quotas)
    staff = User("zhang", "district", NANSHAN)
    if allowed:
        assert check_change(staff, edge_register, after, plan).parks.changed == [park]
    else:
        with pytest.raises(AccessDenied, match="outside every district"):
            check_change(staff, edge_register, after, plan)
        check_change(User("wang", "planner"), edge_register, after, plan)


def test_import_fills_an_undeclared_district_by_the_same_rule(plan, seed_register, tmp_path):
    path = tmp_path / "parks.csv"
    near = _outside(plan, NANSHAN, 300)
    pd.DataFrame(
        {
            "名称": ["内园", "界外园"],
            "经度": [inside(plan, FUTIAN).x, near.x],
            "纬度": [inside(plan, FUTIAN).y, near.y],
        }
    ).to_csv(path, index=False)
    preview = preview_import(path, None, plan, seed_register)
    assert preview.ok, preview.problems
    # inside: the district it lies in; just outside and declaring none: no district (nothing to fall back on)
    assert preview.parks["district_code"].tolist() == [FUTIAN, ""]
    assert park_districts(preview.parks, plan).tolist() == [FUTIAN, ""]


def test_parcels_settled_by_the_district_grid_match_their_exact_areas(plan):
    """Small squares over the whole city (most settled from their bounds by the grid of cells a
    district contains, the others by the polygons): each gets the district holding most of its
    area, computed here square by square against the district polygons."""
    from planner.core.assign import _districts_metric, _in_whole_cells, geo_assign

    districts = plan.district_polygons.to_crs(plan.metric_crs)
    polys, codes = np.asarray(districts.geometry.values), districts["code"].to_numpy()
    x0, y0, x1, y1 = shapely.total_bounds(polys)
    xs, ys = np.meshgrid(np.arange(x0, x1, 730.0), np.arange(y0, y1, 730.0))
    x, y = xs.ravel(), ys.ravel()
    squares = shapely.box(x, y, x + 180.0, y + 120.0)
    squares = squares[shapely.STRtree(polys).query(squares, predicate="intersects")[0]]
    squares = squares[np.unique(shapely.STRtree(squares).query(polys, predicate="intersects")[1])]
    by_grid, _ = _in_whole_cells(squares, _districts_metric(plan))
    assert len(by_grid) > len(squares) / 2  # the grid settles most of them

    got = geo_assign(squares, plan)
    s_i, d_i = shapely.STRtree(polys).query(squares, predicate="intersects")
    area = shapely.area(shapely.intersection(squares[s_i], polys[d_i]))
    share = pd.DataFrame({"s": s_i, "code": codes[d_i], "share": area / shapely.area(squares[s_i])})
    best = share.sort_values(["s", "share"], ascending=[True, False]).drop_duplicates("s").set_index("s")
    assert got["geo_district_code"].tolist() == best["code"].reindex(range(len(squares))).tolist()
    np.testing.assert_allclose(got["geo_share"], best["share"].reindex(range(len(squares))), rtol=1e-9)
    assert (got.loc[by_grid, "geo_share"] == 1.0).all()
