"""Import parks from real GIS files: read, recognise headers, convert units and CRS, validate, confirm.

Two steps, so nothing reaches the register unless the whole import is valid and the user confirms:

1. :func:`preview_import` reads a file (a path, or the bytes of an upload plus its file name) and
   returns an :class:`ImportPreview`: the parks it would add (register columns, WGS84), every
   problem (each with its feature/row number and field, Chinese and English) and the warnings.
   It never touches the register.
2. :func:`confirm_import` turns a preview without problems into a *new* Register (via
   :func:`planner.core.register.add_parks`); a refused preview raises :class:`ImportRefused` and the
   register stays as it was. Saving it is the store's job (``planner.store.service.Store.save``: a new
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
map-datum coordinates to WGS84 (via :mod:`planner.core.geo`); ``crs="EPSG:n"`` states the system of
a file that declares none. Areas in m², 公顷, 亩, 万㎡ and km² are converted to m².

    >>> parse_area(pd.Series(["15万㎡", "3公顷", "300亩", "1,200", ""])).round(1).tolist()[:4]
    [150000.0, 30000.0, 200000.0, 1200.0]
"""

from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS

from planner.core.changes import Delta, RegisterChanges, TableChanges, apply_delta
from planner.core.geo import (
    WGS84,
)
from planner.core.plan import Plan
from planner.core.register import (
    ALLOCATION_COLUMNS,
    Nearby,
    Register,
    add_parks,
    conform_allocations,
    conform_parks,
    rows_near,
    validate_allocations,
)
from planner.errors import PlannerError, Problem, ValidationError
from planner.io.allocations import allocation_columns, build_allocations, fill_footprint_areas
from planner.io.checks import (
    ShapeFacts,
    _build_parks,
    _check_geometry,
    _check_register,
    _drop_non_finite,
    _geometry_from_table,
    _locate,
)
from planner.io.crs import _declared_crs, _to_wgs84, parse_crs_option
from planner.io.headers import _map_columns, match_header
from planner.io.issues import ImportIssue, ImportRefused, _Collector, _CrsUnknown, _Refuse
from planner.io.readers import (
    ARCHIVE_SUFFIXES,
    SUPPORTED_SUFFIXES,
    TABLE_SUFFIXES,
    _materialise,
    _read_geojson,
    _read_shapefile,
    _read_table,
    _read_vector,
    _unzip,
)
from planner.io.units import AREA_COLUMNS, parse_area

_log = logging.getLogger(__name__)

__all__ = [
    "SUPPORTED_SUFFIXES",
    "ImportIssue",
    "ImportPreview",
    "ImportRefused",
    "confirm_import",
    "import_delta",
    "match_header",
    "parse_area",
    "parse_crs_option",
    "preview_import",
]


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
    # allocations the file carries (分配面积 ...), one per park row with an area; see planner.io.allocations
    allocations: pd.DataFrame = field(default_factory=lambda: conform_allocations(pd.DataFrame()))
    allocation_columns: dict[str, tuple[str, float | None]] = field(default_factory=dict)

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
            "n_allocations": len(self.allocations),
            "allocated_m2": float(self.allocations["area_m2"].sum()),
            "allocations": self.allocations.astype(object)
            .where(self.allocations.notna(), None)
            .to_dict("records"),
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


def _flat(geoms: Any) -> np.ndarray:
    """The geometries in two dimensions (Z and M dropped): only those that have more are rebuilt
    (at 100,000 plain 2D parcels, forcing every one cost 0.15 s for nothing)."""
    out = np.asarray(geoms, dtype=object)
    deep = shapely.get_coordinate_dimension(out) > 2
    if not deep.any():
        return out.copy()
    out = out.copy()
    out[deep] = shapely.force_2d(out[deep])
    return out


def _place_fn(file: str, tabular: bool):
    def place(i: int, ident: str = "") -> str:
        where = f"{file} row {i + 2}" if tabular else f"{file} feature {i + 1}"
        return where + (f" ({ident})" if ident else "")

    return place


