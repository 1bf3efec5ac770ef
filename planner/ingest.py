"""Import parks from real GIS files: read, recognise headers, convert units and CRS, validate, confirm.

Two steps, so nothing reaches the register unless the whole import is valid and the user confirms:

1. :func:`preview_import` reads a file (a path, or the bytes of an upload plus its file name) and
   returns an :class:`ImportPreview`: the parks it would add (register columns, WGS84), every
   problem (each with its feature/row number and field, Chinese and English) and the warnings.
   It never touches the register.
2. :func:`confirm_import` turns a preview without problems into a *new* Register (via
   :func:`planner.register.add_parks`); a refused preview raises :class:`ImportRefused` and the
   register stays as it was. Saving it is the store's job (``planner.store.Store.save``: a new
   scenario version, or nothing when the save fails or is interrupted).

For the app (Streamlit upload)::

    preview = preview_import(upload.getvalue(), upload.name, plan, register, crs="gcj02")
    if preview.ok and st.button("确认导入 / Confirm"):
        register = confirm_import(preview, register, plan)
    # preview.summary_frame(), preview.issues_frame(), preview.repairs for display

What a file needs: a geometry (or longitude/latitude, or WKT columns) and a name for each park.
Every other register field is optional and recognised by its usual Chinese or English header
(名称/name, 占地面积/land area, 建筑面积/floor area, 新增建筑面积/new floor area, 状态/status,
交付年份/delivery year, 区/district, 园区类型/park type, 重点领域/fields, 来源/source, ...).

Formats: GeoJSON, GeoPackage, zipped Shapefile (``.prj``/``.cpg`` honoured; GBK/GB18030 DBF text
detected when there is no ``.cpg``), KML/KMZ, CSV and Excel. Coordinate systems: what the file
declares is honoured (EPSG:4547 and other CGCS2000 projections included); a file that declares
nothing but holds projected-looking numbers is refused; ``crs="gcj02"|"bd09"`` converts Chinese
map-datum coordinates to WGS84 (via :mod:`planner.geo`); ``crs="EPSG:n"`` states the system of
a file that declares none. Areas in m², 公顷, 亩, 万㎡ and km² are converted to m².

    >>> parse_area(pd.Series(["15万㎡", "3公顷", "300亩", "1,200", ""])).round(1).tolist()[:4]
    [150000.0, 30000.0, 200000.0, 1200.0]
"""

from __future__ import annotations

import codecs
import hashlib
import io
import json
import re
import tempfile
import unicodedata
import warnings
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pyogrio.errors
import shapely
from pyproj import CRS
from pyproj.exceptions import CRSError

from planner.assign import assign_districts
from planner.errors import PlannerError, Problem, ValidationError
from planner.geo import (
    DATUMS,
    M2_PER_HECTARE,
    M2_PER_KM2,
    M2_PER_MU,
    M2_PER_WAN,
    METRIC,
    SHENZHEN_BBOX,
    WGS84,
    area_m2,
    in_shenzhen_bbox,
    shift_to_wgs84,
)
from planner.plan import Plan
from planner.register import (
    NUMBER_COLUMNS,
    PARK_COLUMNS,
    PARK_LABELS,
    STATUS_LABELS,
    YEAR_MAX,
    YEAR_MIN,
    Register,
    add_parks,
    conform_parks,
    normalise_status,
    normalise_year,
)

VECTOR_SUFFIXES = (".geojson", ".json", ".gpkg", ".zip", ".shp", ".kml", ".kmz")
TABLE_SUFFIXES = (".csv", ".txt", ".xlsx", ".xlsm")  # old .xls: save it as .xlsx first
SUPPORTED_SUFFIXES = VECTOR_SUFFIXES + TABLE_SUFFIXES

AREA_COLUMNS = ("land_area_m2", "gfa_m2", "new_gfa_m2")
DUPLICATE_POINT_M = 5.0  # an incoming point this close to a register point is the same park
DUPLICATE_IOU = 0.9  # an incoming polygon overlapping a register polygon this much is the same park

# Units of area: factor to m². Keys are NFKC-normalised, lower case, without spaces.
AREA_UNITS: dict[str, float] = {
    "m2": 1.0, "平方米": 1.0, "平米": 1.0, "sqm": 1.0,
    "公顷": M2_PER_HECTARE, "ha": M2_PER_HECTARE, "hm2": M2_PER_HECTARE,
    "亩": M2_PER_MU, "mu": M2_PER_MU,
    "万m2": M2_PER_WAN, "万平方米": M2_PER_WAN, "万平米": M2_PER_WAN, "万平": M2_PER_WAN,
    "km2": M2_PER_KM2, "平方公里": M2_PER_KM2, "平方千米": M2_PER_KM2,
}  # fmt: skip
_UNIT_ALT = "|".join(re.escape(u) for u in sorted(AREA_UNITS, key=len, reverse=True))
_NUMBER_WITH_UNIT = re.compile(rf"^([-+]?(?:\d+\.?\d*|\.\d+)(?:e[-+]?\d+)?)({_UNIT_ALT})?$")
_HEADER_UNIT = re.compile(rf"^(.*?)[(\[【/_]?({_UNIT_ALT})[)\]】]?$")
_YEAR = re.compile(r"((?:19|20|21)\d{2})")

# Header aliases (normalised) -> register column. English and Chinese, as people write them.
_EXTRA_ALIASES: dict[str, tuple[str, ...]] = {
    "id": ("编号", "园区编号", "id", "parkid", "park_id", "编码", "序号id"),
    "name_zh": ("名称", "园区名称", "中文名称", "name", "名字", "parkname", "park_name", "name_cn"),
    "name_en": ("英文名称", "英文名", "englishname", "name_en"),
    "district": ("区", "所在区", "行政区", "辖区", "district", "所在区(来源)"),
    "park_type": ("园区类型", "类型", "type", "parktype"),
    "land_area_m2": ("占地面积", "用地面积", "占地", "landarea", "land_area", "sitearea"),
    "gfa_m2": ("建筑面积", "总建筑面积", "floorarea", "gfa", "totalfloorarea"),
    "new_gfa_m2": ("新增建筑面积", "新增面积", "newfloorarea", "newgfa", "new_gfa"),
    "status": ("状态", "建设状态", "status"),
    "delivery_year": ("交付年份", "交付年", "竣工年份", "年份", "deliveryyear", "year"),
    "fields": ("重点领域", "产业领域", "领域", "fields"),
    "plot_ratio": ("容积率", "plotratio", "far"),
    "source": ("来源", "数据来源", "source"),
    "figures_conf": ("数据可信度", "可信度", "figuresconf", "confidence"),
    "land_use_class": ("用地类别", "用地性质", "landuseclass"),
    "namepark_level": ("软件名园级别", "名园级别", "nameparklevel"),
    "_lon": ("经度", "东经", "lon", "lng", "long", "longitude", "x"),
    "_lat": ("纬度", "北纬", "lat", "latitude", "y"),
    "_wkt": ("wkt", "geometry", "geometry_wkt", "几何", "geom_wkt", "the_geom"),
}
# KML/LIBKML adds these columns to every layer; they are not the park's data.
_KML_COLUMNS = {
    "description", "timestamp", "begin", "end", "altitudemode", "tessellate", "extrude",
    "visibility", "draworder", "icon", "snippet",
}  # fmt: skip
# Columns planner.io adds to an export (derived from the others): read back without comment.
_DERIVED_COLUMNS = {"geo_district_code", "status_zh", "lon", "lat", "wkt"}


