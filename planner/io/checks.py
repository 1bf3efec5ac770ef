"""The checks an import runs on the parks it read: fields, geometry, district, duplicates against the register."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import partial
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import Transformer

from planner.core import rules
from planner.core.assign import assign_districts, owner_district
from planner.core.geo import (
    WGS84,
    area_m2,
)
from planner.core.plan import Plan
from planner.core.register import (
    NUMBER_COLUMNS,
    PARK_COLUMNS,
    STATUS_LABELS,
    TEXT_COLUMNS,
    Nearby,
    Register,
    conform_parks,
    normalise_status,
    normalise_year,
    rows_near,
)
from planner.core.values import (
    ONE_LINE_FIELDS,
    bad_text,
    bool_message,
    implausible,
    implausible_message,
    number_limits,
    parse_bools,
    shown_text,
    text_message,
)
from planner.io.headers import _label_lookup, _map_labels, _norm, _text
from planner.io.issues import _Collector, _Refuse
from planner.io.units import _YEAR, AREA_COLUMNS, bad_numbers, parse_area, per_distinct

DUPLICATE_POINT_M = 5.0  # an incoming point this close to a register point is the same park


DUPLICATE_IOU = 0.9  # an incoming polygon overlapping a register polygon this much is the same park


def _geometry_from_table(
    frame: pd.DataFrame, mapping: dict[str, str], place: Any, c: _Collector
) -> gpd.GeoDataFrame:
    """Shapes from a ``wkt`` column where a row has one, else points from longitude/latitude."""
    cols = {v: k for k, v in mapping.items()}
    n = len(frame)
    geoms = np.full(n, None, dtype=object)
    has_xy = "_lon" in cols and "_lat" in cols
    if "_wkt" not in cols and not has_xy:
        c.error(
            "no_geometry", c.file, "经度/纬度 longitude/latitude",
            "表格没有经度/纬度列 (或 WKT 列), 无法定位园区",
            "the table has no longitude/latitude columns (nor a WKT column) to place the parks",
        )  # fmt: skip
        raise _Refuse
    if "_wkt" in cols:
        text = _text(frame[cols["_wkt"]])
        given = (text != "").to_numpy()
        with np.errstate(invalid="ignore"):  # "nan" in a WKT: a coordinate that is no number, checked later
            parsed = shapely.from_wkt(
                text.where(text != "", None).to_numpy(dtype=object), on_invalid="ignore"
            )
        for i in np.flatnonzero(given & shapely.is_missing(parsed)):
            c.geometry_reported.add(int(i))
            c.error(
                "bad_coordinate", place(i), cols["_wkt"], f"WKT 几何无法解析: {text.iloc[i][:60]}",
                f"cannot parse the WKT geometry: {text.iloc[i][:60]}",
            )  # fmt: skip
        geoms[given] = parsed[given]
    if has_xy:
        xs, ys = (_text(frame[cols[k]]).str.replace(",", "") for k in ("_lon", "_lat"))
        x = pd.to_numeric(xs, errors="coerce")
        y = pd.to_numeric(ys, errors="coerce")
        x, y = x.where(np.isfinite(x), np.nan), y.where(np.isfinite(y), np.nan)  # "1e400", "inf": no number
        for name, raw, num in ((cols["_lon"], xs, x), (cols["_lat"], ys, y)):
            for i in np.flatnonzero(((raw != "") & num.isna()).to_numpy()):
                c.geometry_reported.add(int(i))
                c.error(
                    "bad_coordinate", place(i), name, f"坐标不是数字: {raw.iloc[i]}",
                    f"coordinate is not a number: {raw.iloc[i]}",
                )  # fmt: skip
        use = (x.notna() & y.notna()).to_numpy() & shapely.is_missing(geoms)
        geoms[use] = shapely.points(x.to_numpy()[use], y.to_numpy()[use])
    return gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(geoms, index=frame.index))


def _drop_non_finite(gdf: gpd.GeoDataFrame, c: _Collector) -> gpd.GeoDataFrame:
    """The frame with every geometry that holds a NaN or infinite coordinate taken out (GEOS cannot
    work on one); each is reported by the geometry check as a coordinate that is no number."""
    geoms = gdf.geometry.values
    coords, index = shapely.get_coordinates(np.asarray(geoms, dtype=object), return_index=True)
    bad = np.unique(index[~np.isfinite(coords).all(axis=1)])
    if not len(bad):
        return gdf
    for i in bad:
        if int(i) not in c.geometry_reported:
            c.not_numbers[int(i)] = "NaN/Infinity"
    out = np.asarray(geoms, dtype=object).copy()
    out[bad] = None
    return gdf.set_geometry(gpd.GeoSeries(out, index=gdf.index, crs=gdf.crs))


def _generated_ids(names: pd.Series, geoms: np.ndarray, need: np.ndarray | None = None) -> pd.Series:
    """Ids from name + geometry (a digest each), for the rows in ``need`` (all when None; '' elsewhere):
    a file that gives its ids pays no digest."""
    rows = np.arange(len(names)) if need is None else np.flatnonzero(need)
    keys = np.full(len(names), "", dtype=object)
    if len(rows):
        wkb = shapely.to_wkb(np.asarray(geoms, dtype=object)[rows], output_dimension=2)
        keys[rows] = [
            "imp-" + hashlib.sha1(f"{n}|".encode() + (w or b"")).hexdigest()[:10]
            for n, w in zip(names.to_numpy(dtype=object)[rows], wkb, strict=True)
        ]
    return pd.Series(keys, index=names.index)


def _build_parks(
    gdf: gpd.GeoDataFrame,
    mapping: dict[str, str],
    units: dict[str, float | None],
    place: Any,
    c: _Collector,
    plan: Plan,
) -> gpd.GeoDataFrame:
    """The register's columns from the file's, with every field problem reported."""
    cols = {v: k for k, v in mapping.items()}
    out = pd.DataFrame(index=gdf.index)
    for col in PARK_COLUMNS:
        if col in cols:
            out[col] = gdf[cols[col]]
    if "name_zh" not in cols:
        c.error(
            "no_name_column", c.file, "名称 name", "缺少名称列 (名称/园区名称/name)",
            "no name column (名称, 园区名称 or name)",
        )  # fmt: skip
    text_cols = [col for col in PARK_COLUMNS if col in out and col not in NUMBER_COLUMNS]
    for col in text_cols:
        if col not in ("delivery_year", "figures_verified"):
            out[col] = _text(out[col])
    names = out["name_zh"] if "name_zh" in out else pd.Series("", index=gdf.index)
    ids_given = out["id"] if "id" in out else pd.Series("", index=gdf.index)
    ident = ids_given.where(ids_given != "", names)

    _import_numbers(out, gdf, cols, units, ident, place, c, plan)

    _import_status_year(out, gdf, cols, ident, place, c)

    _import_labels(out, cols, ident, place, c, plan)

    # Ids: given, else generated from name + geometry (stable: a re-import finds the same park).
    geoms = gdf.geometry.values
    generated = _generated_ids(names, geoms, (ids_given == "").to_numpy(dtype=bool))
    if "id" not in out or (out["id"] == "").any():
        c.warn(
            "ids_generated", c.file, "id", "部分园区没有编号, 已按名称和位置生成",
            "some parks have no id; ids were generated from the name and location",
        )  # fmt: skip
    out["id"] = ids_given.where(ids_given != "", generated)

    _import_flags_and_text(out, cols, place, c)
    parks = conform_parks(gpd.GeoDataFrame(out, geometry=gpd.GeoSeries(geoms, index=gdf.index), crs=WGS84))
    parks["source"] = parks["source"].where(parks["source"] != "", f"import: {c.file}")

    _import_district(parks, cols, place, c, plan)
    _apply_rules(parks, cols, place, c, plan)
    return parks


def _import_numbers(
    out: pd.DataFrame,
    gdf: gpd.GeoDataFrame,
    cols: dict[str, str],
    units: dict[str, float | None],
    ident: pd.Series,
    place: Any,
    c: _Collector,
    plan: Plan,
) -> None:
    """Areas and other numbers into ``out`` (m²), unreadable or implausible ones reported."""
    for col in NUMBER_COLUMNS:
        if col not in out:
            continue
        raw = gdf[cols[col]]
        values = parse_area(raw, units.get(col)) if col in AREA_COLUMNS else parse_area(raw, 1.0)
        for i in np.flatnonzero(bad_numbers(raw, values).to_numpy()):
            c.error(
                "bad_number", place(i, ident.iloc[i]), cols[col], f"不是数字或单位无法识别: {raw.iloc[i]}",
                f"not a number, or a unit the planner does not know: {raw.iloc[i]}",
            )  # fmt: skip
        limit = number_limits(plan)[col]
        for i in np.flatnonzero((implausible(values, limit) & np.isfinite(values)).to_numpy()):  # inf: rules
            zh, en = implausible_message(raw.iloc[i], limit, col)
            c.error("implausible_number", place(i, ident.iloc[i]), cols[col], zh, en)
        out[col] = values  # negative or zero values: the register's rules (rules.PARK_FIELD_RULES)


def _import_status_year(
    out: pd.DataFrame,
    gdf: gpd.GeoDataFrame,
    cols: dict[str, str],
    ident: pd.Series,
    place: Any,
    c: _Collector,
) -> None:
    """Status and delivery year into ``out`` (the original texts kept)."""
    status_src = out["status"] if "status" in out else pd.Series("", index=gdf.index)
    if "status_src" not in out:
        out["status_src"] = status_src
    by_label = {_norm(lbl): key for key, labels in STATUS_LABELS.items() for lbl in (key, *labels)}
    texts = pd.unique(status_src.to_numpy(dtype=object))  # a few distinct texts in many rows: each read once
    direct = status_src.map({s: by_label.get(_norm(s), "") for s in texts})
    out["status"] = direct.where(direct != "", status_src.map({s: normalise_status(s) for s in texts}))
    unrecognised = (status_src != "") & (out["status"] == "unknown") & (direct == "")
    for i in np.flatnonzero(unrecognised.to_numpy()):
        c.warn(
            "status_unknown", place(i, ident.iloc[i]), cols.get("status", "status"),
            f"状态无法识别, 记为未知: {status_src.iloc[i]}",
            f"status not recognised, recorded as unknown: {status_src.iloc[i]}",
        )  # fmt: skip
    if "delivery_year" in cols and _whole_years(gdf[cols["delivery_year"]]):
        col = gdf[
            cols["delivery_year"]
        ]  # a numeric column of plain years (GeoPackage, GeoJSON): no text to read
        out["delivery_year"] = pd.Series(col.to_numpy(dtype=float, na_value=np.nan), index=col.index)
        if "year_src" not in out:
            out["year_src"] = _text(col).str.replace(r"\.0$", "", regex=True)
    elif "delivery_year" in cols:
        raw = _text(gdf[cols["delivery_year"]]).str.replace(r"\.0$", "", regex=True)
        year = per_distinct(raw, lambda t: pd.to_numeric(t.str.extract(_YEAR)[0], errors="coerce"))
        bad = (raw != "") & year.isna()  # a year out of range: the register's rules
        for i in np.flatnonzero(bad.to_numpy()):
            c.error(
                "bad_year", place(i, ident.iloc[i]), cols["delivery_year"], f"交付年份无法识别: {raw.iloc[i]}",
                f"delivery year not recognised: {raw.iloc[i]}",
            )  # fmt: skip
        out["delivery_year"] = year
        if "year_src" not in out:
            out["year_src"] = raw
    else:
        out["delivery_year"] = [
            normalise_year(s, "", st) for s, st in zip(status_src, out["status"], strict=True)
        ]


def _whole_years(values: pd.Series) -> bool:
    """A numeric column (not booleans) whose values are all blank or whole numbers the year
    pattern reads as they are (1900-2199): taken as years without going through text."""
    if not pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
        return False
    v = values.to_numpy(dtype=float, na_value=np.nan)
    v = v[~np.isnan(v)]
    return bool(((v == np.floor(v)) & (v >= 1900) & (v < 2200)).all())


def _import_labels(
    out: pd.DataFrame, cols: dict[str, str], ident: pd.Series, place: Any, c: _Collector, plan: Plan
) -> None:
    """Labelled values (park type, fields, name-park level, land-use class) as the plan's keys."""
    for col, items, multi in (
        ("park_type", plan.park_types, False),
        ("fields", plan.fields, True),
        ("namepark_level", plan.namepark_levels, False),
    ):
        if col not in out:
            continue
        mapped, unknown = _map_labels(out[col], _label_lookup(items), multi)
        for i in np.flatnonzero(unknown.to_numpy()):
            c.error(
                "unknown_value", place(i, ident.iloc[i]), cols[col], f"无法识别的取值: {out[col].iloc[i]}",
                f"value not known to the plan: {out[col].iloc[i]}; use one of "
                f"{', '.join(it.label_zh for it in items)}",
            )  # fmt: skip
        out[col] = mapped
    if "land_use_class" in out:
        out["land_use_class"] = out["land_use_class"].str.upper()


