"""The map builders, tested on their output: layers, colours, popups, assets, the GCJ-02 shift."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import folium
import numpy as np
import pandas as pd
import pytest
import shapely

from planner import settings
from planner.app import mapview
from planner.core.capacity import allocation_table, capacity_report
from planner.core.geo import shift_from_wgs84
from planner.core.plan import Plan
from planner.core.register import STATUSES, Register


def _geojson_layers(m: folium.Map) -> list[folium.GeoJson]:
    out = []

    def walk(el) -> None:
        if isinstance(el, folium.GeoJson):
            out.append(el)
        for child in el._children.values():
            walk(child)

    walk(m)
    return out


def _features(layer: folium.GeoJson) -> list[dict]:
    return layer.data["features"]


def test_map_has_districts_parks_by_status_legend_and_layer_control(
    plan: Plan, seed_register: Register
) -> None:
    m = mapview.build_map(plan, seed_register)
    layers = _geojson_layers(m)
    districts = layers[0]
    assert sorted(f["properties"]["code"] for f in _features(districts)) == sorted(plan.district_codes())
    park_layers = layers[1:]
    statuses = {f["properties"]["status"] for layer in park_layers for f in _features(layer)}
    expected = set(seed_register.parks.loc[seed_register.parks.geometry.notna(), "status"])
    assert statuses == expected
    for layer in park_layers:  # one layer a status: every feature in it has that status
        assert len({f["properties"]["status"] for f in _features(layer)}) == 1
    n_located = int(seed_register.parks.geometry.notna().sum())
    assert sum(len(_features(layer)) for layer in park_layers) == n_located
    children = list(m._children.values())
    assert any(isinstance(c, folium.LayerControl) for c in children)
    html = m.get_root().render()
    assert "planner-legend" in html


def test_district_colours_follow_roles_and_tooltips_name_specialisations(plan: Plan) -> None:
    frame = mapview.district_layer_frame(plan, lang="zh")
    colours = {r.key: r.extra["color"] for r in plan.roles}
    assert (frame["_colour"] == frame["role"].map(colours)).all()
    futian = frame[frame["code"] == "440304"]["_tip"].iloc[0]
    assert "金融科技软件" in futian and "电商物流软件" in futian
    en = mapview.district_layer_frame(plan, lang="en")
    assert "Fintech software" in en[en["code"] == "440304"]["_tip"].iloc[0]


def test_legend_lists_roles_specialisations_and_statuses(plan: Plan) -> None:
    text = mapview.legend_html(plan, lang="zh", n_unlocated=3)
    for role in plan.roles:
        assert role.label_zh in text
    assert "工业软件" in text  # Longgang's designated specialisation
    for colour in mapview.STATUS_COLOURS.values():
        assert colour in text
    assert "3 个园区无位置" in text


def test_park_colours_radius_and_popups(plan: Plan, seed_register: Register) -> None:
    parks = mapview.park_layer_frame(plan, seed_register, lang="zh")
    assert (parks["_colour"] == parks["status"].map(mapview.STATUS_COLOURS)).all()
    assert set(parks["status"]) <= set(STATUSES)
    # circles grow with new floor area; the largest new floor area gets the largest circle
    src = seed_register.parks.set_index("id").loc[parks["id"], "new_gfa_m2"].to_numpy()
    biggest = parks["_radius"].to_numpy()[np.nanargmax(src)]
    assert biggest == pytest.approx(mapview.RADIUS_MAX)
    assert parks.loc[np.isnan(src), "_radius"].eq(mapview.RADIUS_MIN).all()
    known = ~np.isnan(src)
    order = np.argsort(src[known])
    assert np.all(np.diff(parks["_radius"].to_numpy()[known][order]) >= 0)

    by_id = parks.set_index("id")
    verified = seed_register.parks.set_index("id")["figures_verified"]
    some_unconfirmed = verified[~verified].index.intersection(by_id.index)[0]
    some_verified = verified[verified].index.intersection(by_id.index)[0]
    assert "未核实" in by_id.loc[some_unconfirmed, "_popup"]
    assert "未核实" not in by_id.loc[some_verified, "_popup"]
    tencent = by_id.loc["tencent_penguin", "_popup"]
    assert "200.0万㎡ (2,000,000 m²)" in tencent  # new floor area with units
    assert "40.0万㎡ (400,000 m²)" in tencent  # allocated to the cluster
    assert seed_register.parks.set_index("id").loc["tencent_penguin", "source"][:20] in tencent
    assert "估计位置" in tencent  # coordinate confidence 'est'


def test_popup_text_is_escaped(plan: Plan, seed_register: Register) -> None:
    reg = seed_register.copy()
    reg.parks.loc[0, "name_zh"] = "<script>alert(1)</script>"
    popup = mapview.park_layer_frame(plan, reg).iloc[0]["_popup"]
    assert "<script>" not in popup and "&lt;script&gt;" in popup


def test_tooltip_carries_the_park_id_for_selection(plan: Plan, seed_register: Register) -> None:
    parks = mapview.park_layer_frame(plan, seed_register)
    tip = parks[parks["id"] == "szsib"]["_tip"].iloc[0]
    text = re.sub(r"<[^>]+>", "\n", tip)  # what the browser's innerText gives back
    assert mapview.park_id_from_tooltip(text) == "szsib"
    district_tip = re.sub(r"<[^>]+>", "\n", mapview.district_layer_frame(plan)["_tip"].iloc[0])
    assert mapview.park_id_from_tooltip(district_tip) is None
    assert mapview.park_id_from_tooltip(None) is None


def test_amap_basemap_shifts_overlays_into_gcj02(plan: Plan, seed_register: Register) -> None:
    plain = mapview.build_map(plan, seed_register, basemap="none")
    amap = mapview.build_map(plan, seed_register, basemap="amap")
    p0 = shapely.geometry.shape(_features(_geojson_layers(plain)[1])[0]["geometry"])
    p1 = shapely.geometry.shape(_features(_geojson_layers(amap)[1])[0]["geometry"])
    expected = shift_from_wgs84(np.array([p0], dtype=object), "gcj02")[0]
    assert shapely.equals_exact(p1, expected, tolerance=1e-9)
    assert 0.002 < p0.distance(p1) < 0.01  # GCJ-02 is some hundreds of metres off in Shenzhen
    assert "autonavi" in amap.get_root().render()
    assert "autonavi" not in plain.get_root().render()


def test_basemaps_and_their_datums(plan: Plan, seed_register: Register) -> None:
    assert mapview.basemap_datum("amap") == "gcj02"
    assert mapview.basemap_datum("tianditu") == "wgs84"
    with pytest.raises(ValueError, match="unknown basemap"):
        mapview.basemap_datum("baidu")
    with pytest.raises(ValueError, match="Tianditu needs a key"):
        mapview.build_map(plan, seed_register, basemap="tianditu")
    html = (
        mapview.build_map(plan, seed_register, basemap="tianditu", tianditu_key="abc123").get_root().render()
    )
    assert "tianditu.gov.cn" in html and "tk=abc123" in html


def test_no_basemap_map_requests_nothing_from_outside(plan: Plan, seed_register: Register) -> None:
    m = mapview.build_map(plan, seed_register, draw=True)
    urls = mapview.asset_urls(m)
    assert urls and all(u.startswith(mapview.VENDOR_URL) for u in urls)
    assert any("leaflet.draw.js" in u for u in urls)
    html = m.get_root().render()
    loaded = re.findall(r'<(?:script|link)[^>]+(?:src|href)="([^"]+)"', html)
    assert loaded and all(u.startswith(mapview.VENDOR_URL) for u in loaded)


def test_every_asset_url_is_a_vendored_file_matching_its_checksum(
    plan: Plan, seed_register: Register
) -> None:
    vendor = settings.STATIC_DIR / "vendor"
    sums = dict(reversed(line.split(maxsplit=1)) for line in (vendor / "SHA256SUMS").read_text().splitlines())
    for url in mapview.asset_urls(mapview.build_map(plan, seed_register, draw=True)):
        rel = "./" + url.removeprefix(mapview.VENDOR_URL + "/")
        path = vendor / rel
        assert path.is_file(), url
        assert hashlib.sha256(path.read_bytes()).hexdigest() == sums[rel]
    for name in sums:  # every vendored file is pinned, and licences are kept
        assert (vendor / name).is_file()
    for pkg in (f"leaflet@{mapview.LEAFLET_VERSION}", f"leaflet-draw@{mapview.LEAFLET_DRAW_VERSION}"):
        assert (vendor / pkg / "LICENSE").is_file()
        assert json.loads((vendor / pkg / "package.json").read_text())["version"] == pkg.split("@")[1]


def test_streamlit_serves_the_static_folder() -> None:
    config = (Path(settings.STATIC_DIR).parent / ".streamlit" / "config.toml").read_text()
    assert re.search(r"^enableStaticServing\s*=\s*true", config, re.M)


def test_a_clicked_layer_is_not_a_drawing(plan: Plan, seed_register: Register) -> None:
    m = mapview.build_map(plan, seed_register)
    clicked_district = _features(_geojson_layers(m)[0])[0]  # what streamlit-folium reports on a click
    clicked_park = _features(_geojson_layers(m)[1])[0]
    assert mapview.new_drawing(clicked_district) is None
    assert mapview.new_drawing(clicked_park) is None
    drawn = {
        "type": "Feature",
        "properties": {},
        "geometry": shapely.geometry.mapping(shapely.box(0, 0, 1, 1)),
    }
    assert mapview.new_drawing(drawn) is drawn
    assert mapview.new_drawing(None) is None


def test_the_selected_park_is_outlined_in_its_own_layer(plan: Plan, seed_register: Register) -> None:
    group = mapview.selection_layer(plan, seed_register, "tencent_penguin")
    (outline,) = _geojson_layers(group)
    assert [f["properties"]["id"] for f in _features(outline)] == ["tencent_penguin"]
    assert outline.style_function(_features(outline)[0])["color"] == mapview.SELECTED_COLOUR
    assert _geojson_layers(mapview.selection_layer(plan, seed_register, "no_such_park")) == []
    assert _geojson_layers(mapview.selection_layer(plan, seed_register, None)) == []
    amap = _geojson_layers(mapview.selection_layer(plan, seed_register, "tencent_penguin", basemap="amap"))[0]
    p0 = shapely.geometry.shape(_features(outline)[0]["geometry"])
    p1 = shapely.geometry.shape(_features(amap)[0]["geometry"])
    assert 0.002 < p0.distance(p1) < 0.01  # shifted into GCJ-02 like the rest of the map


def _import_preview(plan: Plan, seed_register: Register):
    from planner.io.ingest import preview_import
    from tests.test_uploads import broken_geojson

    return preview_import(broken_geojson(plan), "broken.geojson", plan, seed_register)


def test_import_map_draws_incoming_parks_and_offered_repairs_over_the_plan(
    plan: Plan, seed_register: Register
) -> None:
    preview = _import_preview(plan, seed_register)  # a bow-tie, a park in Beijing, one in Longgang
    m = mapview.import_map(plan, seed_register, preview.parks, repairs=preview.repairs)
    groups = {c.layer_name: c for c in m._children.values() if isinstance(c, folium.FeatureGroup)}
    shapes, marks = _geojson_layers(groups["待导入园区 (3)"])
    assert [f["properties"]["id"] for f in _features(shapes)] == ["b1", "b2", "b3"]
    assert [f["properties"]["id"] for f in _features(marks)] == ["b1"]  # a polygon is also marked
    assert "待导入" in _features(shapes)[0]["properties"]["_tip"]
    assert shapes.style_function(_features(shapes)[0])["color"] == mapview.INCOMING_COLOUR
    fixed = _features(_geojson_layers(groups["修复后的形状 (1)"])[0])
    assert [f["properties"]["id"] for f in fixed] == ["b1"]
    assert shapely.geometry.shape(fixed[0]["geometry"]).is_valid
    base = _geojson_layers(mapview.build_map(plan, seed_register, parks=False))
    assert len(_geojson_layers(m)) == len(base) + 4  # the plan's districts are all still there
    shipped = {f["properties"].get("id") for layer in _geojson_layers(m) for f in _features(layer)}
    assert not shipped & set(seed_register.parks["id"])  # the register is not shipped, only aggregates
    assert "园区 " in _features(_geojson_layers(m)[0])[0]["properties"]["_tip"]  # a district's figures
    # the view reaches Beijing, so a park far outside the city is seen where it lies
    fit = next(c for c in m._children.values() if isinstance(c, folium.map.FitBounds))
    (south, west), (north, east) = fit.bounds
    assert north > 39.9 and east > 116.3 and south < 22.6 and west < 113.9
    html = m.get_root().render()
    assert "planner-legend" in html and "autonavi" not in html  # offline: no tiles
    (legend,) = [c for c in m._children.values() if isinstance(c, mapview._Legend)]
    assert legend.html.startswith("<details><summary>") and "待导入园区 (3)" in legend.html  # folded
    (plain,) = [
        c for c in mapview.build_map(plan, seed_register)._children.values() if isinstance(c, mapview._Legend)
    ]
    assert plain.html.startswith("<details open>")


def test_import_map_shifts_incoming_parks_onto_an_amap_basemap(plan: Plan, seed_register: Register) -> None:
    preview = _import_preview(plan, seed_register)
    plain = _features(_geojson_layers(mapview.import_map(plan, seed_register, preview.parks))[-2])
    amap = _features(
        _geojson_layers(mapview.import_map(plan, seed_register, preview.parks, basemap="amap", lang="en"))[-2]
    )
    p0, p1 = (shapely.geometry.shape(f[2]["geometry"]) for f in (plain, amap))
    assert 0.002 < p0.distance(p1) < 0.01
    assert "to import" in amap[0]["properties"]["_tip"]


def test_import_map_draws_at_most_max_features_and_says_so(plan: Plan, seed_register: Register) -> None:
    preview = _import_preview(plan, seed_register)
    m = mapview.import_map(plan, seed_register, preview.parks, max_features=2)
    groups = {c.layer_name: c for c in m._children.values() if isinstance(c, folium.FeatureGroup)}
    shapes = _geojson_layers(groups["待导入园区 (显示 2 / 共 3)"])[0]
    assert [f["properties"]["id"] for f in _features(shapes)] == ["b1", "b2"]


def test_compare_map_draws_added_removed_and_changed_parks(plan: Plan, seed_register: Register) -> None:
    from planner.store import compare

    parks = seed_register.parks.copy()
    parks.loc[parks["id"] == "szsib", "new_gfa_m2"] = 1.0  # changed
    kept = parks[parks["id"] != "baguang"]  # removed
    added = seed_register.parks[seed_register.parks["id"] == "baguang"].assign(id="baguang_b", name_zh="新园")
    b = Register(
        type(kept)(pd.concat([kept, added], ignore_index=True), crs=kept.crs),
        seed_register.allocations[seed_register.allocations["park_id"] != "baguang"],
        seed_register.quotas,
    )
    cmp = compare(plan, seed_register, b)
    m = mapview.compare_map(plan, cmp)
    groups = {c.layer_name: c for c in m._children.values() if isinstance(c, folium.FeatureGroup)}
    assert set(groups) == {"区名", "新增园区 (1)", "删除园区 (1)", "修改园区 (1)"}  # district names too
    for name, kind, pid in (
        ("新增园区 (1)", "added", "baguang_b"),
        ("删除园区 (1)", "removed", "baguang"),
        ("修改园区 (1)", "changed", "szsib"),
    ):
        (layer,) = _geojson_layers(groups[name])
        (feature,) = _features(layer)
        assert feature["properties"]["id"] == pid
        assert layer.style_function(feature)["color"] == mapview.COMPARE_COLOURS[kind]
        assert name.split(" ")[0] in feature["properties"]["_popup"]
        assert any(isinstance(c, folium.GeoJsonPopup) for c in layer._children.values())
    changed = _features(_geojson_layers(groups["修改园区 (1)"])[0])[0]["properties"]["_popup"]
    assert "改动的字段: 新增建筑面积(m²)" in changed
    districts = _geojson_layers(m)[0]
    assert sorted(f["properties"]["code"] for f in _features(districts)) == sorted(plan.district_codes())
    assert len(_geojson_layers(m)) == 4  # districts and the three comparison layers, no other parks
    (legend,) = [c for c in m._children.values() if isinstance(c, mapview._Legend)]
    assert "方案对比 A → B" in legend.html and mapview.COMPARE_COLOURS["removed"] in legend.html
    en = mapview.compare_map(plan, cmp, lang="en")
    names = {c.layer_name for c in en._children.values() if isinstance(c, folium.FeatureGroup)}
    assert names == {"District names", "Parks added (1)", "Parks removed (1)", "Parks changed (1)"}


def test_compare_map_of_identical_registers_has_empty_layers(plan: Plan, seed_register: Register) -> None:
    from planner.store import compare

    m = mapview.compare_map(plan, compare(plan, seed_register, seed_register))
    groups = [c for c in m._children.values() if isinstance(c, folium.FeatureGroup)]
    assert [g.layer_name for g in groups] == ["区名", "新增园区 (0)", "删除园区 (0)", "修改园区 (0)"]
    assert len(_geojson_layers(m)) == 1  # the districts only


# ---- city scale ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def city(plan: Plan) -> Register:
    """2,000 synthetic parcels inside the real districts (bench/checks.py), years inside the plan."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
    from checks import synthetic

    reg = synthetic(2_000)
    late = reg.allocations["delivery_year"] > plan.deadline_year
    reg.allocations["delivery_year"] = reg.allocations["delivery_year"].where(~late)
    return reg