def _norm(text: object) -> str:
    """Normalise a header for matching: NFKC (full-width -> ASCII, ㎡ -> m2), lower case, no spaces."""
    s = unicodedata.normalize("NFKC", str(text)).strip().lower()
    return re.sub(r"[\s\-]+", "", s).replace("²", "2")


def _alias_table() -> dict[str, tuple[str, int]]:
    """normalised header -> (column, rank); rank 0 = the column's own key, 1 = Chinese, 2 = English."""
    table: dict[str, tuple[str, int]] = {}

    def put(alias: str, col: str, rank: int) -> None:
        key = _norm(alias)
        if key not in table or rank < table[key][1]:
            table[key] = (col, rank)

    for col in PARK_COLUMNS:
        put(col, col, 0)
    for col, (zh, en) in PARK_LABELS.items():
        put(zh, col, 1)
        put(en, col, 2)
    for col, aliases in _EXTRA_ALIASES.items():
        for a in aliases:
            put(a, col, 1 if re.search(r"[\u4e00-\u9fff]", a) else 2)
    return table


_ALIASES = _alias_table()


def match_header(header: str) -> tuple[str, int, float | None]:
    """The register column a header means, its rank and the unit factor it names.

    Returns ``("", 9, None)`` for a header the planner does not know.

    >>> match_header("占地面积（公顷）")
    ('land_area_m2', 1, 10000.0)
    >>> match_header("Land area (m²)")
    ('land_area_m2', 2, 1.0)
    >>> match_header("名称")
    ('name_zh', 1, None)
    """
    key = _norm(header)
    if key in _ALIASES:
        col, rank = _ALIASES[key]
        unit = None
        m = _HEADER_UNIT.match(key)
        if m and col in AREA_COLUMNS:
            unit = AREA_UNITS[m.group(2)]
        return col, rank, unit
    m = _HEADER_UNIT.match(key)
    if m and m.group(1):
        base = m.group(1).rstrip("(_/[【")
        if base in _ALIASES and _ALIASES[base][0] in AREA_COLUMNS:
            col, rank = _ALIASES[base]
            return col, rank, AREA_UNITS[m.group(2)]
    stripped = re.sub(r"\(.*?\)", "", key)
    if stripped != key and stripped in _ALIASES:
        col, rank = _ALIASES[stripped]
        return col, rank, None
    return "", 9, None


def parse_area(values: pd.Series, unit: float | None = None) -> pd.Series:
    """Areas as people write them (``"15万㎡"``, ``"3 公顷"``, ``"300亩"``, ``"1,200"``) -> m² (float).

    ``unit`` is the factor the column header names (m² when None); a unit in the cell wins.
    Blank cells give NaN; text that is no number gives NaN too (see :func:`bad_numbers`).
    """
    text = (
        values.astype(object)
        .where(values.notna(), "")
        .astype(str)
        .map(lambda v: unicodedata.normalize("NFKC", v).lower().replace("²", "2"))
        .str.replace(r"[\s,]+", "", regex=True)
    )
    parts = text.str.extract(_NUMBER_WITH_UNIT)
    number = pd.to_numeric(parts[0], errors="coerce")
    factor = parts[1].map(AREA_UNITS).astype(float).fillna(unit if unit is not None else 1.0)
    return (number * factor).astype(float)


def bad_numbers(values: pd.Series, parsed: pd.Series) -> pd.Series:
    """True where a cell holds text that did not parse as a number (blank cells are fine)."""
    blank = values.isna() | values.astype(object).astype(str).str.strip().isin(["", "nan", "None", "<NA>"])
    return ~blank & parsed.isna()


# ---------------------------------------------------------------- issues and the preview


@dataclass(frozen=True)
class ImportIssue:
    """A problem (refuses the import) or a warning, with a stable ``code`` for tests and the app."""

    code: str
    problem: Problem
    severity: str = "error"  # or "warning"

    def to_dict(self) -> dict[str, str]:
        """Plain dict for JSON output."""
        return {"code": self.code, "severity": self.severity, **self.problem.to_dict()}

    def __str__(self) -> str:
        return f"[{self.code}] {self.problem}"


class ImportRefused(ValidationError):
    """The import has problems; nothing was added. ``issues`` keeps the codes."""

    def __init__(self, issues: list[ImportIssue], what: str) -> None:
        self.issues = list(issues)
        super().__init__([i.problem for i in issues], what=what)