def _import_flags_and_text(out: pd.DataFrame, cols: dict[str, str], place: Any, c: _Collector) -> None:
    """Strict yes/no for figures_verified; no control characters in any text."""
    if "figures_verified" in out:
        flag, not_bool = parse_bools(out["figures_verified"])
        for i in np.flatnonzero(not_bool.to_numpy()):
            zh, en = bool_message(out["figures_verified"].iloc[i])
            c.error("bad_value", place(i, out["id"].iloc[i]), cols["figures_verified"], zh, en)
        out["figures_verified"] = flag
    for col in [col for col in TEXT_COLUMNS if col in out]:
        for i in np.flatnonzero(bad_text(out[col], multiline=col not in ONE_LINE_FIELDS).to_numpy()):
            zh, en = text_message(out[col].iloc[i])
            c.error("control_character", place(i, shown_text(str(out["id"].iloc[i]))), cols[col], zh, en)


def _import_district(
    parks: gpd.GeoDataFrame, cols: dict[str, str], place: Any, c: _Collector, plan: Plan
) -> None:
    """District from the file's text where given (the location decides later); unknown names warned."""
    texts = pd.unique(parks["district"].to_numpy(dtype=object))  # a few names in many rows: each read once
    resolved = {d: plan.resolve_district(d) if d else ("", "") for d in texts}
    code = parks["district"].map({d: r[0] for d, r in resolved.items()}).astype(str)
    area = parks["district"].map({d: r[1] for d, r in resolved.items()}).astype(str)
    parks["district_code"] = parks["district_code"].where(parks["district_code"] != "", code)
    parks["functional_area"] = parks["functional_area"].where(parks["functional_area"] != "", area)
    unknown_d = (parks["district"] != "") & (code == "") & (area == "")
    for i in np.flatnonzero(unknown_d.to_numpy()):
        c.warn(
            "district_unknown", place(i, parks["id"].iloc[i]), cols.get("district", "district"),
            f"区名无法识别, 按位置确定: {parks['district'].iloc[i]}",
            f"district name not recognised; the location decides: {parks['district'].iloc[i]}",
        )  # fmt: skip


