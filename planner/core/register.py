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
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio.errors
import shapely

from planner.core import rules
from planner.core.geo import WGS84
from planner.core.plan import Plan
from planner.core.schema import (
    ALLOCATIONS,
    PARKS,
    QUOTAS,
    STATUSES,
    Table,
)
from planner.core.schema import BASES as BASES  # re-exported
from planner.core.schema import SECURED_STATUSES as SECURED_STATUSES  # re-exported
from planner.core.schema import STATUS_LABELS as STATUS_LABELS  # re-exported
from planner.core.values import (
    bool_problems,
    geojson_text_problems,
    number_problems,
    parse_bools,
    text_problems,
)
from planner.errors import InputError, Problem, ValidationError

PARKS_FILE = "parks.geojson"
ALLOCATIONS_FILE = "allocations.csv"
QUOTAS_FILE = "quotas.csv"

# The columns come from the schema (planner.core.schema): one table, everything else derived.
TEXT_COLUMNS = PARKS.of_kind("text")
NUMBER_COLUMNS = PARKS.of_kind("real")
PARK_COLUMNS = PARKS.names
ALLOCATION_COLUMNS = ALLOCATIONS.names
QUOTA_COLUMNS = QUOTAS.names
PARK_LABELS: dict[str, tuple[str, str]] = PARKS.labels()
ALLOCATION_LABELS: dict[str, tuple[str, str]] = ALLOCATIONS.labels()
QUOTA_LABELS: dict[str, tuple[str, str]] = QUOTAS.labels()


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


def _conform(frame: pd.DataFrame, table: Table) -> pd.DataFrame:
    """``frame`` with exactly ``table``'s columns (missing ones empty), each of its schema dtype."""
    out = frame.copy()
    for c in table.columns:
        if c.name not in out:
            out[c.name] = pd.Series(np.nan if c.kind == "real" else pd.NA, index=out.index, dtype=object)
        col = out[c.name]
        if str(col.dtype) == c.dtype and (c.kind != "text" or not col.isna().any()):
            continue  # already conformed (the common case: a register read or edited by the planner)
        if c.kind == "text":
            out[c.name] = col.astype(object).where(col.notna(), "").astype(str)
        elif c.kind == "bool":
            out[c.name] = col.astype(object).where(col.notna(), False).astype(bool)
        else:
            out[c.name] = pd.to_numeric(col, errors="coerce").astype(c.dtype)
    return out[table.names].reset_index(drop=True)