def _counted_by_park(plan: Plan, register: Register) -> pd.Series:
    a = allocation_table(plan, register)
    return a[a["counted"]].groupby("park_id")["area_m2"].sum()


@pytest.mark.parametrize("cell_m", [500.0, 4_000.0])
def test_grid_cells_add_up_to_the_register(plan: Plan, city: Register, cell_m: float) -> None:
    index = mapview.map_index(plan, city)
    cells = mapview.grid_cells(plan, index, cell_m)
    parks = city.parks
    assert cells["count"].sum() == len(parks)
    assert cells["land_m2"].sum() == pytest.approx(parks["land_area_m2"].sum())
    assert cells["counted_m2"].sum() == pytest.approx(_counted_by_park(plan, city).sum())
    assert (cells["aligned_m2"] <= cells["counted_m2"] + 1e-6).all()
    # each cell is cell_m across in the metric CRS and holds the parks whose point lies in it
    metric = cells.to_crs(plan.metric_crs)
    assert np.allclose(np.sqrt(metric.area), cell_m, rtol=1e-3)
    first = cells.iloc[0]
    inside = (np.floor(index.x / cell_m) == first["ix"]) & (np.floor(index.y / cell_m) == first["iy"])
    assert first["count"] == inside.sum()
    assert first["status"] == index.parks.loc[inside, "status"].value_counts().idxmax()