def _apply_rules(
    parks: gpd.GeoDataFrame, cols: dict[str, str], place: Any, c: _Collector, plan: Plan
) -> None:
    """The register's field rules (numbers, years, classes, district codes, duplicate ids), named by
    the file's own columns; a file without a name column was told so once, not once a row."""
    checked = [r for r in rules.PARK_FIELD_RULES if r.field != "name_zh" or "name_zh" in cols]
    ids = parks["id"]
    c.problems += rules.apply(
        checked, parks, plan, place=lambda i: place(i, ids.iloc[i]), field_name=lambda f: cols.get(f, f)
    )


@dataclass(frozen=True)
class ShapeFacts:
    """What the import's checks ask of each geometry, asked once per import (at 100,000 parcels
    each question costs 0.1 s or more): present (not missing, not empty), of an allowed type,
    valid, and inside the city (None when the CRS is unknown and the place cannot be checked)."""

    present: np.ndarray
    allowed: np.ndarray
    valid: np.ndarray
    inside: np.ndarray | None

    @classmethod
    def of(cls, geoms: gpd.GeoSeries, plan: Plan, *, located: bool = True) -> ShapeFacts:
        """The facts of every geometry of ``geoms`` (WGS84)."""
        g = geoms.values
        return cls(
            rules.has_geometry(g),
            rules.allowed_type(g),
            shapely.is_valid(g),
            rules.inside_city(geoms, plan) if located else None,
        )

    def renewed(self, geoms: gpd.GeoSeries, rows: np.ndarray, plan: Plan) -> ShapeFacts:
        """The facts after the geometries at positions ``rows`` were replaced (accepted repairs):
        only those rows are asked again."""
        if not len(rows):
            return self
        fresh = ShapeFacts.of(geoms.iloc[rows], plan, located=self.inside is not None)

        def put(old: np.ndarray, new: np.ndarray) -> np.ndarray:
            out = old.copy()
            out[rows] = new
            return out

        return ShapeFacts(
            put(self.present, fresh.present),
            put(self.allowed, fresh.allowed),
            put(self.valid, fresh.valid),
            None if self.inside is None or fresh.inside is None else put(self.inside, fresh.inside),
        )


