"""Units of area in imported files: 万㎡, 公顷, 亩, km² and m², in cells and in headers."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from functools import partial

import numpy as np
import pandas as pd

from planner.core.geo import (
    M2_PER_HECTARE,
    M2_PER_KM2,
    M2_PER_MU,
    M2_PER_WAN,
)
from planner.core.schema import PARKS, area_columns

AREA_COLUMNS = area_columns(PARKS)


# Units of area: factor to m². Keys are NFKC-normalised, lower case, without spaces.
AREA_UNITS: dict[str, float] = {
    "m2": 1.0, "平方米": 1.0, "平米": 1.0, "sqm": 1.0,
    "公顷": M2_PER_HECTARE, "ha": M2_PER_HECTARE, "hm2": M2_PER_HECTARE,
    "亩": M2_PER_MU, "mu": M2_PER_MU,
    "万m2": M2_PER_WAN, "万平方米": M2_PER_WAN, "万平米": M2_PER_WAN, "万平": M2_PER_WAN,
    "wanm2": M2_PER_WAN, "wansqm": M2_PER_WAN,
    "km2": M2_PER_KM2, "平方公里": M2_PER_KM2, "平方千米": M2_PER_KM2,
}  # fmt: skip


_UNIT_ALT = "|".join(re.escape(u) for u in sorted(AREA_UNITS, key=len, reverse=True))


_NUMBER_WITH_UNIT = re.compile(rf"^([-+]?(?:\d+\.?\d*|\.\d+)(?:e[-+]?\d+)?)({_UNIT_ALT})?$")


_HEADER_UNIT = re.compile(rf"^(.*?)[(\[【/_]?({_UNIT_ALT})[)\]】]?$")


_YEAR = re.compile(r"((?:19|20|21)\d{2})")


def _plain_numbers(values: pd.Series) -> bool:
    """A column of finite numbers (or blanks), not booleans: parsed as it is."""
    if not pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
        return False
    numbers = values.to_numpy(dtype=float, na_value=np.nan)
    return bool(np.isfinite(numbers[~np.isnan(numbers)]).all())


def parse_area(values: pd.Series, unit: float | None = None) -> pd.Series:
    """Areas as people write them (``"15万㎡"``, ``"3 公顷"``, ``"300亩"``, ``"1,200"``) -> m² (float).

    ``unit`` is the factor the column header names (m² when None); a unit in the cell wins.
    Blank cells give NaN; text that is no number gives NaN too (see :func:`bad_numbers`).
    """
    if _plain_numbers(values):  # a numeric column (GeoPackage, GeoJSON): no text to read
        return values.astype(float) * (unit if unit is not None else 1.0)
    return per_distinct(
        values.astype(object).where(values.notna(), "").astype(str), partial(_area_texts, unit=unit)
    )


def _area_texts(texts: pd.Series, unit: float | None) -> pd.Series:
    """:func:`parse_area` of a column of texts (``unit``: the header's factor, m² when None)."""
    text = texts.map(lambda v: unicodedata.normalize("NFKC", v).lower().replace("²", "2")).str.replace(
        r"[\s,]+", "", regex=True
    )
    parts = text.str.extract(_NUMBER_WITH_UNIT)
    number = pd.to_numeric(parts[0], errors="coerce")
    factor = parts[1].map(AREA_UNITS).astype(float).fillna(unit if unit is not None else 1.0)
    return (number * factor).astype(float)


def per_distinct(texts: pd.Series, fn: Callable[[pd.Series], pd.Series]) -> pd.Series:
    """``fn`` (a cell-by-cell function of a column) applied to each distinct value of ``texts`` once
    and spread back over the rows (same index): a column of 100,000 cells holds a few distinct
    texts (blanks, years, units), and reading each with a regular expression costs Python per cell."""
    codes, uniques = pd.factorize(texts, use_na_sentinel=False)
    out = fn(pd.Series(uniques, dtype=texts.dtype)).take(codes)
    out.index = texts.index
    return out


def bad_numbers(values: pd.Series, parsed: pd.Series) -> pd.Series:
    """True where a cell holds text that did not parse as a number (blank cells are fine)."""
    if not parsed.isna().any():  # every cell read as a number: nothing to report
        return pd.Series(False, index=values.index)
    blank = values.isna() | (values.astype(object).astype(str).str.strip() == "")  # "nan" text is no number
    return ~blank & parsed.isna()