@dataclass(frozen=True)
class ImportPreview:
    """What an import would do. ``parks`` has the register's columns (WGS84), one row per feature.

    ``repairs`` holds, for each invalid geometry (same index as ``parks``), the repaired shape
    offered to the user; it is used only when the import is run with ``accept_repairs=True``.
    """

    file: str
    parks: gpd.GeoDataFrame
    problems: list[ImportIssue] = field(default_factory=list)
    warnings: list[ImportIssue] = field(default_factory=list)
    repairs: gpd.GeoSeries | None = None
    crs_used: str = ""
    columns: dict[str, str] = field(default_factory=dict)  # file header -> register column

    @property
    def ok(self) -> bool:
        """True when nothing stops the import."""
        return not self.problems

    def codes(self) -> set[str]:
        """The problem codes found (handy in tests and for the app's help texts)."""
        return {i.code for i in self.problems}

    def summary_frame(self, plan: Plan | None = None) -> pd.DataFrame:
        """One row a park: id, name, district, the three areas (m²), status, delivery year."""
        cols = ["id", "name_zh", "district", "district_code", *AREA_COLUMNS, "status", "delivery_year"]
        out = pd.DataFrame(self.parks[cols]).copy()
        if plan is not None:
            names = {d.code: d.name_zh for d in plan.districts}
            out["district_name"] = out["district_code"].map(names).fillna(out["district"])
        return out

    def issues_frame(self) -> pd.DataFrame:
        """Problems then warnings as a table (severity, code, place, field, messages)."""
        rows = [i.to_dict() for i in [*self.problems, *self.warnings]]
        return pd.DataFrame(rows, columns=["severity", "code", "place", "field", "message_zh", "message_en"])

    def to_dict(self, plan: Plan | None = None) -> dict[str, Any]:
        """JSON-ready: file, ok, crs, parks (summary rows), problems and warnings."""
        parks = self.summary_frame(plan).astype(object)
        parks = parks.where(parks.notna(), None)
        return {
            "file": self.file,
            "ok": self.ok,
            "crs": self.crs_used,
            "n_parks": len(self.parks),
            "parks": parks.to_dict("records"),
            "problems": [i.to_dict() for i in self.problems],
            "warnings": [i.to_dict() for i in self.warnings],
            "repairs": self.repairs_wkt(),
        }

    def repairs_wkt(self) -> dict[str, str]:
        """The repaired shapes offered for invalid geometries, as WKT by park id."""
        if self.repairs is None:
            return {}
        offered = self.repairs.dropna()
        return dict(
            zip(
                self.parks.loc[offered.index, "id"],
                shapely.to_wkt(offered.values, rounding_precision=7),
                strict=True,
            )
        )


class _Collector:
    """Gathers problems and warnings while one file is read."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.problems: list[ImportIssue] = []
        self.warnings: list[ImportIssue] = []
        # Rows whose geometry is lost because a coordinate is not a number: what was reported
        # already (tables: by column), and what the geometry check still has to say (GeoJSON).
        self.geometry_reported: set[int] = set()
        self.not_numbers: dict[int, str] = {}

    def error(self, code: str, place: str, fld: str, zh: str, en: str) -> None:
        self.problems.append(ImportIssue(code, Problem(place, fld, zh, en)))

    def warn(self, code: str, place: str, fld: str, zh: str, en: str) -> None:
        self.warnings.append(ImportIssue(code, Problem(place, fld, zh, en), "warning"))


class _Refuse(Exception):
    """Stop reading: the file cannot be used at all (the collector holds why)."""


class _CrsUnknown(Exception):
    """Where the coordinates lie is unknown; the fields are still checked (the collector holds why)."""


# ---------------------------------------------------------------- reading


def _materialise(source: str | Path | bytes | BinaryIO, filename: str | None, tmp: Path) -> Path:
    """A path on disk for the input (uploads are written into ``tmp``)."""
    if isinstance(source, str | Path):
        return Path(source)
    data = source if isinstance(source, bytes) else source.read()
    name = Path(filename or "upload").name or "upload"
    path = tmp / name
    path.write_bytes(data)
    return path


def _unzip(path: Path, tmp: Path, c: _Collector) -> Path:
    """Extract an archive (member names reduced to their base names) and return the file to read."""
    try:
        with zipfile.ZipFile(path) as zf:
            out = tmp / "unzipped"
            out.mkdir(exist_ok=True)
            for info in zf.infolist():
                base = Path(info.filename).name
                if info.is_dir() or not base or base.startswith("."):
                    continue
                (out / base).write_bytes(zf.read(info))
    except (zipfile.BadZipFile, OSError) as exc:
        c.error("unreadable", c.file, "", f"无法读取压缩文件: {exc}", f"cannot read the zip file: {exc}")
        raise _Refuse from exc
    files = sorted(out.iterdir())
    for suffix in (".shp", ".gpkg", ".geojson", ".json", ".kml"):
        hits = [f for f in files if f.suffix.lower() == suffix]
        if hits:
            if len(hits) > 1:
                c.warn(
                    "layers_ignored", c.file, "",
                    f"压缩包中有多个{suffix}文件, 只导入 {hits[0].name}",
                    f"the zip holds several {suffix} files; only {hits[0].name} is imported",
                )  # fmt: skip
            return hits[0]
    c.error(
        "unreadable", c.file, "",
        "压缩包中没有 .shp/.gpkg/.geojson/.kml 文件",
        "the zip holds no .shp, .gpkg, .geojson or .kml file",
    )  # fmt: skip
    raise _Refuse


def _sidecar(shp: Path, suffix: str) -> Path | None:
    for f in shp.parent.iterdir():
        if f.stem == shp.stem and f.suffix.lower() == suffix:
            return f
    return None


def _cpg_codec(text: str) -> str | None:
    """Python codec for a .cpg text ("UTF-8", "GBK", "936", "ANSI 936"); None when unknown."""
    t = text.strip().upper().replace("ANSI", "").strip()
    if t in ("936", "CP936", "GBK", "GB2312", "GB18030", "EUC-CN"):
        return "gb18030"  # a superset of GBK/GB2312: decodes all of them
    if t in ("65001", "UTF8", "UTF-8"):
        return "utf-8"
    for cand in (t, f"cp{t}"):
        try:
            return codecs.lookup(cand).name
        except LookupError:
            continue
    return None


def _sniff_dbf(dbf: Path) -> str:
    """UTF-8 when the DBF's header and records decode strictly as UTF-8, else GB18030."""
    raw = dbf.read_bytes()
    try:
        raw[32:].decode("utf-8")
    except UnicodeDecodeError:
        return "gb18030"
    return "utf-8"


_KML_LAUNDER = "LIBKML_LAUNDER_FIELD_NAMES"


def _read_vector(path: Path, c: _Collector, **kwargs: Any) -> gpd.GeoDataFrame:
    """pyogrio read of the first layer; GDAL's warnings become import warnings."""
    try:
        layers = pyogrio.list_layers(path)
    except (pyogrio.errors.DataSourceError, OSError) as exc:
        c.error("unreadable", c.file, "", f"无法读取文件: {exc}", f"cannot read the file: {exc}")
        raise _Refuse from exc
    if len(layers) == 0:
        c.error("empty", c.file, "", "文件中没有图层", "the file holds no layer")
        raise _Refuse
    if len(layers) > 1:
        c.warn(
            "layers_ignored", c.file, "",
            f"文件有 {len(layers)} 个图层, 只导入第一个 ({layers[0][0]})",
            f"the file has {len(layers)} layers; only the first ({layers[0][0]}) is imported",
        )  # fmt: skip
    kml = path.suffix.lower() in (".kml", ".kmz")
    previous = pyogrio.get_gdal_config_option(_KML_LAUNDER) if kml else None
    if kml:  # keep Chinese <Data name="占地面积"> headers instead of GDAL's "____" laundering
        pyogrio.set_gdal_config_options({_KML_LAUNDER: "NO"})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            gdf = pyogrio.read_dataframe(path, layer=layers[0][0], **kwargs)
        except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError, OSError) as exc:
            c.error("unreadable", c.file, "", f"无法读取文件: {exc}", f"cannot read the file: {exc}")
            raise _Refuse from exc
        except UnicodeDecodeError as exc:
            if "encoding" not in kwargs:
                raise  # the shapefile reader retries with another encoding
            c.error(
                "unreadable", c.file, "",
                f"文字无法按 {kwargs['encoding']} 解码 (字段名可能被截断): {exc}",
                f"text does not decode as {kwargs['encoding']} (a field name may be cut short): {exc}",
            )  # fmt: skip
            raise _Refuse from exc
        finally:
            if kml:
                pyogrio.set_gdal_config_options({_KML_LAUNDER: previous})
    for w in caught:
        c.warn("read_warning", c.file, "", f"读取提示: {w.message}", f"reader says: {w.message}")
    return gdf


