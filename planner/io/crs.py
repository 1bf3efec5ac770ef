"""The coordinate system of an imported file: declared, chosen (``--crs``), or refused; conversion to WGS84."""

from __future__ import annotations

import functools
import re
from typing import NoReturn

import geopandas as gpd
import numpy as np
import shapely
from pyproj import CRS, Transformer
from pyproj.exceptions import CRSError, ProjError

from planner.core.geo import (
    DATUMS,
    WGS84,
    shift_to_wgs84,
)
from planner.errors import PlannerError
from planner.io.issues import _Collector, _CrsUnknown


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
        crs = CRS.from_user_input(t.upper())
    except CRSError as exc:
        raise PlannerError(
            f"unknown CRS {text!r}; use wgs84, gcj02, bd09 or EPSG:<code> / 无法识别的坐标系"
        ) from exc
    reason = _unusable(crs)
    if reason:
        raise PlannerError(f"{text}: {reason[1]}; use wgs84, gcj02, bd09 or a 2D EPSG:<code> / {reason[0]}")
    return crs


def _unusable(crs: CRS) -> tuple[str, str] | None:
    """Why a coordinate system cannot place parks on a map (Chinese, English), or None."""
    if crs.is_geocentric:
        return (
            "是地心坐标系 (三维), 不能表示地图上的位置",
            "is geocentric (3D, Earth-centred), not a map position",
        )
    try:
        _to_wgs84_transformer(crs)
    except (ProjError, CRSError):  # another planet's body, a system PROJ cannot convert
        return "不是地球上的坐标系, 或无法换算为 WGS84", "is not on Earth, or cannot be converted to WGS84"
    return None


@functools.lru_cache(maxsize=64)
def _to_wgs84_transformer(crs: CRS) -> Transformer:
    return Transformer.from_crs(crs, WGS84, always_xy=True)


def _declared_crs(
    declared: CRS | None, option: str | CRS | None, c: _Collector, *, example: str = "EPSG:4547"
) -> CRS | None:
    """The file's declared system, refused (``_CrsUnknown``) when it cannot be read or used
    (``example``: the CRS the message suggests, the plan's own metric CRS).

    A declaration that cannot be read (a garbage ``.prj``) is never taken for WGS84: it is refused,
    unless the user chose the system (``--crs``), which is then used instead (with a warning).
    """
    if c.crs_unreadable:
        unusable: tuple[str, str] | None = ("无法识别", "cannot be read")
    else:
        declared = CRS.from_user_input(declared) if declared is not None else None
        unusable = _unusable(declared) if declared is not None else None
    if unusable is None:
        return declared
    place = f"{c.file} ({c.crs_source})" if c.crs_source else c.file
    what_zh = f"{c.crs_source} 中的坐标系" if c.crs_source else "文件声明的坐标系"
    what_en = f"the coordinate system in {c.crs_source}" if c.crs_source else "the file's coordinate system"
    fix_zh = f"请修正或删除 {c.crs_source}, 并" if c.crs_source else "请"
    fix_en = f"correct or remove {c.crs_source} and " if c.crs_source else ""
    if option is not None:
        c.warn(
            "crs_ignored", place, "crs", f"{what_zh}{unusable[0]}; 按指定的坐标系处理",
            f"{what_en} {unusable[1]}; the system chosen is used instead",
        )  # fmt: skip
        return None
    _refuse(
        c, "unusable_crs",
        f"{what_zh}{unusable[0]}; {fix_zh}用 --crs 指定 (如 {example})",
        f"{what_en} {unusable[1]}; {fix_en}give --crs (e.g. {example})", place=place,
    )  # fmt: skip


def _crs_name(crs: CRS | None) -> str:
    if crs is None:
        return "undeclared"
    epsg = crs.to_epsg()
    return f"EPSG:{epsg}" if epsg else crs.name


def _refuse(c: _Collector, code: str, zh: str, en: str, *, place: str | None = None) -> NoReturn:
    """One error about the coordinate system (field ``crs``, the file or ``place``); the geometry
    cannot be brought to WGS84, so the import stops there."""
    c.error(code, place or c.file, "crs", zh, en)
    raise _CrsUnknown


def _looks_projected(geoms: np.ndarray) -> bool:
    b = shapely.total_bounds(geoms)
    # Beyond any longitude/latitude; a latitude of 90-180 is more likely a swapped pair, checked later.
    return bool(np.isfinite(b).all() and np.abs(b).max() > 180)


def _to_wgs84(
    gdf: gpd.GeoDataFrame,
    declared: CRS | None,
    option: str | CRS | None,
    c: _Collector,
    *,
    example: str = "EPSG:4547",
) -> tuple[gpd.GeoDataFrame, str]:
    """Bring the frame's geometry to WGS84, honouring the file's declaration and the user's option
    (``example``: the CRS a message suggests, the plan's own metric CRS)."""
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
        reason = _unusable(crs)
        if reason:
            _refuse(
                c, "unusable_crs", f"坐标系 {_crs_name(crs)} {reason[0]}; 请另选坐标系",
                f"the coordinate system {_crs_name(crs)} {reason[1]}; choose another",
            )  # fmt: skip
        return frame.set_crs(crs, allow_override=True).to_crs(WGS84)

    if declared is not None and not declared.is_geographic:
        if user_crs is not None and not user_crs.equals(declared):
            _refuse(
                c, "crs_conflict",
                f"文件声明坐标系 {_crs_name(declared)}, 但指定为 {_crs_name(user_crs)}",
                f"the file declares {_crs_name(declared)} but {_crs_name(user_crs)} was given",
            )  # fmt: skip
        if datum in ("gcj02", "bd09"):
            _refuse(
                c, "crs_conflict",
                f"文件声明投影坐标系 {_crs_name(declared)}, 不能按 {datum} 经纬度处理",
                f"the file declares the projected {_crs_name(declared)}; it cannot be {datum} lon/lat",
            )  # fmt: skip
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
        _refuse(
            c, "undeclared_projected",
            f"坐标看起来是投影坐标 ({sample}, 不是经纬度), 但文件没有声明坐标系; "
            f"请附上 .prj 或用 --crs 指定 (如 {example})",
            f"coordinates look projected ({sample}, not longitude/latitude) but the file declares no "
            f"coordinate system; add a .prj or give --crs (e.g. {example})",
        )  # fmt: skip
    if user_crs is not None and not user_crs.is_geographic:
        _refuse(
            c, "crs_conflict",
            f"指定了投影坐标系 {_crs_name(user_crs)}, 但坐标是经纬度 ({sample})",
            f"{_crs_name(user_crs)} was given but the coordinates are longitude/latitude ({sample})",
        )  # fmt: skip
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