def _check_geometry(
    parks: gpd.GeoDataFrame,
    plan: Plan,
    place: Any,
    c: _Collector,
    accept_repairs: bool,
    tabular: bool,
    mapping: dict,
    *,
    located: bool = True,
    shapes: ShapeFacts | None = None,
) -> gpd.GeoSeries | None:
    """Missing, wrong-type, invalid, swapped and out-of-city geometries; returns offered repairs.
    ``shapes``: the facts of ``parks``' geometries when the caller has them (else asked here)."""
    geoms = parks.geometry.values
    ids = parks["id"]
    if shapes is None:
        shapes = ShapeFacts.of(parks.geometry, plan, located=located)
    missing = ~shapes.present
    for i in np.flatnonzero(missing):
        if int(i) in c.not_numbers:
            c.error(
                "bad_coordinate", place(i, ids.iloc[i]), "geometry", f"坐标不是数字: {c.not_numbers[int(i)]}",
                f"coordinate is not a number: {c.not_numbers[int(i)]}",
            )  # fmt: skip
        elif i not in c.geometry_reported:  # a table's bad coordinate is reported by its column
            c.error(
                "missing_geometry", place(i, ids.iloc[i]), "geometry", "缺少几何/坐标",
                "geometry (or coordinates) missing",
            )  # fmt: skip
    allowed = shapes.allowed
    wrong = ~missing & ~allowed
    for i in np.flatnonzero(wrong):
        c.error(
            "wrong_geometry_type", place(i, ids.iloc[i]), "geometry",
            f"几何类型须为点或面, 实为 {geoms[i].geom_type}",
            f"geometry must be a Point or (Multi)Polygon, got {geoms[i].geom_type}",
        )  # fmt: skip
    invalid = ~missing & allowed & ~shapes.valid
    repairs = None
    if invalid.any():
        fixed = np.full(len(geoms), None, dtype=object)
        idx = np.flatnonzero(invalid)
        made = shapely.make_valid(geoms[idx])
        polys = [
            shapely.union_all(
                [p for p in shapely.get_parts(m) if shapely.get_type_id(p) in rules.POLYGON_TYPE_IDS]
            )
            for m in made
        ]
        fixed[idx] = polys
        repairs = gpd.GeoSeries(fixed, index=parks.index, crs=WGS84)
        for i in idx:
            reason = shapely.is_valid_reason(geoms[i])
            area = float(area_m2(gpd.GeoSeries([fixed[i]], crs=WGS84), plan.metric_crs).iloc[0])
            zh = f"几何无效 ({reason}); 修复后的形状: {'多面' if shapely.get_type_id(fixed[i]) == 6 else '面'}, 面积 {area:,.0f} m²"
            en = f"invalid geometry ({reason}); repaired shape offered: {fixed[i].geom_type}, area {area:,.0f} m²"
            if accept_repairs:
                c.warn(
                    "geometry_repaired",
                    place(i, ids.iloc[i]),
                    "geometry",
                    zh + " (已采用)",
                    en + " (accepted)",
                )
            else:
                c.error(
                    "invalid_geometry", place(i, ids.iloc[i]), "geometry",
                    zh + "; 确认后可采用修复形状 (--accept-repairs)",
                    en + "; accept it with --accept-repairs",
                )  # fmt: skip
    if not located or shapes.inside is None:  # the CRS is unknown: where the shapes lie cannot be checked
        return repairs
    located = ~missing & allowed
    inside = shapes.inside
    outside = located & ~inside  # only a shape outside the city can be one with its axes swapped
    swapped_geoms = shapely.transform(geoms[outside], lambda xy: xy[:, ::-1])
    swapped_inside = np.zeros(len(geoms), dtype=bool)
    swapped_inside[outside] = rules.inside_city(gpd.GeoSeries(swapped_geoms), plan)
    cols = {v: k for k, v in mapping.items()}
    for i in np.flatnonzero(located & ~inside & swapped_inside):
        x, y = shapely.get_coordinates(geoms[i])[0]
        what = f"{cols.get('_lon', 'lon')}/{cols.get('_lat', 'lat')}" if tabular and "_lon" in cols else "x/y"
        c.error(
            "swapped_axes", place(i, ids.iloc[i]), what,
            f"经纬度似乎互换了 ({x:.4f}, {y:.4f} 看起来是 纬度, 经度); 请交换 {what} 两列/坐标顺序",
            f"latitude and longitude look swapped ({x:.4f}, {y:.4f} reads as lat, lon); swap {what}",
        )  # fmt: skip
    extent_zh, extent_en = plan.extent_text()
    for i in np.flatnonzero(located & ~inside & ~swapped_inside):
        pt = shapely.point_on_surface(geoms[i]) if not shapely.is_empty(geoms[i]) else None
        where = f"{pt.x:.4f}, {pt.y:.4f}" if pt is not None else "?"
        c.error(
            "outside_extent", place(i, ids.iloc[i]), "geometry",
            f"坐标在{plan.city_zh}范围以外 ({extent_zh}): {where}",
            f"coordinates outside {plan.city_en} ({extent_en}): {where}",
        )  # fmt: skip
    return repairs