def conform_parks(parks: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Give a parks frame the register's columns and dtypes (missing columns filled empty).

    >>> conform_parks(gpd.GeoDataFrame({"id": ["p1"]}, geometry=[None], crs=WGS84)).dtypes[
    ...     ["id", "land_area_m2", "delivery_year", "figures_verified"]].astype(str).tolist()
    ['str', 'float64', 'Int64', 'bool']
    """
    out = parks.copy()
    if "figures_verified" not in out:  # not given: verified when the confidence text says so
        conf = out["figures_conf"] if "figures_conf" in out else pd.Series("", index=out.index)
        out["figures_verified"] = conf.astype(object).where(conf.notna(), "").astype(str).str.lower()
        out["figures_verified"] = out["figures_verified"].str.startswith("verified")
    out["figures_verified"] = parse_bools(out["figures_verified"])[0]  # "false" is False (values.py)
    if out.crs is None:
        out = out.set_crs(WGS84)
    frame = _conform(pd.DataFrame(out.drop(columns=out.geometry.name)), PARKS)
    frame.loc[frame["namepark_level"] == "", "namepark_level"] = "unknown"
    frame.loc[frame["status"] == "", "status"] = "unknown"
    return gpd.GeoDataFrame(frame, geometry=out.geometry.reset_index(drop=True).values, crs=out.crs)


def conform_allocations(allocations: pd.DataFrame) -> pd.DataFrame:
    """Give an allocations frame the register's columns and dtypes."""
    return _conform(allocations, ALLOCATIONS)


def conform_quotas(quotas: pd.DataFrame) -> pd.DataFrame:
    """Give a quotas frame its columns and dtypes."""
    return _conform(quotas, QUOTAS)


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


def _rows(frame: pd.DataFrame, place: str, key: str, fallback: str) -> Callable[[rules.RowIndex], str]:
    """Names row ``i`` as '<place> row <i+1> (<key>)' (the ``fallback`` column when the key is blank)."""
    keys = frame[key].where(frame[key].astype(str).str.strip() != "", frame[fallback]).astype(str)
    return lambda i: f"{place} row {i + 1} ({keys.iloc[i]})"


def validate_parks(parks: gpd.GeoDataFrame, plan: Plan, *, place: str = "parks") -> list[Problem]:
    """Every problem with a parks frame (already conformed), each with its row, id and field: the
    rules of :mod:`planner.core.rules`."""
    rows = _rows(parks, place, "id", "name_zh")
    return (
        rules.apply(rules.PARK_RULES, parks, plan, place=rows)
        + rules.geometry_problems(parks, plan, place=rows)
        + rules.crs_problems(parks, place)
        + number_problems(parks, plan, NUMBER_COLUMNS, place=place, key="id")
        + text_problems(parks, TEXT_COLUMNS, place=place, key="id")
    )


def validate_allocations(
    allocations: pd.DataFrame, parks: pd.DataFrame, plan: Plan, *, place: str = "allocations"
) -> list[Problem]:
    """Every problem with an allocations frame (conformed) against the parks and the plan."""
    rows = _rows(allocations, place, "allocation_id", "park_id")
    unknown = allocations["park_id"].isin(parks["id"])
    problems = rules.apply(rules.ALLOCATION_RULES, allocations, plan, place=rows)
    problems += number_problems(allocations, plan, ["area_m2"], place=place, key="allocation_id")
    problems += text_problems(allocations, ALLOCATIONS.of_kind("text"), place=place, key="allocation_id")
    return problems + [
        Problem(rows(i), "park_id", f"园区不存在: {v}", f"no park with id {v}", "unknown_park")
        for i, v in zip(np.flatnonzero(~unknown.to_numpy()), allocations["park_id"][~unknown], strict=True)
    ]


def validate_quotas(quotas: pd.DataFrame, plan: Plan, *, place: str = "quotas") -> list[Problem]:
    """Problems with a quotas frame: known districts, non-negative figures, one quota a district."""
    return (
        rules.apply(
            rules.QUOTA_RULES, quotas, plan, place=_rows(quotas, place, "district_code", "district_code")
        )
        + number_problems(quotas, plan, ["quota_m2"], place=place, key="district_code")
        + text_problems(quotas, ["district_code"], place=place, key="district_code")
    )


def validate_register(register: Register, plan: Plan, *, place: str = "register") -> list[Problem]:
    """All problems of a register's three tables."""
    return (
        validate_parks(register.parks, plan, place=f"{place}/{PARKS_FILE}")
        + validate_allocations(
            register.allocations, register.parks, plan, place=f"{place}/{ALLOCATIONS_FILE}"
        )
        + validate_quotas(register.quotas, plan, place=f"{place}/{QUOTAS_FILE}")
    )


def validate_touched(
    rows: Register,
    stored: Register,
    plan: Plan,
    *,
    added: dict[str, list[str]],
    removed_parks: list[str],
    dependants: pd.DataFrame,
    place: str = "register",
) -> list[Problem]:
    """The problems of one change, found on its touched rows only, plus the cross-row rules they
    can affect: what :func:`validate_register` finds in a register that was valid before it.

    ``rows``: the change's new rows (added and changed); ``stored``: the stored rows of the touched
    keys, and of the parks the touched allocations name, in the version the change applies to;
    ``added``: per table, the keys the change adds (a key already stored is a duplicate);
    ``dependants``: the stored allocations that name a removed park and are not changed themselves."""
    problems = validate_parks(rows.parks, plan, place=f"{place}/{PARKS_FILE}") if len(rows.parks) else []
    if len(rows.allocations):
        known = pd.concat(
            [stored.parks["id"][~stored.parks["id"].isin(removed_parks)], rows.parks["id"]], ignore_index=True
        )
        problems += validate_allocations(
            rows.allocations, pd.DataFrame({"id": known}), plan, place=f"{place}/{ALLOCATIONS_FILE}"
        )
    if len(rows.quotas):
        problems += validate_quotas(rows.quotas, plan, place=f"{place}/{QUOTAS_FILE}")
    for table, frame, old, key, file in (
        ("parks", rows.parks, stored.parks, "id", PARKS_FILE),
        ("allocations", rows.allocations, stored.allocations, "allocation_id", ALLOCATIONS_FILE),
        ("quotas", rows.quotas, stored.quotas, "district_code", QUOTAS_FILE),
    ):
        clash = frame[key].isin(added.get(table, [])) & frame[key].isin(old[key])
        name = _rows(frame, f"{place}/{file}", key, key)
        problems += [
            Problem(
                name(int(i)),
                key,
                f"编号已在登记册中: {v}",
                f"id already in the register: {v}",
                "duplicate_id",
            )
            for i, v in zip(np.flatnonzero(clash.to_numpy()), frame[key][clash], strict=True)
        ]
    problems += [
        Problem(
            f"{place}/{ALLOCATIONS_FILE} ({aid})",
            "park_id",
            f"园区已删除, 但分配 {aid} 仍指向它: {pid}",
            f"park {pid} is removed but allocation {aid} still names it: remove or move the allocation too",
            "unknown_park",
        )
        for aid, pid in zip(dependants["allocation_id"], dependants["park_id"], strict=True)
    ]
    return problems


# The stored rows a change of a few parks is checked against (an import's duplicates): the parks
# whose envelope meets one of ``boxes`` (rows of WGS84 minx, miny, maxx, maxy) or whose id is one
# of ``park_ids``, and the allocations whose id is one of ``allocation_ids``. :func:`rows_near`
# answers it from a register in memory; ``planner.store.service.Store.near`` from the store's indexes.
Nearby = Callable[[np.ndarray, Sequence[str], Sequence[str]], Register]


def rows_near(
    register: Register, boxes: np.ndarray, park_ids: Sequence[str] = (), allocation_ids: Sequence[str] = ()
) -> Register:
    """The rows of ``register`` near a change (see :data:`Nearby`): one bulk spatial-index query."""
    parks = register.parks
    hit = np.zeros(len(parks), dtype=bool)
    if len(park_ids) and len(parks):  # as objects: a hash look-up (an Arrow string isin is slow)
        hit |= pd.Series(parks["id"].to_numpy(dtype=object)).isin(list(park_ids)).to_numpy(dtype=bool)
    b = np.asarray(boxes, dtype=float).reshape(-1, 4)
    if len(b) and len(parks):
        hit[parks.sindex.query(shapely.box(b[:, 0], b[:, 1], b[:, 2], b[:, 3]))[1]] = True
    allocs = register.allocations
    taken = (
        pd.Series(allocs["allocation_id"].to_numpy(dtype=object))
        .isin(list(allocation_ids))
        .to_numpy(dtype=bool)
        if len(allocation_ids)
        else np.zeros(len(allocs), dtype=bool)
    )
    return Register(parks[hit], allocs[taken], register.quotas.iloc[:0])


def add_parks(
    register: Register, new_parks: gpd.GeoDataFrame, plan: Plan, *, place: str = "new parks"
) -> Register:
    """A new register with ``new_parks`` appended; raises ValidationError (register untouched) on any problem."""
    incoming = conform_parks(new_parks.to_crs(WGS84) if new_parks.crs is not None else new_parks)
    problems = validate_parks(incoming, plan, place=place)
    rows = _rows(incoming, place, "id", "name_zh")
    clash = np.flatnonzero(incoming["id"].isin(register.parks["id"]).to_numpy())
    problems += [
        Problem(rows(i), "id", f"编号已在登记册中: {v}", f"id already in the register: {v}", "existing_id")
        for i, v in zip(clash, incoming["id"].iloc[clash], strict=True)
    ]
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