def preview_import(
    source: str | Path | bytes | BinaryIO,
    filename: str | None,
    plan: Plan,
    register: Register | Nearby,
    *,
    crs: str | CRS | None = None,
    accept_repairs: bool = False,
) -> ImportPreview:
    """Read and validate a file of parks against ``plan`` and ``register``; change nothing.

    ``source`` is a path, or the bytes / binary file of an upload with its ``filename`` (the
    suffix picks the reader). ``crs``: None (as the file declares; plain lon/lat is WGS84),
    ``"wgs84"``, ``"gcj02"``, ``"bd09"`` or ``"EPSG:n"`` (for files that declare nothing).
    ``accept_repairs``: use the repaired shape for invalid (self-intersecting) geometries.
    ``register``: the register the parks would join, or what finds its rows near them
    (:data:`planner.core.register.Nearby`, e.g. ``partial(store.near, scenario, version)``): only
    the rows near the incoming parks, and those with their ids, are compared.

    Never raises for a file, however crafted: every reason it cannot be used is a problem with its
    place (only a wrong ``PLANNER_MAX_*`` setting of the server raises :class:`PlannerError`).
    """
    option = crs if isinstance(crs, CRS) else parse_crs_option(crs)
    name = Path(filename).name if filename else Path(str(source)).name
    c = _Collector(name)
    with tempfile.TemporaryDirectory(prefix="planner-import-") as tmpdir:
        tmp = Path(tmpdir)
        try:
            path = _materialise(source, filename, tmp, c)
            return _preview(path, tmp, c, plan, register, option, accept_repairs)
        except _Refuse:
            pass
        except PlannerError:  # the server's own settings are wrong (a PLANNER_MAX_* value): say so
            raise
        except Exception:  # a reader failing in a way not foreseen: a problem of the file, logged
            _log.exception("import of %s failed while reading", name)
            c.error(
                "read_error", c.file, "",
                "读取时出错: 文件可能已损坏或格式异常; 请检查或另存后重试 (详情见服务器日志)",
                "the file could not be read: it may be damaged or malformed; check it or save it "
                "again (details in the server log)",
            )  # fmt: skip
        return ImportPreview(
            file=name, parks=conform_parks(gpd.GeoDataFrame(geometry=[], crs=WGS84)),
            problems=c.problems, warnings=c.warnings,
        )  # fmt: skip