def _locate(
    parks: gpd.GeoDataFrame, plan: Plan, place: Any, c: _Collector, *, shapes: ShapeFacts | None = None
) -> None:
    """Fill the district of parks that declare none from their location (in place).

    A declared district that disagrees with the location is a warning: location decides in
    :func:`planner.core.assign.assign_districts`, the disagreement is a finding, not an error.
    ``shapes``: the facts of ``parks``' geometries when the caller has them (else asked here).
    """
    geoms = parks.geometry.values
    if shapes is None or shapes.inside is None:
        shapes = ShapeFacts.of(parks.geometry, plan)
    inside = shapes.inside if shapes.inside is not None else rules.inside_city(parks.geometry, plan)
    usable = shapes.present & shapes.valid & shapes.allowed & inside
    if not usable.any():
        return
    geo = pd.Series("", index=parks.index[usable], dtype=object)
    points = usable & (shapely.get_type_id(geoms) == 0)
    if points.any():  # a point lies in one district: a plain spatial join (fast for 100,000 points)
        hits = gpd.sjoin(
            parks.loc[points, ["geometry"]], plan.district_polygons[["code", "geometry"]], predicate="within"
        )
        hits = hits[~hits.index.duplicated(keep="first")]
        geo.loc[hits.index] = hits["code"].astype(str)
    polygons = usable & ~points
    if polygons.any():  # a polygon by the district holding most of its area
        geo.loc[parks.index[polygons]] = assign_districts(parks.loc[polygons], plan)["geo_district_code"]
    declared = parks.loc[usable, "district_code"]
    differs = (geo != "") & (declared != "") & (geo != declared)
    names = {d.code: d.name_zh for d in plan.districts}
    for i in differs[differs].index:
        c.warn(
            "district_mismatch", place(int(i), parks.at[i, "id"]), "district",
            f"文件写的是 {parks.at[i, 'district']}, 但位置在 {names.get(geo[i], geo[i])}; 以位置为准",
            f"the file says {parks.at[i, 'district']} but the location is in {names.get(geo[i], geo[i])}; "
            "the location decides",
        )  # fmt: skip
    # The register's district_code is the declared one; a park that declares none gets the district
    # whose park it is by the one rule (planner.core.assign.owner_district): where it lies.
    where = pd.DataFrame({"geo_district_code": geo, "located": True, "distance_m": np.nan})
    owner = owner_district(where, declared)
    undeclared = (declared == "") & (parks.loc[usable, "district"] == "")
    parks.loc[undeclared[undeclared].index, "district_code"] = owner[undeclared]