def _read_shapefile(shp: Path, c: _Collector) -> gpd.GeoDataFrame:
    dbf = _sidecar(shp, ".dbf")
    cpg = _sidecar(shp, ".cpg")
    encoding = None
    if cpg is not None:
        text = cpg.read_text(encoding="ascii", errors="replace")
        encoding = _cpg_codec(text)
        if encoding is None:
            c.warn(
                "encoding", c.file, "", f".cpg 中的编码 {text.strip()!r} 无法识别, 自动检测",
                f"the .cpg names an unknown encoding {text.strip()!r}; detecting it instead",
            )  # fmt: skip
    if encoding is None and dbf is not None and dbf.stat().st_size > 29 and dbf.read_bytes()[29] == 0:
        encoding = _sniff_dbf(dbf)
        if encoding != "utf-8":
            c.warn(
                "encoding", c.file, "", "没有 .cpg 文件; 属性文字按 GB18030 (GBK) 读取 (自动检测)",
                "no .cpg file; attribute text read as GB18030 (GBK), detected from the bytes",
            )  # fmt: skip
    if _sidecar(shp, ".prj") is None:
        c.warn("no_prj", c.file, "", "没有 .prj 文件, 坐标系未声明", "no .prj file: the CRS is not declared")
    try:
        return _read_vector(shp, c, encoding=encoding) if encoding else _read_vector(shp, c)
    except UnicodeDecodeError:
        if encoding == "gb18030" or dbf is None:
            c.error(
                "unreadable", c.file, "", "属性文字编码无法识别", "the attribute text's encoding is unknown"
            )
            raise _Refuse from None
        c.warn(
            "encoding", c.file, "", f"按 {encoding} 解码失败, 改按 GB18030 读取",
            f"text did not decode as {encoding}; read as GB18030 instead",
        )  # fmt: skip
        kwargs_retry = {"encoding": "gb18030"}
        return _read_vector(shp, c, **kwargs_retry)


def _read_geojson(path: Path, c: _Collector) -> tuple[gpd.GeoDataFrame, bool]:
    """Returns the frame and whether the file declares a CRS (a legacy ``crs`` member)."""
    raw = path.read_bytes()
    try:
        doc = json.loads(raw.decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        c.error("unreadable", c.file, "", f"不是 UTF-8 编码的 JSON: {exc}", f"not UTF-8 JSON: {exc}")
        raise _Refuse from exc
    except json.JSONDecodeError as exc:
        c.error(
            "unreadable", c.file, "",
            f"JSON 语法错误 (第 {exc.lineno} 行第 {exc.colno} 列): {exc.msg}; 文件可能被截断",
            f"JSON syntax error at line {exc.lineno}, column {exc.colno}: {exc.msg}; the file may be truncated",
        )  # fmt: skip
        raise _Refuse from exc
    if not isinstance(doc, dict) or doc.get("type") not in (
        "FeatureCollection", "Feature", "Point", "Polygon", "MultiPolygon", "LineString",
        "MultiLineString", "MultiPoint", "GeometryCollection",
    ):  # fmt: skip
        c.error(
            "unreadable", c.file, "type", "不是 GeoJSON (缺少 type 或类型未知)",
            "not GeoJSON: no known top-level 'type'",
        )  # fmt: skip
        raise _Refuse
    if doc.get("type") == "FeatureCollection" and not doc.get("features"):
        c.error("empty", c.file, "features", "要素集合为空, 没有园区", "the feature collection is empty")
        raise _Refuse
    gdf = _read_vector(path, c)
    c.not_numbers = _non_numeric_coordinates(doc, gdf.geometry.values)
    return gdf, "crs" in doc


def _non_numeric_coordinates(doc: dict, geoms: np.ndarray) -> dict[int, str]:
    """Row -> the coordinate that is not a number, for features GDAL read without a geometry.

    GDAL drops a geometry holding a non-number coordinate; only those rows (present in the
    file, empty in the frame) are looked at in the parsed JSON.
    """
    kind = doc.get("type")
    feats = (
        doc.get("features") or []
        if kind == "FeatureCollection"
        else [doc if kind == "Feature" else {"geometry": doc}]
    )
    if not isinstance(feats, list) or len(feats) != len(geoms):  # rows and features do not pair up
        return {}
    out: dict[int, str] = {}
    for i in np.flatnonzero(shapely.is_missing(geoms) | shapely.is_empty(geoms)):
        geom = feats[i].get("geometry") if isinstance(feats[i], dict) else None
        coords = geom.get("coordinates") if isinstance(geom, dict) else None
        found = _first_non_number(coords, "coordinates") if isinstance(coords, list) else None
        if found:
            out[int(i)] = found
    return out


def _first_non_number(value: Any, where: str) -> str | None:
    """``"x" (coordinates[2])`` for the first value in nested lists that is not a number."""
    if isinstance(value, list):
        for k, v in enumerate(value):
            found = _first_non_number(v, f"{where}[{k}]")
            if found:
                return found
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        return f"{json.dumps(value, ensure_ascii=False)[:60]} ({where})"
    return None


def _read_table(path: Path, c: _Collector) -> pd.DataFrame:
    suffix = path.suffix.lower()
    try:
        if suffix in (".csv", ".txt"):
            raw = path.read_bytes()
            try:
                text = raw.decode("utf-8-sig")
            except UnicodeDecodeError:
                text = raw.decode("gb18030", errors="strict")
                c.warn(
                    "encoding", c.file, "", "CSV 按 GB18030 (GBK) 编码读取",
                    "CSV read as GB18030 (GBK) text",
                )  # fmt: skip
            head = text.lstrip().split("\n", 1)[0]
            sep = max((",", ";", "\t", "|"), key=head.count)  # the header line names the separator
            frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False, sep=sep)
        else:
            frame = pd.read_excel(path, dtype=str, keep_default_na=False, sheet_name=0)
    except (ValueError, OSError, UnicodeDecodeError, pd.errors.ParserError, zipfile.BadZipFile) as exc:
        c.error("unreadable", c.file, "", f"无法读取表格: {exc}", f"cannot read the table: {exc}")
        raise _Refuse from exc
    return frame