def test_district_figures_are_the_register_by_district(plan: Plan, city: Register) -> None:
    figures = mapview.district_figures(plan, mapview.map_index(plan, city))
    counts = city.parks["district_code"].value_counts()
    assert figures["count"].to_dict() == {c: int(counts.get(c, 0)) for c in plan.district_codes()}
    land = city.parks.groupby("district_code")["land_area_m2"].sum()
    assert figures.loc[land.index, "land_m2"].to_numpy() == pytest.approx(land.to_numpy())
    assert figures["counted_m2"].sum() == pytest.approx(_counted_by_park(plan, city).sum())
    # the share aligned with the district's specialisations is the capacity report's (NaN where the
    # district designates none; here the register's district is the parcel's own)
    report = capacity_report(plan, city).by_district.set_index("key")
    share = report["aligned_share"].reindex(figures.index).to_numpy(dtype=float)
    assert np.allclose(figures["aligned_share"].to_numpy(dtype=float), share, equal_nan=True, atol=0.02)
    assert np.isnan(figures["aligned_share"]).any() and (figures["aligned_share"] > 0.5).any()


def test_the_viewport_query_returns_the_parcels_in_bounds_up_to_a_cap(plan: Plan, city: Register) -> None:
    index = mapview.map_index(plan, city)
    bounds = (113.88, 22.50, 113.98, 22.58)  # Nanshan
    hits = mapview.parcels_in_view(index, bounds, cap=len(city.parks))
    expected = np.flatnonzero(shapely.intersects(index.parks.geometry.values, shapely.box(*bounds)))
    assert 0 < len(hits) < len(city.parks) and list(hits) == list(expected)
    assert mapview.parcels_in_view(index, bounds, cap=len(expected) - 1) is None  # over the cap: aggregates
    layer, kind = mapview.view_layer(plan, index, bounds, 15, cap=len(city.parks))
    assert kind == "parcels"
    (parcels,) = _geojson_layers(layer)
    drawn = {f["properties"]["id"] for f in _features(parcels)}
    assert set(index.parks["id"].iloc[expected]) <= drawn  # every parcel in view (and a margin)
    layer, kind = mapview.view_layer(plan, index, bounds, 11, cap=10)
    assert kind == "cells" and all("id" not in f["properties"] for f in _features(_geojson_layers(layer)[0]))
    # on Amap (GCJ-02) the parcels are shifted like the rest of the map
    amap, _ = mapview.view_layer(plan, index, bounds, 15, cap=len(city.parks), basemap="amap")
    p0 = shapely.geometry.shape(_features(parcels)[0]["geometry"])
    p1 = shapely.geometry.shape(_features(_geojson_layers(amap)[0])[0]["geometry"])
    assert 0.002 < p0.centroid.distance(p1.centroid) < 0.01


