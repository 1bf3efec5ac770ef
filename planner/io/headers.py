"""Which register column a file's header means (Chinese and English aliases, unit suffixes), and label lookups."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from typing import Any

import pandas as pd

from planner.core.schema import LOCATION_ALIASES, PARKS
from planner.io.issues import _Collector
from planner.io.units import _HEADER_UNIT, AREA_COLUMNS, AREA_UNITS

# KML/LIBKML adds these columns to every layer; they are not the park's data.
_KML_COLUMNS_RAW = {
    "description", "timestamp", "begin", "end", "altitudemode", "tessellate", "extrude",
    "visibility", "draworder", "icon", "snippet",
}  # fmt: skip


# Columns planner.io.export adds to an export (derived from the others): read back without comment.
_DERIVED_COLUMNS_RAW = {"geo_district_code", "status_zh", "lon", "lat", "wkt"}


def _norm(text: object) -> str:
    """Normalise a header for matching: NFKC (full-width -> ASCII, ㎡ -> m2), lower case, no spaces,
    hyphens or underscores.

    >>> _norm("New_Floor-Area （㎡）")
    'newfloorarea(m2)'
    """
    s = unicodedata.normalize("NFKC", str(text)).strip().lower()
    return re.sub(r"[\s\-_]+", "", s).replace("²", "2")


_KML_COLUMNS = {_norm(c) for c in _KML_COLUMNS_RAW}
_DERIVED_COLUMNS = {_norm(c) for c in _DERIVED_COLUMNS_RAW}


def _alias_table() -> dict[str, tuple[str, int]]:
    """normalised header -> (column, rank); rank 0 = the column's own key, 1 = Chinese, 2 = English.

    Built from the schema: each park column's name, its labels (with and without unit) and aliases,
    and the location columns' aliases."""
    table: dict[str, tuple[str, int]] = {}

    def put(alias: str, col: str, rank: int) -> None:
        key = _norm(alias)
        if key not in table or rank < table[key][1]:
            table[key] = (col, rank)

    aliases = {**{c.name: c.aliases for c in PARKS.columns}, **LOCATION_ALIASES}
    for c in PARKS.columns:
        put(c.name, c.name, 0)
        for zh, en in ((c.zh, c.en), (c.label("zh"), c.label("en"))):
            put(zh, c.name, 1)
            put(en, c.name, 2)
    for col, names in aliases.items():
        for a in names:
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
    if isinstance(series.dtype, pd.StringDtype):  # text already (Arrow): no round trip through objects
        return series.fillna("").str.strip().replace("nan", "").astype(str)
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
    mapped = values.map({v: m for v, (m, _) in uniq.items()})
    unknown = values.map({v: u for v, (_, u) in uniq.items()}).astype(bool)
    return mapped, unknown