def near_boxes(geoms: gpd.GeoSeries, plan: Plan, margin_m: float = DUPLICATE_POINT_M) -> np.ndarray:
    """The search windows of incoming parks (WGS84 minx, miny, maxx, maxy rows): each shape's
    envelope grown by ``margin_m`` metres, measured in the plan's metric CRS. A register park that can
    be a duplicate of one (nearly the same footprint, a point within ``DUPLICATE_POINT_M``) has its
    envelope meet its window; missing and empty shapes get none. Only envelope corners are
    projected (a shape lies in its envelope; over a park's extent the projection bends an
    envelope's edge by millimetres, well inside the margin)."""
    g = geoms.values
    b = shapely.bounds(g[~(shapely.is_missing(g) | shapely.is_empty(g))])
    b = b[np.isfinite(b).all(axis=1)]
    if not len(b):
        return np.empty((0, 4))
    to_metric = Transformer.from_crs(WGS84, plan.metric_crs, always_xy=True)
    to_wgs84 = Transformer.from_crs(plan.metric_crs, WGS84, always_xy=True)
    corners_x = np.stack([b[:, 0], b[:, 2], b[:, 2], b[:, 0]], axis=1)
    corners_y = np.stack([b[:, 1], b[:, 1], b[:, 3], b[:, 3]], axis=1)
    x, y = to_metric.transform(corners_x, corners_y)
    x0, x1 = x.min(axis=1) - margin_m, x.max(axis=1) + margin_m
    y0, y1 = y.min(axis=1) - margin_m, y.max(axis=1) + margin_m
    lon, lat = to_wgs84.transform(np.stack([x0, x1, x1, x0], axis=1), np.stack([y0, y0, y1, y1], axis=1))
    out = np.stack([lon.min(axis=1), lat.min(axis=1), lon.max(axis=1), lat.max(axis=1)], axis=1)
    return out[np.isfinite(out).all(axis=1)]  # a shape the metric CRS cannot hold is no register park's