def test_parcels_keep_their_shape_at_street_level_and_become_points_zoomed_out(
    plan: Plan, city: Register
) -> None:
    index = mapview.map_index(plan, city)
    positions = np.arange(50)
    street = mapview.parcel_frame(index, positions, 17)
    assert set(street.geom_type) == {"Polygon"}
    assert list(street["id"]) == list(index.parks["id"].iloc[:50])
    assert all(t.endswith(f"编号 ID: {i}") for t, i in zip(street["_tip"], street["id"], strict=True))
    assert (street["_colour"] == street["status"].map(mapview.STATUS_COLOURS)).all()
    far = mapview.parcel_frame(index, positions, 8)  # under 4 px across (about 2 km here): specks
    assert set(far.geom_type) == {"Point"}
    shapes = index.parks.geometry.iloc[:50].values
    assert (shapely.distance(far.geometry.values, shapes) < 1e-5).all()  # a point of its own parcel


def test_cells_show_counts_and_colour_by_status_or_alignment(plan: Plan, city: Register) -> None:
    index = mapview.map_index(plan, city)
    cells, labels = (_features(layer) for layer in _geojson_layers(mapview.cell_layer(plan, index, 11)))
    by_status = cells
    assert len(labels) == len(cells) and {f["geometry"]["type"] for f in labels} == {"Point"}
    assert sum(int(f["properties"]["_label"].replace(",", "")) for f in labels) == len(city.parks)
    for cell, label in zip(cells, labels, strict=True):  # each count at its cell's centre
        box = shapely.geometry.shape(cell["geometry"])
        assert box.centroid.distance(shapely.geometry.shape(label["geometry"])) < 1e-4
    assert {f["properties"]["_colour"] for f in by_status} <= set(mapview.STATUS_COLOURS.values())
    assert all("万㎡" in f["properties"]["_tip"] for f in by_status)
    aligned = _features(_geojson_layers(mapview.cell_layer(plan, index, 11, colour_by="alignment"))[0])
    assert {f["properties"]["_colour"] for f in aligned} <= {
        *mapview.ALIGNED_COLOURS,
        mapview.NO_COUNT_COLOUR,
    }
    m = mapview.build_map(plan, city, parks=False)
    (names,) = [c for c in m._children.values() if getattr(c, "layer_name", "") == "区名"]
    labels = [c.icon.options["html"] for c in names._children.values()]
    assert len(labels) == len(plan.district_codes())
    nanshan = next(x for x in labels if "南山" in x)
    assert "planner-district-label" in nanshan
    assert f"{int((city.parks['district_code'] == '440305').sum()):,} 个园区" in nanshan


