"""What a single value may be, checked once at the boundary: numbers, booleans, text.

- Numbers are finite and plausible: no ``inf``/``nan`` from ``1e400`` or ``inf`` in a file, and no
  area larger than the city (the sum of the plan's district areas, measured in its metric CRS).
- Booleans are parsed strictly: true/false, 1/0, yes/no, 是/否 (any case); ``"false"`` is False and
  anything else is a problem, never silently True.
- Text holds no control characters (NUL and the like; tab and newline are fine except in ids and
  codes) and no lone surrogates: both break the stores (PostgreSQL refuses NUL) and
  the files written from them.

The register's validation, the import and the store's save call these, so the rule lives here once.

    >>> parse_bools(pd.Series(["true", "否", "False", "", "maybe"]))[0].tolist()
    [True, False, False, False, False]
    >>> parse_bools(pd.Series(["true", "否", "False", "", "maybe"]))[1].tolist()
    [False, False, False, False, True]
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd

from planner.core.geo import M2_PER_KM2, M2_PER_WAN
from planner.core.plan import Plan
from planner.errors import Problem

# Not a plan figure but a sanity bound: the densest towers in the world stay well below 50.
MAX_PLAUSIBLE_PLOT_RATIO = 100.0

# Identifiers are one line; every other text (names, notes, comments) may hold tab, newline and CR.
ONE_LINE_FIELDS = frozenset(
    {"id", "allocation_id", "park_id", "district_code", "author", "scenario", "name", "display_name", "email"}
)

_CONTROL_MULTILINE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
_CONTROL_ONE_LINE = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
# The same for Arrow-backed text (valid UTF-8: no surrogates; its regex engine is much faster).
_CONTROL_MULTILINE_UTF8 = r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]"
_CONTROL_ONE_LINE_UTF8 = r"[\x00-\x1f\x7f-\x9f]"

TRUE_WORDS = ("true", "1", "yes", "是")
FALSE_WORDS = ("false", "0", "no", "否")


def _row(place: str, i: int | np.integer, key: object) -> str:
    return f"{place} row {i + 1} ({key})"


# ---- numbers --------------------------------------------------------------------------------------
def city_area_m2(plan: Plan) -> float:
    """The city's land area in m²: the plan's district polygons (measured in its metric CRS) plus
    the functional areas outside them (their official area; 深汕). The bound of every plausible
    area in the register."""
    polygons = plan.district_polygons
    areas = [float(a) for a in polygons["computed_land_km2"] if pd.notna(a)]
    inside = set(polygons["code"])
    areas += [
        float(a.official_land_km2)
        for a in plan.functional_areas
        if a.official_land_km2 and a.parent not in inside
    ]
    return float(sum(areas)) * M2_PER_KM2


def number_limits(plan: Plan) -> dict[str, float]:
    """The largest plausible value of each number column of the register."""
    city = city_area_m2(plan)
    return {
        "land_area_m2": city,
        "gfa_m2": city,
        "new_gfa_m2": city,
        "area_m2": city,
        "quota_m2": city,
        "plot_ratio": MAX_PLAUSIBLE_PLOT_RATIO,
    }


def implausible(values: pd.Series, limit: float) -> pd.Series:
    """True where a number is infinite or its size beyond ``limit`` (a blank/NaN cell is not)."""
    x = pd.to_numeric(values, errors="coerce").astype(float)
    return pd.Series(np.isinf(x.to_numpy()) | (x.abs() > limit).to_numpy(), index=values.index)


def implausible_message(value: object, limit: float, field: str) -> tuple[str, str]:
    """Chinese and English: why ``value`` is refused, with the bound in the field's unit."""
    if field == "plot_ratio":
        bound_zh = bound_en = f"{limit:g}"
    else:
        bound_zh = f"{limit / M2_PER_WAN:,.0f}万㎡ (全市面积)"
        bound_en = f"{limit / M2_PER_WAN:,.0f}万㎡, the whole city's area"
    return (
        f"数值须为有限数且不超过 {bound_zh}: {value}",
        f"must be a finite number no larger than {bound_en}: {value}",
    )


def number_problems(
    frame: pd.DataFrame, plan: Plan, columns: Iterable[str], *, place: str, key: str
) -> list[Problem]:
    """Infinite or implausibly large numbers in ``columns`` of ``frame``, each with row and field."""
    limits = number_limits(plan)
    out: list[Problem] = []
    for col in columns:
        if col not in frame:
            continue
        x = pd.to_numeric(frame[col], errors="coerce").astype(float)
        bad = implausible(frame[col], limits[col]) & np.isfinite(x)  # not finite: rules.py says so
        for i in np.flatnonzero(bad.to_numpy()):
            zh, en = implausible_message(frame[col].iloc[i], limits[col], col)
            out.append(Problem(_row(place, i, frame[key].iloc[i]), col, zh, en, "implausible_number"))
    return out