def _check_register(
    parks: gpd.GeoDataFrame,
    plan: Plan,
    register: Register | Nearby,
    place: Any,
    c: _Collector,
    *,
    located: bool = True,
    valid: np.ndarray | None = None,
) -> None:
    """Parks already in the register: same id, or a near-identical footprint. Only the register's
    rows near the incoming parks are read and compared (:data:`planner.core.register.Nearby`: a
    register in memory through its spatial index, or a store through its own). ``valid``: which
    of ``parks``' geometries are valid, when the caller knows (else asked here)."""
    ids = parks["id"]
    nearby: Nearby = register if callable(register) else partial(rows_near, register)
    look = located and (callable(register) or len(register.parks) > 0)  # nothing to look for in none
    boxes = near_boxes(parks.geometry, plan) if look else np.empty((0, 4))
    near = nearby(boxes, ids.astype(str).tolist(), ())
    for i in np.flatnonzero(ids.isin(near.parks["id"]).to_numpy()):
        c.error(
            "existing_id", place(i, ids.iloc[i]), "id", f"编号已在登记册中: {ids.iloc[i]}",
            f"id already in the register: {ids.iloc[i]}",
        )  # fmt: skip
    if not located:
        return
    mine = parks.geometry.values
    theirs = near.parks.geometry.values
    ok_theirs = ~(shapely.is_missing(theirs) | shapely.is_empty(theirs)) & shapely.is_valid(theirs)
    if not ok_theirs.any():  # no register park near: nothing to compare (the parks are not asked)
        return
    ok_mine = ~(shapely.is_missing(mine) | shapely.is_empty(mine))
    ok_mine &= shapely.is_valid(mine) if valid is None else valid
    if not ok_mine.any():
        return
    a = gpd.GeoDataFrame({"i": np.flatnonzero(ok_mine)}, geometry=mine[ok_mine], crs=WGS84).to_crs(
        plan.metric_crs
    )
    b = gpd.GeoDataFrame(
        {"rid": near.parks["id"].to_numpy()[ok_theirs]}, geometry=theirs[ok_theirs], crs=WGS84
    ).to_crs(plan.metric_crs)
    pairs = gpd.sjoin(a, b.set_geometry(b.buffer(DUPLICATE_POINT_M)), predicate="intersects")
    if pairs.empty:
        return
    ga = a.geometry.loc[pairs.index].values
    gb = b.geometry.values[pairs["index_right"].to_numpy()]
    both_points = (shapely.get_type_id(ga) == 0) & (shapely.get_type_id(gb) == 0)
    union = shapely.area(shapely.union(ga, gb))
    iou = np.where(union > 0, shapely.area(shapely.intersection(ga, gb)) / np.where(union > 0, union, 1), 0)
    same = (both_points & (shapely.distance(ga, gb) <= DUPLICATE_POINT_M)) | (
        ~both_points & (iou >= DUPLICATE_IOU)
    )
    for (_, row), hit in zip(pairs.iterrows(), same, strict=True):
        if hit and ids.iloc[row["i"]] != row["rid"]:
            k = int(row["i"])
            c.error(
                "existing_footprint", place(k, ids.iloc[k]), "geometry",
                f"与登记册中的园区 {row['rid']} 位置/范围几乎相同",
                f"footprint nearly identical to register park {row['rid']}",
            )  # fmt: skip