def test_overview_map_ships_aggregates_never_the_parks(plan: Plan, city: Register) -> None:
    m = mapview.overview_map(plan, city)
    features = [f for layer in _geojson_layers(m) for f in _features(layer)]
    assert not any("id" in f["properties"] for f in features[len(plan.district_codes()) :])
    assert len(m.get_root().render()) < 500_000  # a few hundred kB whatever the register's size


def test_compare_map_draws_at_most_max_features_per_kind(plan: Plan, seed_register: Register) -> None:
    from planner.store import compare, empty_register

    m = mapview.compare_map(plan, compare(plan, empty_register(), seed_register), max_features=3)
    groups = {c.layer_name: c for c in m._children.values() if isinstance(c, folium.FeatureGroup)}
    n = int(seed_register.parks.geometry.notna().sum())
    added = next(g for name, g in groups.items() if name.startswith("新增园区"))
    assert f"显示 3 / 共 {len(seed_register.parks):,}" in added.layer_name
    assert len(_features(_geojson_layers(added)[0])) == min(3, n)


def test_one_copy_of_each_register_version_per_process(plan: Plan, tmp_path: Path) -> None:
    from planner.app import registers
    from planner.core.access import User
    from planner.store import open_store

    store = open_store(str(tmp_path / "shared.gpkg"), plan)
    a, va = registers.shared_register(store)
    b, vb = registers.shared_register(store, "main", va.version)
    assert a is b and va == vb  # two sessions, one copy
    built: list[int] = []
    for _ in range(2):
        registers.derived(a, "n", lambda r: built.append(1) or len(r.parks))
    assert built == [1]  # derived once per register
    parks = a.parks.copy()
    parks.loc[0, "name_en"] = "changed"
    store.save(
        Register(parks, a.allocations, a.quotas),
        user=User("t", "planner"),
        comment="t",
        expected_version=va.version,
    )
    c, vc = registers.shared_register(store)
    assert vc.version == va.version + 1 and c is not a and c.parks.loc[0, "name_en"] == "changed"
    assert registers.shared_register(store, "main", va.version)[0] is a  # the old version still shared