# ---------------------------------------------------------------- CRS


def parse_crs_option(text: str | None) -> str | CRS | None:
    """``None``/``"auto"`` -> None; ``wgs84``/``gcj02``/``bd09`` -> that datum; ``EPSG:n`` -> a CRS.

    Raises :class:`PlannerError` for anything else (the CLI turns it into exit code 2).
    """
    if text is None or str(text).strip().lower() in ("", "auto"):
        return None
    t = str(text).strip().lower()
    if t in DATUMS:
        return t
    try:
        if not re.fullmatch(r"epsg:\d+", t):
            raise CRSError(t)
        return CRS.from_user_input(t.upper())
    except CRSError as exc:
        raise PlannerError(
            f"unknown CRS {text!r}; use wgs84, gcj02, bd09 or EPSG:<code> / 无法识别的坐标系"
        ) from exc


def _crs_name(crs: CRS | None) -> str:
    if crs is None:
        return "undeclared"
    epsg = crs.to_epsg()
    return f"EPSG:{epsg}" if epsg else crs.name


def _looks_projected(geoms: np.ndarray) -> bool:
    b = shapely.total_bounds(geoms)
    # Beyond any longitude/latitude; a latitude of 90-180 is more likely a swapped pair, checked later.
    return bool(np.isfinite(b).all() and np.abs(b).max() > 180)


def _to_wgs84(
    gdf: gpd.GeoDataFrame, declared: CRS | None, option: str | CRS | None, c: _Collector
) -> tuple[gpd.GeoDataFrame, str]:
    """Bring the frame's geometry to WGS84, honouring the file's declaration and the user's option."""
    geoms = gdf.geometry.values
    present = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    projected_numbers = bool(present.any()) and _looks_projected(geoms[present])
    user_crs = option if isinstance(option, CRS) else None
    datum = option if isinstance(option, str) else None
    sample = ""
    if present.any():
        x0, y0 = shapely.get_coordinates(geoms[present][:1])[0]
        sample = f"x={x0:.6g}, y={y0:.6g}"

    def done(frame: gpd.GeoDataFrame, crs: CRS) -> gpd.GeoDataFrame:
        return frame.set_crs(crs, allow_override=True).to_crs(WGS84)

    if declared is not None and not declared.is_geographic:
        if user_crs is not None and not user_crs.equals(declared):
            c.error(
                "crs_conflict", c.file, "crs",
                f"文件声明坐标系 {_crs_name(declared)}, 但指定为 {_crs_name(user_crs)}",
                f"the file declares {_crs_name(declared)} but {_crs_name(user_crs)} was given",
            )  # fmt: skip
            raise _CrsUnknown
        if datum in ("gcj02", "bd09"):
            c.error(
                "crs_conflict", c.file, "crs",
                f"文件声明投影坐标系 {_crs_name(declared)}, 不能按 {datum} 经纬度处理",
                f"the file declares the projected {_crs_name(declared)}; it cannot be {datum} lon/lat",
            )  # fmt: skip
            raise _CrsUnknown
        c.warn(
            "crs_converted", c.file, "crs", f"已从 {_crs_name(declared)} 转换为 WGS84",
            f"converted from {_crs_name(declared)} to WGS84",
        )  # fmt: skip
        return done(gdf, declared), _crs_name(declared)
    # Declared geographic, or nothing declared.
    if projected_numbers:
        if user_crs is not None and not user_crs.is_geographic:
            c.warn(
                "crs_converted", c.file, "crs", f"按指定的 {_crs_name(user_crs)} 转换为 WGS84",
                f"converted from {_crs_name(user_crs)} (as given) to WGS84",
            )  # fmt: skip
            return done(gdf, user_crs), _crs_name(user_crs)
        c.error(
            "undeclared_projected", c.file, "crs",
            f"坐标看起来是投影坐标 ({sample}, 不是经纬度), 但文件没有声明坐标系; "
            "请附上 .prj 或用 --crs 指定 (如 EPSG:4547)",
            f"coordinates look projected ({sample}, not longitude/latitude) but the file declares no "
            "coordinate system; add a .prj or give --crs (e.g. EPSG:4547)",
        )  # fmt: skip
        raise _CrsUnknown
    if user_crs is not None and not user_crs.is_geographic:
        c.error(
            "crs_conflict", c.file, "crs",
            f"指定了投影坐标系 {_crs_name(user_crs)}, 但坐标是经纬度 ({sample})",
            f"{_crs_name(user_crs)} was given but the coordinates are longitude/latitude ({sample})",
        )  # fmt: skip
        raise _CrsUnknown
    base = declared or user_crs or CRS.from_user_input(WGS84)
    out = done(gdf, base)
    used = _crs_name(base)
    if datum in ("gcj02", "bd09"):
        out = out.set_geometry(gpd.GeoSeries(shift_to_wgs84(out.geometry, datum), index=out.index, crs=WGS84))
        c.warn(
            "datum_shifted", c.file, "crs", f"坐标已从 {datum.upper()} 转换为 WGS84 (约 500 米偏移)",
            f"coordinates converted from {datum.upper()} to WGS84 (a shift of about 500 m)",
        )  # fmt: skip
        used = datum
    elif not base.equals(CRS.from_user_input(WGS84)):
        c.warn("crs_converted", c.file, "crs", f"已从 {used} 转换为 WGS84", f"converted from {used} to WGS84")
    return out, used


# ---------------------------------------------------------------- the preview


def _place_fn(file: str, tabular: bool):
    def place(i: int, ident: str = "") -> str:
        where = f"{file} row {i + 2}" if tabular else f"{file} feature {i + 1}"
        return where + (f" ({ident})" if ident else "")

    return place