def _preview(
    path: Path,
    tmp: Path,
    c: _Collector,
    plan: Plan,
    register: Register | Nearby,
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
    if suffix in ARCHIVE_SUFFIXES:  # .zip, .kmz: extracted within the import limits
        path = _unzip(path, tmp, c)
        suffix = path.suffix.lower()
    tabular = suffix in TABLE_SUFFIXES
    declared: CRS | None = None
    if tabular:
        frame = _read_table(path, c)
        if frame.empty:
            c.error("empty", c.file, "", "表格中没有数据行", "the table has no data rows")
            raise _Refuse
        alloc_cols = allocation_columns(frame.columns)
        mapping, units = _map_columns(frame.drop(columns=[h for h, _ in alloc_cols.values()]), c)
        attrs = frame.reset_index(drop=True)
        place = _place_fn(c.file, True)
        gdf = _geometry_from_table(frame, mapping, place, c)
    else:
        if suffix in (".geojson", ".json"):
            gdf, has_crs = _read_geojson(path, c)
            declared = gdf.crs if has_crs else None
        elif suffix == ".shp":
            gdf = _read_shapefile(path, c, tmp)
            declared = gdf.crs
        else:
            gdf = _read_vector(path, c)
            declared = gdf.crs
        if gdf.empty:
            c.error("empty", c.file, "", "图层为空, 没有园区", "the layer is empty: no parks")
            raise _Refuse
        attrs = pd.DataFrame(gdf.drop(columns="geometry")).reset_index(drop=True)
        alloc_cols = allocation_columns(attrs.columns)
        mapping, units = _map_columns(attrs.drop(columns=[h for h, _ in alloc_cols.values()]), c)
        place = _place_fn(c.file, False)
    gdf = gdf.reset_index(drop=True)
    gdf = gpd.GeoDataFrame(gdf, geometry=_flat(gdf.geometry.values), crs=None)
    gdf = _drop_non_finite(gdf, c)
    try:
        declared = _declared_crs(declared, option, c, example=plan.metric_crs)
        gdf, crs_used = _to_wgs84(gdf, declared, option, c, example=plan.metric_crs)
        gdf = _drop_non_finite(gdf, c)  # a projection can overflow: 1e300 m is no place
        located = True
    except _CrsUnknown:  # go on: every field problem is still worth reporting now
        gdf, crs_used, located = gdf.set_crs(WGS84, allow_override=True), "", False
    parks = _build_parks(gdf, mapping, units, place, c, plan)
    shapes = ShapeFacts.of(parks.geometry, plan, located=located)  # asked once, used by every check
    repairs = _check_geometry(
        parks, plan, place, c, accept_repairs, tabular, mapping, located=located, shapes=shapes
    )
    if accept_repairs and repairs is not None:
        parks = parks.set_geometry(
            gpd.GeoSeries(
                np.where(repairs.notna(), repairs.values, parks.geometry.values), index=parks.index, crs=WGS84
            )
        )
        shapes = shapes.renewed(parks.geometry, np.flatnonzero(repairs.notna().to_numpy()), plan)
    if located:
        _locate(parks, plan, place, c, shapes=shapes)
        parks = fill_footprint_areas(parks, plan, place, c, valid=shapes.valid)
    _check_register(parks, plan, register, place, c, located=located, valid=shapes.valid)
    allocations = build_allocations(attrs, parks, alloc_cols, place, c, plan)
    return ImportPreview(
        file=c.file, parks=parks, problems=c.problems, warnings=c.warnings,
        repairs=repairs, crs_used=crs_used, columns=mapping,
        allocations=allocations, allocation_columns=alloc_cols,
    )  # fmt: skip


def import_delta(preview: ImportPreview, near: Register, plan: Plan) -> Delta:
    """The change an import makes (its parks and allocations added), checked like
    :func:`confirm_import`; raises :class:`ImportRefused` or ``ValidationError``.

    ``near`` holds the register's rows the import can meet: at least the parks with the incoming
    ids and the allocations with the incoming allocation ids (a whole register will do, and
    ``planner.store.service.Store.near`` reads just those rows). An incoming allocation whose id
    is taken gets ``<park id>-i1``. Only the incoming rows are validated: the register was valid.
    """
    place = f"import {preview.file}"
    if preview.problems:
        raise ImportRefused(preview.problems, what=place)
    if preview.parks.empty:
        raise ImportRefused(
            [Problem(preview.file, "", "没有可导入的园区", "no parks to import", "empty")], what=place
        )
    incoming = conform_allocations(preview.allocations.copy())
    ids = preview.parks["id"].astype(str).tolist()  # of a whole register, only the rows they name
    near = rows_near(near, np.empty((0, 4)), ids, incoming["allocation_id"].astype(str).tolist())
    parks = add_parks(
        Register(near.parks, near.allocations.iloc[:0], near.quotas), preview.parks, plan, place=place
    ).parks.iloc[len(near.parks) :]
    clash = incoming["allocation_id"].isin(near.allocations["allocation_id"])
    incoming.loc[clash, "allocation_id"] = incoming.loc[clash, "park_id"] + "-i1"
    problems = validate_allocations(incoming, parks, plan, place=place)
    if problems:
        raise ValidationError(problems, what=place)
    rows = Register(
        gpd.GeoDataFrame(parks.reset_index(drop=True), geometry="geometry", crs=WGS84),
        incoming[ALLOCATION_COLUMNS].reset_index(drop=True),
        near.quotas.iloc[:0],
    )
    changes = RegisterChanges(
        TableChanges(added=rows.parks["id"].astype(str).tolist()),
        TableChanges(added=rows.allocations["allocation_id"].astype(str).tolist()),
        TableChanges(),
    )
    return Delta(changes, rows)


def confirm_import(preview: ImportPreview, register: Register, plan: Plan) -> Register:
    """A new register with the previewed parks added; raises :class:`ImportRefused` on any problem.

    The register passed in is never modified (registers are immutable): the change is
    :func:`import_delta` (the incoming rows checked), applied to it.
    """
    return apply_delta(register, import_delta(preview, register, plan))
