"""The park register: parks, their allocations to the cluster, and district quotas.

A park is a polygon when its footprint is known and a point otherwise (or has no location yet).
An allocation is new floor area a park dedicates to the software & information-services cluster,
by specialisation and delivery year; the 300万㎡ target counts allocations, not whole parks.

Every change goes through a validating function that returns a *new* register, so a refused
change leaves the stored data exactly as it was.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio.errors
import shapely

from planner.core.geo import WGS84
from planner.core.plan import Plan
from planner.core.successor import register_years
from planner.core.values import (
    bool_problems,
    geojson_text_problems,
    number_problems,
    parse_bools,
    text_problems,
)
from planner.errors import InputError, Problem, ValidationError
from planner.i18n import ALLOCATION_LABELS, PARK_LABELS, STATUS_LABELS  # noqa: F401 (labels live in i18n)

PARKS_FILE = "parks.geojson"
ALLOCATIONS_FILE = "allocations.csv"
QUOTAS_FILE = "quotas.csv"

STATUSES = ("planned", "under_construction", "delivered", "unknown")
SECURED_STATUSES = ("delivered", "under_construction")
BASES = ("baseline", "planner", "import", "proposal")

TEXT_COLUMNS = [
    "id", "name_zh", "name_en", "district", "district_code", "functional_area", "park_type",
    "namepark_level", "namepark_note", "land_use_class", "status", "status_src", "year_src",
    "fields", "spec_tag", "source", "figures_conf", "coord_conf",
]  # fmt: skip
NUMBER_COLUMNS = ["land_area_m2", "plot_ratio", "gfa_m2", "new_gfa_m2"]
PARK_COLUMNS = [*TEXT_COLUMNS[:10], *NUMBER_COLUMNS, "delivery_year", *TEXT_COLUMNS[10:], "figures_verified"]
ALLOCATION_COLUMNS = [
    "allocation_id",
    "park_id",
    "specialisation",
    "area_m2",
    "delivery_year",
    "status",
    "basis",
    "note",
]
ALLOCATION_TEXT_COLUMNS = ["allocation_id", "park_id", "specialisation", "status", "basis", "note"]
QUOTA_COLUMNS = ["district_code", "quota_m2"]


YEAR_MIN, YEAR_MAX = 1979, 2100

_UNDER_CONSTRUCTION = re.compile(
    r"under construction|construction|topping|\bdue\b|在建|建设中|施工|封顶", re.I
)
_DELIVERED = re.compile(r"operating|opened|delivered|complete|已交付|已建成|建成|运营|投用|开园", re.I)
_PLANNED = re.compile(r"plan|renewal|land assembly|developing|design|规划|拟建|筹建|计划|更新", re.I)
_DELIVERY_YEAR = re.compile(
    r"(?:due|opened|topping-out|delivered|complete[sd]?|交付|建成|开园)\D{0,6}((?:19|20)\d{2})", re.I
)
_ANY_YEAR = re.compile(r"(?:19|20)\d{2}")


def normalise_status(text: object) -> str:
    """Map a source's free-text status to planned / under_construction / delivered / unknown.

    >>> normalise_status("phase1 due end-2024; phase2 Nov-2026")
    'under_construction'
    >>> normalise_status("operating/expanding")
    'delivered'
    >>> normalise_status("规划")
    'planned'
    """
    s = "" if text is None or (isinstance(text, float) and np.isnan(text)) else str(text).strip()
    if s in STATUSES:
        return s
    if _UNDER_CONSTRUCTION.search(s):
        return "under_construction"
    if _DELIVERED.search(s):
        return "delivered"
    if _PLANNED.search(s):
        return "planned"
    return "unknown"


def normalise_year(status_text: object, year_text: object, status: str) -> int | None:
    """Delivery year from the source's texts, by the documented rule.

    1. A year the status text gives for delivery ("due end-2024", "opened 2025-12-22",
       "topping-out 2023") wins.
    2. Otherwise the year column, when the park is delivered (the year it opened) or under
       construction (the year the source gives for it).
    3. A planned park's year column is a planning date, not a delivery date: no year.

    >>> normalise_year("phase1 due end-2024; phase2 Nov-2026", "2024", "under_construction")
    2024
    >>> normalise_year("planning/renewal (2022-)", "2022", "planned") is None
    True
    """
    st = "" if status_text is None else str(status_text)
    m = _DELIVERY_YEAR.search(st)
    if m:
        return int(m.group(1))
    if status in ("delivered", "under_construction"):
        ys = _ANY_YEAR.findall("" if year_text is None else str(year_text))
        if ys:
            return int(ys[0])
    return None


@dataclass(frozen=True)
class Register:
    """Parks (GeoDataFrame, WGS84), allocations and quotas. Treat as immutable: edits return a new one."""

    parks: gpd.GeoDataFrame
    allocations: pd.DataFrame
    quotas: pd.DataFrame

    def copy(self) -> Register:
        """A deep copy."""
        return Register(self.parks.copy(), self.allocations.copy(), self.quotas.copy())

    def quota(self, district_code: str) -> float | None:
        """The district's quota in m², or None when the city planner set none."""
        hit = self.quotas.loc[self.quotas["district_code"] == district_code, "quota_m2"]
        return float(hit.iloc[0]) if len(hit) else None