def _map_columns(frame: pd.DataFrame, c: _Collector) -> tuple[dict[str, str], dict[str, float | None]]:
    """file header -> register column (best-ranked header wins); unit factors by column."""
    best: dict[str, tuple[int, str, float | None]] = {}
    ignored: list[str] = []
    for header in frame.columns:
        col, rank, unit = match_header(str(header))
        if not col:
            if _norm(header) not in _KML_COLUMNS | _DERIVED_COLUMNS:
                ignored.append(str(header))
            continue
        if col in best:
            loser, keep = (header, best[col]) if best[col][0] <= rank else (best[col][1], None)
            winner = best[col][1] if keep else header
            if not _text(frame[loser]).equals(_text(frame[winner])):  # a copy (KML's Name) is no news
                ignored.append(str(loser))
            if keep:
                continue
        best[col] = (rank, str(header), unit)
    if ignored:
        c.warn(
            "ignored_columns", c.file, ", ".join(ignored),
            f"未识别或重复的列未导入: {', '.join(ignored)}",
            f"columns not recognised (or duplicates) were not imported: {', '.join(ignored)}",
        )  # fmt: skip
    mapping = {h: col for col, (_, h, _) in best.items()}
    units = {col: u for col, (_, _, u) in best.items()}
    return mapping, units


def _text(series: pd.Series) -> pd.Series:
    return series.astype(object).where(series.notna(), "").astype(str).str.strip().replace("nan", "")


def _label_lookup(items: Iterable[Any]) -> dict[str, str]:
    out: dict[str, str] = {}
    for it in items:
        for name in (it.key, it.label_zh, it.label_en):
            out[_norm(name)] = it.key
    return out


def _map_labels(values: pd.Series, lookup: dict[str, str], multi: bool) -> tuple[pd.Series, pd.Series]:
    """Map labels/keys to keys; returns (mapped, unknown-mask). ``multi`` splits on ; , 、 /."""
    uniq = {}
    for v in values.unique():
        if not v:
            uniq[v] = ("", False)
            continue
        tokens = [t for t in re.split(r"[;,，、；/|]+", v) if t.strip()] if multi else [v]
        keys = [lookup.get(_norm(t)) for t in tokens]
        uniq[v] = (";".join(k for k in keys if k), any(k is None for k in keys))
    mapped = values.map(lambda v: uniq[v][0])
    unknown = values.map(lambda v: uniq[v][1]).astype(bool)
    return mapped, unknown


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
        parsed = shapely.from_wkt(text.where(text != "", None).to_numpy(dtype=object), on_invalid="ignore")
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


def _generated_ids(names: pd.Series, geoms: np.ndarray) -> pd.Series:
    wkb = shapely.to_wkb(geoms, output_dimension=2)
    keys = [
        "imp-" + hashlib.sha1(f"{n}|".encode() + (w or b"")).hexdigest()[:10]
        for n, w in zip(names, wkb, strict=True)
    ]
    return pd.Series(keys, index=names.index)


def preview_import(
    source: str | Path | bytes | BinaryIO,
    filename: str | None,
    plan: Plan,
    register: Register,
    *,
    crs: str | CRS | None = None,
    accept_repairs: bool = False,
) -> ImportPreview:
    """Read and validate a file of parks against ``plan`` and ``register``; change nothing.

    ``source`` is a path, or the bytes / binary file of an upload with its ``filename`` (the
    suffix picks the reader). ``crs``: None (as the file declares; plain lon/lat is WGS84),
    ``"wgs84"``, ``"gcj02"``, ``"bd09"`` or ``"EPSG:n"`` (for files that declare nothing).
    ``accept_repairs``: use the repaired shape for invalid (self-intersecting) geometries.
    """
    option = crs if isinstance(crs, CRS) else parse_crs_option(crs)
    name = Path(filename).name if filename else Path(str(source)).name
    c = _Collector(name)
    with tempfile.TemporaryDirectory(prefix="planner-import-") as tmpdir:
        tmp = Path(tmpdir)
        try:
            path = _materialise(source, filename, tmp)
            return _preview(path, tmp, c, plan, register, option, accept_repairs)
        except _Refuse:
            return ImportPreview(
                file=name, parks=conform_parks(gpd.GeoDataFrame(geometry=[], crs=WGS84)),
                problems=c.problems, warnings=c.warnings,
            )  # fmt: skip


