"""Export layers (districts, parks, allocations) as GeoJSON (RFC 7946), GeoPackage, CSV, KML and Excel.

GeoJSON follows RFC 7946: WGS84 longitude/latitude only, counter-clockwise outer rings
(right-hand rule), no ``crs`` member, 6 decimals (about 10 cm, as RFC 7946 section 11.2 advises). CSV and Excel carry each
feature's ``lon``/``lat`` (a point on its surface) and its shape as ``wkt``; KML names each
placemark by its Chinese name. :func:`annex_table` is the plan's annex, 数字经济产业园区规划布局一览表,
one row a park with its source and data confidence; :func:`write_annex_excel` writes it.
Every file written here reads back through :mod:`planner.io.ingest` with the same parks.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely

from planner.core.assign import assign_districts
from planner.core.geo import WGS84
from planner.core.plan import Plan
from planner.core.register import ALLOCATIONS_FILE, PARKS_FILE, QUOTAS_FILE, STATUS_LABELS, Register
from planner.errors import PlannerError
from planner.io import jsontext

LAYERS = ("districts", "parks", "allocations")
FORMATS = ("geojson", "gpkg", "csv", "kml", "xlsx")
EXCEL_CELL_LIMIT = 32_767  # characters an Excel cell holds
PRECISION = 6  # RFC 7946 section 11.2: 6 decimals, about 10 cm


def _json_value(v: Any) -> Any:
    if v is None or v is pd.NA or v is pd.NaT:
        return None
    if isinstance(v, float) and math.isnan(v):
        return None
    if isinstance(v, np.integer | np.floating | np.bool_):
        return _json_value(v.item())
    return v


def _round_coords(obj: Any, ndigits: int) -> Any:
    if isinstance(obj, float):
        return round(obj, ndigits)
    if isinstance(obj, list | tuple):
        return [_round_coords(x, ndigits) for x in obj]
    return obj


def to_geojson_dict(gdf: gpd.GeoDataFrame, *, precision: int = PRECISION) -> dict[str, Any]:
    """A FeatureCollection dict per RFC 7946 (reprojected to WGS84, CCW outer rings, no ``crs``)."""
    if gdf.crs is None:
        raise PlannerError("layer has no CRS; cannot write RFC 7946 GeoJSON / 图层未声明坐标系")
    wgs = gdf.to_crs(WGS84)
    geoms = shapely.orient_polygons(wgs.geometry.values, exterior_cw=False)
    props = wgs.drop(columns=wgs.geometry.name)
    records = props.astype(object).to_dict("records")
    features = []
    for rec, geom in zip(records, geoms, strict=True):
        mapped = None if geom is None or shapely.is_empty(geom) else shapely.geometry.mapping(geom)
        if mapped is not None:
            mapped = {"type": mapped["type"], "coordinates": _round_coords(mapped["coordinates"], precision)}
        features.append(
            {"type": "Feature", "properties": {k: _json_value(v) for k, v in rec.items()}, "geometry": mapped}
        )
    return {"type": "FeatureCollection", "features": features}


def _umask() -> int:
    """The process's umask: from /proc on Linux (no change to the process), else read by setting
    it and putting it back at once."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _atomic_write(path: Path, write) -> None:
    """Write through a temporary file in the same folder (``write(tmp_path)``), flush it to disk,
    then rename over ``path``: an interrupted write leaves the old file (or none) and no temp file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=path.suffix)
    os.close(fd)
    try:
        write(Path(tmp))
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 600: give the file the user's usual mode
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


STORE_PRECISION = 9  # decimals of stored coordinates (0.1 mm): storage, unlike export, keeps detail


def register_file_bytes(register: Register, folder: str | Path | None = None) -> dict[str, bytes]:
    """The register's files (parks.geojson as RFC 7946, allocations.csv, quotas.csv) as bytes,
    exactly as :func:`planner.core.register.load_register` reads them back.

    Top-level members of the parks file already in ``folder`` (such as ``provenance``) are kept.
    """
    doc = to_geojson_dict(register.parks, precision=STORE_PRECISION)
    old = Path(folder) / PARKS_FILE if folder is not None else None
    if old is not None and old.exists():
        try:
            kept = json.loads(old.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            kept = {}
        if isinstance(kept, dict):
            doc = {
                "type": doc["type"],
                **{k: v for k, v in kept.items() if k not in doc},
                "features": doc["features"],
            }
    text = jsontext.dumps(doc, ensure_ascii=False, indent=1) + "\n"
    return {
        PARKS_FILE: text.encode("utf-8"),
        ALLOCATIONS_FILE: register.allocations.to_csv(index=False).encode("utf-8"),
        QUOTAS_FILE: register.quotas.to_csv(index=False).encode("utf-8"),
    }


def write_register_files(register: Register, folder: str | Path) -> list[Path]:
    """Write a register's three files into ``folder`` (created if missing), each replaced
    atomically; files whose content is unchanged are not rewritten. Returns the files written.
    ``scenario export --to DIR`` uses it; ``scenario save --from-files DIR`` reads them back."""
    base = Path(folder)
    written = []
    for name, data in register_file_bytes(register, base).items():
        path = base / name
        if path.exists() and path.read_bytes() == data:
            continue
        _atomic_write(path, lambda p, data=data: p.write_bytes(data))
        written.append(path)
    return written


def write_layer(
    gdf: gpd.GeoDataFrame | pd.DataFrame, fmt: str, path: str | Path, *, layer: str = "layer"
) -> Path:
    """Write a layer as ``geojson``, ``gpkg``, ``csv`` (UTF-8 with BOM, so Excel shows Chinese),
    ``kml`` or ``xlsx``."""
    if fmt not in FORMATS:
        raise PlannerError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)} / 未知格式")
    path = Path(path)
    if fmt in ("geojson", "gpkg"):
        _atomic_write(path, lambda p: _write_ogr(gdf, p, fmt, layer))
    elif fmt == "kml":
        _atomic_write(path, lambda p: _replace_with_kml(gdf, p, layer))
    elif fmt == "xlsx":
        table = _flat_table(gdf, excel=True)
        _atomic_write(path, lambda p: _write_excel(p, {layer[:31]: table}))
    else:
        table = csv_safe(_flat_table(gdf))
        _atomic_write(path, lambda p: table.to_csv(p, index=False, encoding="utf-8-sig"))
    return path


def _write_ogr(gdf: gpd.GeoDataFrame | pd.DataFrame, path: Path, fmt: str, layer: str) -> None:
    """GeoJSON (RFC 7946) or GeoPackage through GDAL's own writer, columns handed over as Arrow
    (no Python object per feature). GeoJSON: GDAL's ``RFC7946=YES`` reprojects to WGS84, orients
    outer rings counter-clockwise and writes no ``crs`` member; ``COORDINATE_PRECISION`` 6 decimals;
    text written as UTF-8, not escaped."""
    path.unlink()  # the temporary placeholder: GDAL creates the file itself
    if not isinstance(gdf, gpd.GeoDataFrame):
        gdf = gpd.GeoDataFrame(gdf, geometry=gpd.GeoSeries([None] * len(gdf), index=gdf.index), crs=WGS84)
    if gdf.crs is None:
        raise PlannerError("layer has no CRS; cannot write RFC 7946 GeoJSON / 图层未声明坐标系")
    if fmt == "geojson":
        pyogrio.write_dataframe(
            gdf,
            path,
            driver="GeoJSON",
            use_arrow=True,
            layer_options={"RFC7946": "YES", "COORDINATE_PRECISION": str(PRECISION), "WRITE_NAME": "NO"},
        )
    else:
        pyogrio.write_dataframe(gdf, path, layer=layer, driver="GPKG", use_arrow=True)


# A text cell starting with one of these is a formula to a spreadsheet program (=, +, -, @; a tab
# or carriage return first hides one): "CSV injection", OWASP.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def formula_like(table: pd.DataFrame) -> pd.DataFrame:
    """Which cells are text a spreadsheet program would take for a formula (True), per column;
    numbers are never flagged (a negative area is a number, not text)."""
    flags = pd.DataFrame(False, index=table.index, columns=table.columns)
    for col in table.columns:
        s = table[col]
        if pd.api.types.is_object_dtype(s):  # mixed values (text, numbers, True/False): only text counts
            s = s.where(s.map(lambda v: isinstance(v, str)), None).astype("string")
        if pd.api.types.is_string_dtype(s):
            flags[col] = s.str.startswith(FORMULA_PREFIXES, na=False).astype(bool).to_numpy()
    return flags


def csv_safe(table: pd.DataFrame) -> pd.DataFrame:
    """``table`` for CSV: text cells that start like a formula get a leading ``'``, as spreadsheet
    programs expect, so they open as text (the other cells are unchanged)."""
    flags = formula_like(table)
    if not flags.to_numpy().any():
        return table
    out = table.copy()
    for col in flags.columns[flags.any().to_numpy()]:
        out[col] = out[col].astype(object).where(~flags[col], "'" + out[col].astype(str))
    return out


def _write_excel(path: Path, sheets: dict[str, pd.DataFrame]) -> None:
    """Write each table to its sheet; a text cell that starts like a formula is stored as text
    (openpyxl ``data_type "s"`` with Excel's quote prefix), never as a live formula."""
    with pd.ExcelWriter(path, engine="openpyxl") as xl:
        for name, table in sheets.items():
            table.to_excel(xl, index=False, sheet_name=name)
            flags = formula_like(table).to_numpy()
            sheet = xl.sheets[name]
            for row, col in zip(*flags.nonzero(), strict=True):  # only the flagged cells
                cell = sheet.cell(row=int(row) + 2, column=int(col) + 1)  # row 1 is the header
                cell.value = str(table.iat[int(row), int(col)])
                cell.data_type = "s"
                cell.quotePrefix = True


def _flat_table(gdf: gpd.GeoDataFrame | pd.DataFrame, *, excel: bool = False) -> pd.DataFrame:
    """Attributes plus ``lon``/``lat`` (a point on the surface) and ``wkt`` of a layer, WGS84.

    For Excel, a shape whose WKT would not fit in a cell is left out of ``wkt`` (its lon/lat stay).
    """
    if not isinstance(gdf, gpd.GeoDataFrame):
        return gdf
    table = pd.DataFrame(gdf.drop(columns=gdf.geometry.name))
    wgs = gdf.to_crs(WGS84)
    geoms = wgs.geometry.values
    present = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    pts = np.full(len(geoms), None, dtype=object)
    pts[present] = shapely.point_on_surface(geoms[present])
    wkt = np.where(present, shapely.to_wkt(geoms, rounding_precision=PRECISION, trim=True), "")
    if excel:
        wkt = np.where(np.char.str_len(wkt.astype(str)) > EXCEL_CELL_LIMIT, "", wkt)
    return table.assign(
        lon=np.round(shapely.get_x(pts).astype(float), PRECISION),
        lat=np.round(shapely.get_y(pts).astype(float), PRECISION),
        wkt=wkt,
    )


def _replace_with_kml(gdf: gpd.GeoDataFrame, path: Path, layer: str) -> None:
    """Remove the temporary placeholder at ``path`` and write the KML there."""
    path.unlink()
    _write_kml(gdf, path, layer)


def _write_kml(gdf: gpd.GeoDataFrame, path: Path, layer: str) -> None:
    """KML (LIBKML driver): WGS84, each placemark named by ``name_zh`` (else ``name``/``id``)."""
    out = gdf.to_crs(WGS84)
    for col in out.columns:
        if str(out[col].dtype) == "Int64":
            out[col] = out[col].astype("float64")
        elif out[col].dtype == bool:
            out[col] = out[col].astype("int32")
    label = next((c for c in ("name_zh", "name", "id", "code") if c in out), None)
    if label is not None:
        out.insert(0, "Name", out[label].astype(str))
    out.to_file(path, layer=layer, driver="LIBKML")


def districts_layer(plan: Plan) -> gpd.GeoDataFrame:
    """District polygons with role (key and labels), specialisations and official/computed areas."""
    d = plan.district_polygons.copy()
    d["role_zh"] = d["role"].map(lambda k: plan.label("roles", k))
    d["role_en"] = d["role"].map(lambda k: plan.label("roles", k, "en"))
    specs = d["specialisations"].str.split(";")
    d["specialisations_zh"] = specs.map(
        lambda ks: "、".join(plan.label("specialisations", k) for k in ks if k)
    )
    d["specialisations_en"] = specs.map(
        lambda ks: "; ".join(plan.label("specialisations", k, "en") for k in ks if k)
    )
    inside = {a.parent: a for a in plan.functional_areas if a.parent}
    d["note"] = d["code"].map(
        lambda c: f"含{inside[c].name_zh} (无独立边界) / includes {inside[c].name_en}" if c in inside else ""
    )
    return d


def parks_layer(plan: Plan, register: Register) -> gpd.GeoDataFrame:
    """Parks with their geometry-assigned district and status labels; all source/confidence columns kept."""
    parks = register.parks.copy()
    where = assign_districts(parks, plan)
    parks["geo_district_code"] = where["geo_district_code"]
    parks["status_zh"] = parks["status"].map(lambda s: STATUS_LABELS[s][0])
    return parks


def allocations_layer(plan: Plan, register: Register) -> gpd.GeoDataFrame:
    """Allocations with their park's name, district and geometry (one feature per allocation)."""
    parks = parks_layer(plan, register)[
        ["id", "name_zh", "name_en", "geo_district_code", "figures_conf", "geometry"]
    ]
    merged = register.allocations.merge(parks.rename(columns={"id": "park_id"}), on="park_id", how="left")
    merged["specialisation_zh"] = merged["specialisation"].map(
        lambda k: plan.label("specialisations", k) if k else ""
    )
    return gpd.GeoDataFrame(merged, geometry="geometry", crs=WGS84)


def build_layer(name: str, plan: Plan, register: Register) -> gpd.GeoDataFrame:
    """The named export layer: ``districts``, ``parks`` or ``allocations``."""
    if name == "districts":
        return districts_layer(plan)
    if name == "parks":
        return parks_layer(plan, register)
    if name == "allocations":
        return allocations_layer(plan, register)
    raise PlannerError(f"unknown layer {name!r}; use one of {', '.join(LAYERS)} / 未知图层")


ANNEX_TITLE = "数字经济产业园区规划布局一览表"
ANNEX_COLUMNS = [
    "序号", "区", "园区名称", "园区类型", "占地面积(m²)", "建筑面积(m²)", "新增建筑面积(m²)",
    "重点领域", "状态", "交付年份", "来源", "数据可信度",
]  # fmt: skip


def annex_table(plan: Plan, register: Register) -> pd.DataFrame:
    """The plan's annex, 数字经济产业园区规划布局一览表: one row a park, in district order.

    The district is where the park lies (its declared district when it has no location);
    figures are m² as recorded, blank when unknown; 来源 and 数据可信度 travel with every row so
    an unconfirmed figure is never read as an official one.
    """
    parks = register.parks
    where = assign_districts(parks, plan)
    code = where["effective_district_code"]
    names = {d.code: d.name_zh for d in plan.districts}
    order = {c: i for i, c in enumerate(plan.district_codes())}
    district = code.map(names).fillna(parks["district"]).where(code != "", parks["district"])
    areas = {a.key: a.name_zh for a in plan.functional_areas}
    district = district.where(parks["functional_area"] == "", parks["functional_area"].map(areas))
    fields = parks["fields"].map(lambda s: "、".join(plan.label("fields", k) for k in s.split(";") if k))
    table = pd.DataFrame(
        {
            "区": district.fillna(""),
            "园区名称": parks["name_zh"],
            "园区类型": parks["park_type"].map(lambda k: plan.label("park_types", k) if k else ""),
            "占地面积(m²)": parks["land_area_m2"],
            "建筑面积(m²)": parks["gfa_m2"],
            "新增建筑面积(m²)": parks["new_gfa_m2"],
            "重点领域": fields,
            "状态": parks["status"].map(lambda s: STATUS_LABELS[s][0]),
            "交付年份": parks["delivery_year"],
            "来源": parks["source"],
            "数据可信度": parks["figures_conf"].where(parks["figures_conf"] != "", "未注明"),
            "_order": code.map(order).fillna(len(order)),
        }
    )
    table = table.sort_values(["_order", "园区名称"], kind="stable").drop(columns="_order")
    table.insert(0, "序号", range(1, len(table) + 1))
    return table[ANNEX_COLUMNS].reset_index(drop=True)


def write_annex_excel(plan: Plan, register: Register, path: str | Path) -> Path:
    """The annex table as an Excel workbook (sheet 一览表, and a 说明 sheet naming plan and units)."""
    table = annex_table(plan, register)
    notes = pd.DataFrame(
        {
            "项目 item": ["表名 title", "规划 plan", "单位 units", "数据可信度 confidence", "园区数 parks"],
            "说明 note": [
                ANNEX_TITLE,
                plan.title_zh,
                "面积为平方米 (m²); 空白 = 未知 / areas in m², blank = unknown",
                "verified = 已在来源中核实; 其他 (memory/LOW/not found) = 未核实, 不得当作官方数字汇总 / "
                "anything but 'verified' is unconfirmed",
                str(len(table)),
            ],
        }
    )
    path = Path(path)
    _atomic_write(path, lambda p: _write_excel(p, {"一览表": table, "说明": notes}))
    return path