def empty_parks() -> gpd.GeoDataFrame:
    """A parks frame with the register's columns and no rows."""
    return conform_parks(gpd.GeoDataFrame({c: [] for c in PARK_COLUMNS}, geometry=[], crs=WGS84))


def conform_parks(parks: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Give a parks frame the register's columns and dtypes (missing columns filled empty)."""
    out = parks.copy()
    for col in TEXT_COLUMNS:
        if col not in out:
            out[col] = ""
        out[col] = out[col].astype(object).where(out[col].notna(), "").astype(str)
    for col in NUMBER_COLUMNS:
        if col not in out:
            out[col] = np.nan
        out[col] = pd.to_numeric(out[col], errors="coerce").astype(float)
    if "delivery_year" not in out:
        out["delivery_year"] = pd.NA
    out["delivery_year"] = pd.to_numeric(out["delivery_year"], errors="coerce").astype("Int64")
    if "figures_verified" not in out:
        out["figures_verified"] = out["figures_conf"].str.lower().str.startswith("verified")
    out["figures_verified"] = parse_bools(out["figures_verified"])[0]  # "false" is False (values.py)
    out.loc[out["namepark_level"] == "", "namepark_level"] = "unknown"
    out.loc[out["status"] == "", "status"] = "unknown"
    if out.crs is None:
        out = out.set_crs(WGS84)
    return gpd.GeoDataFrame(
        out[[*PARK_COLUMNS, "geometry"]].reset_index(drop=True), geometry="geometry", crs=out.crs
    )


def conform_allocations(allocations: pd.DataFrame) -> pd.DataFrame:
    """Give an allocations frame the register's columns and dtypes."""
    out = allocations.copy()
    for col in ALLOCATION_COLUMNS:
        if col not in out:
            out[col] = np.nan if col == "area_m2" else ""
    for col in ALLOCATION_TEXT_COLUMNS:
        out[col] = out[col].astype(object).where(out[col].notna(), "").astype(str)
    out["area_m2"] = pd.to_numeric(out["area_m2"], errors="coerce").astype(float)
    out["delivery_year"] = pd.to_numeric(out["delivery_year"], errors="coerce").astype("Int64")
    return out[ALLOCATION_COLUMNS].reset_index(drop=True)


def conform_quotas(quotas: pd.DataFrame) -> pd.DataFrame:
    """Give a quotas frame its columns and dtypes."""
    out = quotas.copy()
    for col in QUOTA_COLUMNS:
        if col not in out:
            out[col] = []
    out["district_code"] = out["district_code"].astype(str)
    out["quota_m2"] = pd.to_numeric(out["quota_m2"], errors="coerce").astype(float)
    return out[QUOTA_COLUMNS].reset_index(drop=True)


def _read(path: Path, reader, problems: list[Problem], empty):
    """Read one register file; a missing file is an empty table, an unreadable one a problem."""
    if not path.exists():
        return empty()
    try:
        return reader(path)
    except (OSError, ValueError, pyogrio.errors.DataSourceError, pd.errors.ParserError) as exc:
        problems.append(Problem(str(path), "", f"无法读取: {exc}", f"cannot read: {exc}"))
        return empty()


def not_numeric(raw: pd.DataFrame, columns: list[str], place: str, key: str) -> list[Problem]:
    """Cells of ``columns`` that hold text which is not a number (instead of silently becoming empty)."""
    out: list[Problem] = []
    for col in columns:
        if col not in raw:
            continue
        text = raw[col].astype(object)
        filled = text.notna() & (text.astype(str).str.strip() != "")
        bad = filled & pd.to_numeric(text, errors="coerce").isna()
        keys = raw[key] if key in raw else pd.Series(range(1, len(raw) + 1), index=raw.index)
        for i in np.flatnonzero(bad.to_numpy()):
            v = text.iloc[i]
            out.append(
                Problem(
                    f"{place} row {i + 1} ({keys.iloc[i]})", col, f"不是数字: {v!r}", f"not a number: {v!r}"
                )
            )
    return out


REGISTER_FILES = (PARKS_FILE, ALLOCATIONS_FILE, QUOTAS_FILE)


def load_register(plan: Plan, folder: str | Path | None = None, *, require_files: bool = False) -> Register:
    """Load the seed register of a plan folder (or ``folder``) and validate it.

    A missing file is an empty table (a plan folder may ship without quotas), unless
    ``require_files``: then a missing folder or any missing register file raises
    :class:`InputError` naming it (``scenario save --from-files`` must never save an empty
    register by mistake). Raises :class:`ValidationError` naming every problem (unreadable file,
    text in a number column, a bad value) with its file, row and field.
    """
    base = Path(folder) if folder is not None else plan.folder
    if require_files:
        if not base.is_dir():
            raise InputError(f"找不到文件夹 {base} / no such folder: {base}")
        missing = [name for name in REGISTER_FILES if not (base / name).is_file()]
        if missing:
            raise InputError(
                f"{base} 缺少登记册文件 {', '.join(missing)}; 需要 {', '.join(REGISTER_FILES)} (可用 scenario "
                f"export 导出) / {base} lacks register file(s) {', '.join(missing)}: a register folder holds "
                f"{', '.join(REGISTER_FILES)} (write one with `scenario export`); nothing was saved"
            )
    problems: list[Problem] = []
    with warnings.catch_warnings():  # a column of mixed values stays text: checked strictly below
        warnings.filterwarnings("ignore", message="Could not parse column .* as JSON", category=UserWarning)
        parks = _read(base / PARKS_FILE, gpd.read_file, problems, empty_parks)
    allocations = _read(
        base / ALLOCATIONS_FILE,
        lambda p: pd.read_csv(p, dtype=str, keep_default_na=False, na_values=[""]),
        problems,
        lambda: pd.DataFrame(columns=ALLOCATION_COLUMNS),
    )
    quotas = _read(
        base / QUOTAS_FILE,
        lambda p: pd.read_csv(p, dtype=str, keep_default_na=False, na_values=[""]),
        problems,
        lambda: pd.DataFrame(columns=QUOTA_COLUMNS),
    )
    problems += not_numeric(parks, [*NUMBER_COLUMNS, "delivery_year"], f"{base}/{PARKS_FILE}", "id")
    problems += not_numeric(
        allocations, ["area_m2", "delivery_year"], f"{base}/{ALLOCATIONS_FILE}", "allocation_id"
    )
    problems += not_numeric(quotas, ["quota_m2"], f"{base}/{QUOTAS_FILE}", "district_code")
    problems += bool_problems(parks, "figures_verified", place=f"{base}/{PARKS_FILE}", key="id")
    if (base / PARKS_FILE).is_file():  # a NUL in a property, which GDAL cuts short without a word
        raw = (base / PARKS_FILE).read_text(encoding="utf-8-sig", errors="replace")
        problems += geojson_text_problems(raw, place=f"{base}/{PARKS_FILE}")
    register = Register(conform_parks(parks), conform_allocations(allocations), conform_quotas(quotas))
    problems += validate_register(register, plan, place=str(base))
    if problems:
        raise ValidationError(problems, what=f"register {base}")
    return register


def _bad_rows(
    mask: pd.Series | np.ndarray, frame: pd.DataFrame, place: str, key: str, field: str, zh: str, en: str
) -> list[Problem]:
    idx = np.flatnonzero(np.asarray(mask))
    return [
        Problem(
            f"{place} row {i + 1} ({frame[key].iloc[i]})",
            field,
            zh.format(v=frame[field].iloc[i]),
            en.format(v=frame[field].iloc[i]),
        )
        for i in idx
    ]


def validate_parks(parks: gpd.GeoDataFrame, plan: Plan, *, place: str = "parks") -> list[Problem]:
    """Every problem with a parks frame (already conformed), each with its row, id and field."""
    p: list[Problem] = []
    p += _bad_rows(parks["id"].str.strip() == "", parks, place, "name_zh", "id", "缺少编号", "id is missing")
    p += _bad_rows(
        parks["name_zh"].str.strip() == "", parks, place, "id", "name_zh", "缺少名称", "name is missing"
    )
    dup = parks["id"].duplicated(keep="first") & (parks["id"] != "")
    p += _bad_rows(dup, parks, place, "id", "id", "编号重复: {v}", "duplicate id: {v}")
    for col in NUMBER_COLUMNS:
        p += _bad_rows(
            parks[col] < 0, parks, place, "id", col, "面积/数值不能为负: {v}", "must not be negative: {v}"
        )
    p += _bad_rows(
        parks["plot_ratio"] == 0, parks, place, "id", "plot_ratio", "容积率不能为 0", "plot ratio must be > 0"
    )
    p += number_problems(parks, plan, NUMBER_COLUMNS, place=place, key="id")
    p += text_problems(parks, TEXT_COLUMNS, place=place, key="id")
    p += _bad_rows(
        ~parks["status"].isin(STATUSES),
        parks,
        place,
        "id",
        "status",
        "未知状态: {v}",
        f"unknown status {{v}}; use one of {STATUSES}",
    )
    years = parks["delivery_year"]
    bad_year = years.notna() & ((years < YEAR_MIN) | (years > YEAR_MAX))
    p += _bad_rows(
        bad_year.fillna(False),
        parks,
        place,
        "id",
        "delivery_year",
        "年份超出范围: {v}",
        "year out of range: {v}",
    )
    levels = {lv.key for lv in plan.namepark_levels} | {"unknown"}
    p += _bad_rows(
        ~parks["namepark_level"].isin(levels),
        parks,
        place,
        "id",
        "namepark_level",
        "未知名园级别: {v}",
        f"unknown name-park level {{v}}; use one of {sorted(levels)}",
    )
    types = {t.key for t in plan.park_types} | {""}
    p += _bad_rows(
        ~parks["park_type"].isin(types),
        parks,
        place,
        "id",
        "park_type",
        "未知园区类型: {v}",
        f"unknown park type {{v}}; use one of {sorted(types - {''})}",
    )
    classes = {"", *plan.land_use_keys()}
    p += _bad_rows(
        ~parks["land_use_class"].isin(classes),
        parks,
        place,
        "id",
        "land_use_class",
        f"用地类别须为 {'/'.join(plan.land_use_keys()) or '空 (本规划未设用地类别)'}: {{v}}",
        f"land-use class must be one of {list(plan.land_use_keys())}: {{v}}",
    )
    field_keys = {f.key for f in plan.fields}
    bad_fields = parks["fields"].map(lambda s: any(k and k not in field_keys for k in s.split(";")))
    p += _bad_rows(
        bad_fields,
        parks,
        place,
        "id",
        "fields",
        "未知重点领域: {v}",
        f"unknown field in {{v}}; use keys of {sorted(field_keys)}",
    )
    codes = set(plan.district_codes()) | {""}
    p += _bad_rows(
        ~parks["district_code"].isin(codes),
        parks,
        place,
        "id",
        "district_code",
        "未知区代码: {v}",
        "unknown district code: {v}",
    )
    geoms = parks.geometry.values
    present = ~shapely.is_missing(geoms) & ~shapely.is_empty(geoms)
    kinds = shapely.get_type_id(geoms)
    allowed = np.isin(kinds, [0, 3, 6])  # Point, Polygon, MultiPolygon
    p += _bad_rows(
        present & ~allowed,
        parks.assign(_t=parks.geom_type),
        place,
        "id",
        "_t",
        "几何类型须为点或面: {v}",
        "geometry must be a point or polygon, got {v}",
    )
    invalid = present & allowed & ~shapely.is_valid(geoms)
    reasons = parks.assign(
        _r=[shapely.is_valid_reason(g) if bad else "" for g, bad in zip(geoms, invalid, strict=True)]
    )
    p += _bad_rows(invalid, reasons, place, "id", "_r", "几何无效: {v}", "invalid geometry: {v}")
    outside = present & ~plan.in_extent(parks.geometry)
    if parks.crs is not None and not parks.crs.equals(WGS84):
        p.append(
            Problem(
                place,
                "geometry",
                f"坐标系须为 WGS84, 实为 {parks.crs}",
                f"CRS must be WGS84, got {parks.crs}",
            )
        )
    p += _bad_rows(
        outside & ~parks["district"].str.contains("outside", case=False),
        parks.assign(_b=parks.geometry.bounds.round(4).values.tolist()),
        place,
        "id",
        "_b",
        f"坐标在{plan.city_zh}范围以外: {{v}}",
        f"coordinates outside {plan.city_en}: {{v}}",
    )
    return p


def validate_allocations(
    allocations: pd.DataFrame, parks: pd.DataFrame, plan: Plan, *, place: str = "allocations"
) -> list[Problem]:
    """Every problem with an allocations frame (conformed) against the parks and the plan."""
    a = allocations
    p: list[Problem] = []
    p += _bad_rows(
        a["allocation_id"].str.strip() == "",
        a,
        place,
        "park_id",
        "allocation_id",
        "缺少分配编号",
        "allocation id is missing",
    )
    dup = a["allocation_id"].duplicated(keep="first") & (a["allocation_id"] != "")
    p += _bad_rows(
        dup, a, place, "allocation_id", "allocation_id", "分配编号重复: {v}", "duplicate allocation id: {v}"
    )
    p += _bad_rows(
        ~a["park_id"].isin(parks["id"]),
        a,
        place,
        "allocation_id",
        "park_id",
        "园区不存在: {v}",
        "no park with id {v}",
    )
    p += _bad_rows(
        a["area_m2"].isna(),
        a,
        place,
        "allocation_id",
        "area_m2",
        "面积缺失或不是数字",
        "area is missing or not a number",
    )
    p += _bad_rows(
        a["area_m2"] <= 0,
        a,
        place,
        "allocation_id",
        "area_m2",
        "面积必须为正数: {v}",
        "area must be positive: {v}",
    )
    p += number_problems(a, plan, ["area_m2"], place=place, key="allocation_id")
    p += text_problems(a, ALLOCATION_TEXT_COLUMNS, place=place, key="allocation_id")
    years = a["delivery_year"]
    allowed = register_years(plan)  # the plan's period, and its predecessor's / successor's
    span = (
        f"{allowed[0]}-{allowed[-1]}" if allowed == list(range(allowed[0], allowed[-1] + 1)) else str(allowed)
    )
    bad_year = years.notna() & ~years.isin(allowed)
    p += _bad_rows(
        bad_year.fillna(False), a, place, "allocation_id", "delivery_year",
        f"交付年份须在规划期 {span} 内: {{v}}",
        f"delivery year must be within the plan, {span}: {{v}}",
    )  # fmt: skip
    specs = {s.key for s in plan.specialisations} | {""}
    p += _bad_rows(
        ~a["specialisation"].isin(specs),
        a,
        place,
        "allocation_id",
        "specialisation",
        "未知专业方向: {v}",
        f"unknown specialisation {{v}}; use one of {sorted(specs - {''})}",
    )
    p += _bad_rows(
        ~a["status"].isin(STATUSES),
        a,
        place,
        "allocation_id",
        "status",
        "未知状态: {v}",
        f"unknown status {{v}}; use one of {STATUSES}",
    )
    p += _bad_rows(
        ~a["basis"].isin(BASES),
        a,
        place,
        "allocation_id",
        "basis",
        "未知依据: {v}",
        f"unknown basis {{v}}; use one of {BASES}",
    )
    return p


def validate_quotas(quotas: pd.DataFrame, plan: Plan, *, place: str = "quotas") -> list[Problem]:
    """Problems with a quotas frame: known districts, positive figures, one quota a district."""
    q = quotas
    p: list[Problem] = []
    p += _bad_rows(
        ~q["district_code"].isin(plan.district_codes()),
        q,
        place,
        "district_code",
        "district_code",
        "未知区代码: {v}",
        "unknown district code: {v}",
    )
    p += _bad_rows(
        q["quota_m2"].isna() | (q["quota_m2"] < 0),
        q,
        place,
        "district_code",
        "quota_m2",
        "指标须为非负数: {v}",
        "quota must be a non-negative number: {v}",
    )
    p += number_problems(q, plan, ["quota_m2"], place=place, key="district_code")
    p += text_problems(q, ["district_code"], place=place, key="district_code")
    p += _bad_rows(
        q["district_code"].duplicated(),
        q,
        place,
        "district_code",
        "district_code",
        "同一区重复设置指标",
        "more than one quota for this district",
    )
    return p


def validate_register(register: Register, plan: Plan, *, place: str = "register") -> list[Problem]:
    """All problems of a register's three tables."""
    return (
        validate_parks(register.parks, plan, place=f"{place}/{PARKS_FILE}")
        + validate_allocations(
            register.allocations, register.parks, plan, place=f"{place}/{ALLOCATIONS_FILE}"
        )
        + validate_quotas(register.quotas, plan, place=f"{place}/{QUOTAS_FILE}")
    )


def add_parks(
    register: Register, new_parks: gpd.GeoDataFrame, plan: Plan, *, place: str = "new parks"
) -> Register:
    """A new register with ``new_parks`` appended; raises ValidationError (register untouched) on any problem."""
    incoming = conform_parks(new_parks.to_crs(WGS84) if new_parks.crs is not None else new_parks)
    problems = validate_parks(incoming, plan, place=place)
    clash = incoming["id"].isin(register.parks["id"])
    problems += _bad_rows(
        clash, incoming, place, "id", "id", "编号已在登记册中: {v}", "id already in the register: {v}"
    )
    if problems:
        raise ValidationError(problems, what=place)
    parks = pd.concat([register.parks, incoming], ignore_index=True)
    return Register(
        gpd.GeoDataFrame(parks, geometry="geometry", crs=WGS84),
        register.allocations.copy(),
        register.quotas.copy(),
    )


def replace_allocations(
    register: Register, allocations: pd.DataFrame, plan: Plan, *, place: str = "allocations"
) -> Register:
    """A new register with all allocations replaced; raises ValidationError on any problem."""
    allocs = conform_allocations(allocations)
    problems = validate_allocations(allocs, register.parks, plan, place=place)
    if problems:
        raise ValidationError(problems, what=place)
    return Register(register.parks.copy(), allocs, register.quotas.copy())


def set_quotas(register: Register, quotas: pd.DataFrame, plan: Plan) -> Register:
    """A new register with these district quotas (m²); raises ValidationError on any problem."""
    q = conform_quotas(quotas)
    problems = validate_quotas(q, plan)
    if problems:
        raise ValidationError(problems, what="quotas")
    return Register(register.parks.copy(), register.allocations.copy(), q)


def next_allocation_id(register: Register, park_id: str) -> str:
    """A fresh allocation id for a park: ``<park_id>-a<n>``."""
    taken = set(register.allocations["allocation_id"])
    n = 1
    while f"{park_id}-a{n}" in taken:
        n += 1
    return f"{park_id}-a{n}"