def _preview(
    path: Path,
    tmp: Path,
    c: _Collector,
    plan: Plan,
    register: Register,
    option: str | CRS | None,
    accept_repairs: bool,
) -> ImportPreview:
    suffix = path.suffix.lower()
    if not path.exists():
        c.error("unreadable", c.file, "", "文件不存在", "file not found")
        raise _Refuse
    if suffix not in SUPPORTED_SUFFIXES:
        c.error(
            "unreadable", c.file, "", f"不支持的文件类型 {suffix or '(无后缀)'}",
            f"unsupported file type {suffix or '(no suffix)'}; use {', '.join(SUPPORTED_SUFFIXES)}",
        )  # fmt: skip
        raise _Refuse
    if suffix == ".zip":
        path = _unzip(path, tmp, c)
        suffix = path.suffix.lower()
    tabular = suffix in TABLE_SUFFIXES
    declared: CRS | None = None
    if tabular:
        frame = _read_table(path, c)
        if frame.empty:
            c.error("empty", c.file, "", "表格中没有数据行", "the table has no data rows")
            raise _Refuse
        mapping, units = _map_columns(frame, c)
        place = _place_fn(c.file, True)
        gdf = _geometry_from_table(frame, mapping, place, c)
    else:
        if suffix in (".geojson", ".json"):
            gdf, has_crs = _read_geojson(path, c)
            declared = gdf.crs if has_crs else None
        elif suffix == ".shp":
            gdf = _read_shapefile(path, c)
            declared = gdf.crs
        else:
            gdf = _read_vector(path, c)
            declared = gdf.crs
        if gdf.empty:
            c.error("empty", c.file, "", "图层为空, 没有园区", "the layer is empty: no parks")
            raise _Refuse
        mapping, units = _map_columns(pd.DataFrame(gdf.drop(columns="geometry")), c)
        place = _place_fn(c.file, False)
    gdf = gdf.reset_index(drop=True)
    if declared is not None:
        declared = CRS.from_user_input(declared)
    gdf = gpd.GeoDataFrame(gdf, geometry=shapely.force_2d(gdf.geometry.values), crs=None)
    try:
        gdf, crs_used = _to_wgs84(gdf, declared, option, c)
        located = True
    except _CrsUnknown:  # go on: every field problem is still worth reporting now
        gdf, crs_used, located = gdf.set_crs(WGS84, allow_override=True), "", False
    parks = _build_parks(gdf, mapping, units, place, c, plan)
    repairs = _check_geometry(parks, place, c, accept_repairs, tabular, mapping, located=located)
    if accept_repairs and repairs is not None:
        parks = parks.set_geometry(
            gpd.GeoSeries(
                np.where(repairs.notna(), repairs.values, parks.geometry.values), index=parks.index, crs=WGS84
            )
        )
    if located:
        _locate(parks, plan, place, c)
    _check_register(parks, register, place, c, located=located)
    return ImportPreview(
        file=c.file, parks=parks, problems=c.problems, warnings=c.warnings,
        repairs=repairs, crs_used=crs_used, columns=mapping,
    )  # fmt: skip


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
    if "name_zh" in cols:
        for i in np.flatnonzero((names == "").to_numpy()):
            c.error("missing_name", place(i, ident.iloc[i]), cols["name_zh"], "缺少名称", "name is missing")

    # Areas and other numbers.
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
        neg = (values < 0) if col in AREA_COLUMNS else (values <= 0)
        for i in np.flatnonzero(neg.to_numpy()):
            c.error(
                "negative_area" if col in AREA_COLUMNS else "bad_number", place(i, ident.iloc[i]),
                cols[col], f"不能为负数{'' if col in AREA_COLUMNS else '或零'}: {raw.iloc[i]}",
                f"must not be negative{'' if col in AREA_COLUMNS else ' or zero'}: {raw.iloc[i]}",
            )  # fmt: skip
        out[col] = values

    # Status and delivery year (original texts kept).
    status_src = out["status"] if "status" in out else pd.Series("", index=gdf.index)
    if "status_src" not in out:
        out["status_src"] = status_src
    by_label = {_norm(lbl): key for key, labels in STATUS_LABELS.items() for lbl in (key, *labels)}
    direct = status_src.map(lambda s: by_label.get(_norm(s), ""))
    out["status"] = direct.where(direct != "", status_src.map(normalise_status))
    unrecognised = (status_src != "") & (out["status"] == "unknown") & (direct == "")
    for i in np.flatnonzero(unrecognised.to_numpy()):
        c.warn(
            "status_unknown", place(i, ident.iloc[i]), cols.get("status", "status"),
            f"状态无法识别, 记为未知: {status_src.iloc[i]}",
            f"status not recognised, recorded as unknown: {status_src.iloc[i]}",
        )  # fmt: skip
    if "delivery_year" in cols:
        raw = _text(gdf[cols["delivery_year"]]).str.replace(r"\.0$", "", regex=True)
        year = pd.to_numeric(raw.str.extract(_YEAR)[0], errors="coerce")
        bad = (raw != "") & (year.isna() | (year < YEAR_MIN) | (year > YEAR_MAX))
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

    # Labelled values: park type, fields, name-park level, land-use class.
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
        bad = ~out["land_use_class"].isin(["", "M0", "M1"])
        for i in np.flatnonzero(bad.to_numpy()):
            c.error(
                "unknown_value", place(i, ident.iloc[i]), cols["land_use_class"],
                f"用地类别须为 M0/M1: {out['land_use_class'].iloc[i]}",
                f"land-use class must be M0 or M1: {out['land_use_class'].iloc[i]}",
            )  # fmt: skip

    # Ids: given, else generated from name + geometry (stable: a re-import finds the same park).
    geoms = gdf.geometry.values
    generated = _generated_ids(names, geoms)
    if "id" not in out or (out["id"] == "").any():
        c.warn(
            "ids_generated", c.file, "id", "部分园区没有编号, 已按名称和位置生成",
            "some parks have no id; ids were generated from the name and location",
        )  # fmt: skip
    out["id"] = ids_given.where(ids_given != "", generated)
    dup = out["id"].duplicated(keep="first")
    first_row = {v: i for i, v in reversed(list(enumerate(out["id"])))}
    for i in np.flatnonzero(dup.to_numpy()):
        first = place(first_row[out["id"].iloc[i]])
        c.error(
            "duplicate_id", place(i, out["id"].iloc[i]), cols.get("id", "id"),
            f"编号重复: {out['id'].iloc[i]} (与 {first} 相同)",
            f"duplicate id {out['id'].iloc[i]} (same as {first})",
        )  # fmt: skip

    if "figures_verified" in out:
        flag = _text(out["figures_verified"]).map(_norm)
        out["figures_verified"] = flag.isin(["true", "1", "yes", "y", "是", "verified", "已核实", "1.0"])
    parks = conform_parks(gpd.GeoDataFrame(out, geometry=gpd.GeoSeries(geoms, index=gdf.index), crs=WGS84))
    parks["source"] = parks["source"].where(parks["source"] != "", f"import: {c.file}")

    # District: location decides; the file's own text is kept as "district (as sourced)".
    declared = parks["district"].map(lambda d: plan.resolve_district(d) if d else ("", ""))
    parks["district_code"] = parks["district_code"].where(parks["district_code"] != "", declared.str[0])
    parks["functional_area"] = parks["functional_area"].where(parks["functional_area"] != "", declared.str[1])
    unknown_d = (parks["district"] != "") & (declared.str[0] == "") & (declared.str[1] == "")
    for i in np.flatnonzero(unknown_d.to_numpy()):
        c.warn(
            "district_unknown", place(i, parks["id"].iloc[i]), cols.get("district", "district"),
            f"区名无法识别, 按位置确定: {parks['district'].iloc[i]}",
            f"district name not recognised; the location decides: {parks['district'].iloc[i]}",
        )  # fmt: skip
    valid_codes = set(plan.district_codes())
    bad_code = (parks["district_code"] != "") & ~parks["district_code"].isin(valid_codes)
    for i in np.flatnonzero(bad_code.to_numpy()):
        c.error(
            "unknown_value", place(i, parks["id"].iloc[i]), cols.get("district_code", "district_code"),
            f"未知区代码: {parks['district_code'].iloc[i]}",
            f"unknown district code: {parks['district_code'].iloc[i]}",
        )  # fmt: skip
    return parks