# ---- booleans -------------------------------------------------------------------------------------
def parse_bools(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """(the booleans, True where a value is no boolean). Blank cells are False and not bad;
    real booleans and the numbers 1/0 are taken as they are (vectorised)."""
    if values.dtype == bool:
        return values.copy(), pd.Series(False, index=values.index)
    obj = values.astype(object)
    text = obj.where(obj.notna(), "").astype(str).str.strip().str.lower()
    text = text.replace({"1.0": "1", "0.0": "0"})  # a number column read as float
    true = text.isin(TRUE_WORDS)
    bad = ~true & ~text.isin(FALSE_WORDS) & (text != "")
    return true.astype(bool), bad.astype(bool)


def bool_message(value: object) -> tuple[str, str]:
    """Chinese and English: why ``value`` is no boolean, and what to write instead."""
    return (
        f"不是是/否值: {value!r}; 请填 是/否、true/false、yes/no 或 1/0",
        f"not a yes/no value: {value!r}; write true/false, yes/no, 1/0 or 是/否",
    )


def bool_problems(frame: pd.DataFrame, column: str, *, place: str, key: str) -> list[Problem]:
    """Values of ``column`` that are no boolean, each with row and field."""
    if column not in frame:
        return []
    _, bad = parse_bools(frame[column])
    keys = frame[key] if key in frame else pd.Series(range(1, len(frame) + 1), index=frame.index)
    return [
        Problem(_row(place, i, keys.iloc[i]), column, *bool_message(frame[column].iloc[i]), "bad_value")
        for i in np.flatnonzero(bad.to_numpy())
    ]


# ---- text -----------------------------------------------------------------------------------------
def bad_text(values: pd.Series, *, multiline: bool = False) -> pd.Series:
    """True where a text holds a control character (tab/newline allowed when ``multiline``) or a
    lone surrogate (only a Python-object column can hold one: Arrow text is valid UTF-8)."""
    if values.dtype == object:
        pattern = _CONTROL_MULTILINE if multiline else _CONTROL_ONE_LINE
        text = pd.Series(values.to_numpy(dtype=object), index=values.index, dtype=object)
        return text.str.contains(pattern, regex=True).fillna(False).astype(bool)  # non-text: False
    utf8_pattern = _CONTROL_MULTILINE_UTF8 if multiline else _CONTROL_ONE_LINE_UTF8
    return values.astype(str).str.contains(utf8_pattern, regex=True).fillna(False).astype(bool)


def text_message(value: object) -> tuple[str, str]:
    """Chinese and English: the control character found, shown escaped."""
    shown = shown_text(str(value))[:80]
    return (
        f"含有控制字符 (如 NUL), 请删除: {shown}",
        f"holds a control character (such as NUL); remove it: {shown}",
    )


def text_problems(frame: pd.DataFrame, columns: Iterable[str], *, place: str, key: str) -> list[Problem]:
    """Text cells of ``columns`` holding control characters, each with row and field."""
    out: list[Problem] = []
    keys: pd.Series | None = None
    for col in columns:
        if col not in frame:
            continue
        bad = bad_text(frame[col], multiline=col not in ONE_LINE_FIELDS)
        rows = np.flatnonzero(bad.to_numpy())
        if not len(rows):
            continue
        if keys is None:
            keys = shown_texts(frame[key]) if key in frame else pd.Series(range(1, len(frame) + 1))
        for i in rows:
            out.append(
                Problem(
                    _row(place, i, keys.iloc[i]), col, *text_message(frame[col].iloc[i]), "control_character"
                )
            )
    return out


def field_problems(fields: Mapping[str, str | None], *, place: str) -> list[Problem]:
    """Single text fields (a comment, a scenario name, a user name) holding control characters."""
    out = []
    for name, value in fields.items():
        pattern = _CONTROL_ONE_LINE if name in ONE_LINE_FIELDS else _CONTROL_MULTILINE
        if value is not None and pattern.search(str(value)):
            out.append(Problem(place, name, *text_message(value), "control_character"))
    return out


def shown_text(text: str) -> str:
    """``text`` with control characters and lone surrogates escaped (``\\x00``), safe to store
    in a log and to print."""

    def escape(m: re.Match) -> str:
        code = ord(m.group())
        return f"\\x{code:02x}" if code < 256 else f"\\u{code:04x}"

    return _CONTROL_MULTILINE.sub(escape, text)


def shown_texts(values: pd.Series) -> pd.Series:
    """:func:`shown_text` of each value."""
    return values.astype(object).where(values.notna(), "").astype(str).map(shown_text)


# A JSON escape of a control character (not tab/newline/CR) or of a surrogate: a rare first pass.
_ESCAPED_CONTROL = re.compile(
    r"\\u(?:000[0-8bBcCeEfF]|001[0-9a-fA-F]|007[fF]|00[89][0-9a-fA-F]|[dD][89a-fA-F]\w\w)"
)


def geojson_text_problems(text: str, *, place: str, doc: object = None) -> list[Problem]:
    """Feature properties of a GeoJSON text holding an escaped control character (``\\u0000``),
    each with its feature and property. GDAL would cut such a text short without a word, so it is
    looked for in the JSON itself (parsed only when the text holds such an escape; ``doc`` when
    already parsed)."""
    if not _ESCAPED_CONTROL.search(text):
        return []
    if doc is None:
        try:
            doc = json.loads(text)
        except (ValueError, RecursionError):
            return []  # not JSON: the reader says so
    feats = doc.get("features") if isinstance(doc, dict) and doc.get("type") == "FeatureCollection" else [doc]
    out: list[Problem] = []
    for i, feat in enumerate(feats if isinstance(feats, list) else []):
        props = feat.get("properties") if isinstance(feat, dict) else None
        if isinstance(props, dict):
            texts = {str(k): v for k, v in props.items() if isinstance(v, str)}
            out += field_problems(texts, place=f"{place} feature {i + 1}")
    return out