def _check_geometry(
    parks: gpd.GeoDataFrame,
    place: Any,
    c: _Collector,
    accept_repairs: bool,
    tabular: bool,
    mapping: dict,
    *,
    located: bool = True,
) -> gpd.GeoSeries | None:
    """Missing, wrong-type, invalid, swapped and out-of-city geometries; returns offered repairs."""
    geoms = parks.geometry.values
    ids = parks["id"]
    missing = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    for i in np.flatnonzero(missing):
        if i in c.not_numbers:
            c.error(
                "bad_coordinate", place(i, ids.iloc[i]), "geometry", f"坐标不是数字: {c.not_numbers[i]}",
                f"coordinate is not a number: {c.not_numbers[i]}",
            )  # fmt: skip
        elif i not in c.geometry_reported:  # a table's bad coordinate is reported by its column
            c.error(
                "missing_geometry", place(i, ids.iloc[i]), "geometry", "缺少几何/坐标",
                "geometry (or coordinates) missing",
            )  # fmt: skip
    kinds = shapely.get_type_id(geoms)
    allowed = np.isin(kinds, [0, 3, 6])
    wrong = ~missing & ~allowed
    types = parks.geom_type
    for i in np.flatnonzero(wrong):
        c.error(
            "wrong_geometry_type", place(i, ids.iloc[i]), "geometry",
            f"几何类型须为点或面, 实为 {types.iloc[i]}",
            f"geometry must be a Point or (Multi)Polygon, got {types.iloc[i]}",
        )  # fmt: skip
    invalid = ~missing & allowed & ~shapely.is_valid(geoms)
    repairs = None
    if invalid.any():
        fixed = np.full(len(geoms), None, dtype=object)
        idx = np.flatnonzero(invalid)
        made = shapely.make_valid(geoms[idx])
        polys = [
            shapely.union_all([p for p in shapely.get_parts(m) if shapely.get_type_id(p) in (3, 6)])
            for m in made
        ]
        fixed[idx] = polys
        repairs = gpd.GeoSeries(fixed, index=parks.index, crs=WGS84)
        for i in idx:
            reason = shapely.is_valid_reason(geoms[i])
            area = float(area_m2(gpd.GeoSeries([fixed[i]], crs=WGS84)).iloc[0])
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
    if not located:  # the CRS is unknown: where the shapes lie cannot be checked
        return repairs
    located = ~missing & allowed
    inside = in_shenzhen_bbox(parks.geometry)
    swapped_geoms = shapely.transform(geoms[located], lambda xy: xy[:, ::-1])
    swapped_inside = np.zeros(len(geoms), dtype=bool)
    swapped_inside[located] = in_shenzhen_bbox(gpd.GeoSeries(swapped_geoms))
    cols = {v: k for k, v in mapping.items()}
    for i in np.flatnonzero(located & ~inside & swapped_inside):
        x, y = shapely.get_coordinates(geoms[i])[0]
        what = f"{cols.get('_lon', 'lon')}/{cols.get('_lat', 'lat')}" if tabular and "_lon" in cols else "x/y"
        c.error(
            "swapped_axes", place(i, ids.iloc[i]), what,
            f"经纬度似乎互换了 ({x:.4f}, {y:.4f} 看起来是 纬度, 经度); 请交换 {what} 两列/坐标顺序",
            f"latitude and longitude look swapped ({x:.4f}, {y:.4f} reads as lat, lon); swap {what}",
        )  # fmt: skip
    x0, y0, x1, y1 = SHENZHEN_BBOX
    for i in np.flatnonzero(located & ~inside & ~swapped_inside):
        pt = shapely.point_on_surface(geoms[i]) if not shapely.is_empty(geoms[i]) else None
        where = f"{pt.x:.4f}, {pt.y:.4f}" if pt is not None else "?"
        c.error(
            "outside_shenzhen", place(i, ids.iloc[i]), "geometry",
            f"坐标在深圳范围以外 (经度 {x0}-{x1}, 纬度 {y0}-{y1}): {where}",
            f"coordinates outside Shenzhen (lon {x0}-{x1}, lat {y0}-{y1}): {where}",
        )  # fmt: skip
    return repairs


def _locate(parks: gpd.GeoDataFrame, plan: Plan, place: Any, c: _Collector) -> None:
    """Fill the district of parks that declare none from their location (in place).

    A declared district that disagrees with the location is a warning: location decides in
    :func:`planner.assign.assign_districts`, the disagreement is a finding, not an error.
    """
    geoms = parks.geometry.values
    usable = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms)) & shapely.is_valid(geoms)
    usable &= np.isin(shapely.get_type_id(geoms), [0, 3, 6]) & in_shenzhen_bbox(parks.geometry)
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
    shapes = usable & ~points
    if shapes.any():  # a polygon by the district holding most of its area
        geo.loc[parks.index[shapes]] = assign_districts(parks.loc[shapes], plan)["geo_district_code"]
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
    # The register's district_code is the declared one; a park that declares none gets its location's.
    undeclared = (geo != "") & (declared == "") & (parks.loc[usable, "district"] == "")
    parks.loc[undeclared[undeclared].index, "district_code"] = geo[undeclared]


def _check_register(
    parks: gpd.GeoDataFrame, register: Register, place: Any, c: _Collector, *, located: bool = True
) -> None:
    """Parks already in the register: same id, or a near-identical footprint."""
    ids = parks["id"]
    for i in np.flatnonzero(ids.isin(register.parks["id"]).to_numpy()):
        c.error(
            "existing_id", place(i, ids.iloc[i]), "id", f"编号已在登记册中: {ids.iloc[i]}",
            f"id already in the register: {ids.iloc[i]}",
        )  # fmt: skip
    if not located:
        return
    mine = parks.geometry.values
    theirs = register.parks.geometry.values
    ok_mine = ~(shapely.is_missing(mine) | shapely.is_empty(mine)) & shapely.is_valid(mine)
    ok_theirs = ~(shapely.is_missing(theirs) | shapely.is_empty(theirs)) & shapely.is_valid(theirs)
    if not ok_mine.any() or not ok_theirs.any():
        return
    a = gpd.GeoDataFrame({"i": np.flatnonzero(ok_mine)}, geometry=mine[ok_mine], crs=WGS84).to_crs(METRIC)
    b = gpd.GeoDataFrame(
        {"rid": register.parks["id"].to_numpy()[ok_theirs]}, geometry=theirs[ok_theirs], crs=WGS84
    ).to_crs(METRIC)
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
            i = int(row["i"])
            c.error(
                "existing_footprint", place(i, ids.iloc[i]), "geometry",
                f"与登记册中的园区 {row['rid']} 位置/范围几乎相同",
                f"footprint nearly identical to register park {row['rid']}",
            )  # fmt: skip


# ---------------------------------------------------------------- confirm and store


def confirm_import(preview: ImportPreview, register: Register, plan: Plan) -> Register:
    """A new register with the previewed parks added; raises :class:`ImportRefused` on any problem.

    The register passed in is never modified (registers are immutable; ``add_parks`` returns a
    new one and checks everything again).
    """
    if preview.problems:
        raise ImportRefused(preview.problems, what=f"import {preview.file}")
    if preview.parks.empty:
        raise ImportRefused(
            [ImportIssue("empty", Problem(preview.file, "", "没有可导入的园区", "no parks to import"))],
            what=f"import {preview.file}",
        )
    return add_parks(register, preview.parks, plan, place=f"import {preview.file}")
