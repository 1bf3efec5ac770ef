"""Where registers live: named scenarios, each an append-only history of versions.

One interface, two backends that pass the same test suite:

- a GeoPackage file (the embedded default, ``data/planner.gpkg``), created and seeded with the
  plan's register on first use, so nothing else needs installing;
- PostGIS for a team, chosen by a ``postgresql://`` URL (SQLAlchemy + GeoAlchemy2 + geopandas).

Both are chosen the same way: ``open_store(db)`` with a file path or URL, else ``$PLANNER_DB``,
else the default file.

Every save is a new version (author, role, time, comment: 全过程留痕); nothing is overwritten in
place. A save names the version it started from (``expected_version``): when someone else saved
since, it raises :class:`ConflictError` naming their versions and what they changed. A save is
one transaction whose version row is written last, so a save killed half-way leaves the last good
version readable and intact. Who may change what is checked here too (``planner.core.access``), and
every refusal is recorded in the audit log.
"""

from __future__ import annotations

import contextlib
import re
import threading
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from planner.core.access import SYSTEM, User, check_change, require
from planner.core.assign import kept_key, kept_rows, remember
from planner.core.capacity import capacity_report
from planner.core.changes import KEYS, Delta, RegisterChanges, register_changes, register_delta, whole_delta
from planner.core.geo import WGS84
from planner.core.indicators import INDICATOR_COLUMNS, conform_indicators, validate_indicators
from planner.core.plan import Plan, load_plan
from planner.core.register import (
    Register,
    conform_allocations,
    conform_parks,
    conform_quotas,
    load_register,
    validate_register,
    validate_touched,
)
from planner.core.successor import lineage_ids
from planner.core.values import field_problems
from planner.errors import AccessDenied, InputError, NotFound, PlannerError, StoreUnavailable, ValidationError
from planner.settings import DEFAULT_DB, db_location
from planner.store.base import (
    ROW_TABLES,
    Backend,
    Race,
    Version,
    empty_register,
    is_url,
    now_utc,
)

MAIN = "main"
KEPT_META = "kept_key"  # store_meta: the key under which parks rows' metric geometry and assignment are kept
_WRITERS: dict[tuple[str, str], threading.Lock] = {}
_WRITERS_LOCK = threading.Lock()


@contextlib.contextmanager
def _writer(location: str, scenario: str):
    """One save of a scenario at a time in this process (the app's sessions are threads): the
    next one checks its change against the version just written instead of retrying after a
    Race. Saves from other processes still meet as a Race in the backend's transaction."""
    with _WRITERS_LOCK:
        lock = _WRITERS.setdefault((location, scenario), threading.Lock())
    with lock:
        yield


# the problem codes of a stored number the upgrade reports (an infinite, missing or implausible figure)
_NUMBER_CODES = {
    "implausible_number",
    "negative_area",
    "not_positive",
    "missing_number",
    "negative",
    "bad_number",
}
_ATTEMPTS = 50  # saves by others in between that a change is re-applied onto before giving up
SEED_COMMENT = "种子登记册 seed register"


_TABLE_LABELS = (
    ("parks", "园区", "parks"),
    ("allocations", "分配", "allocations"),
    ("quotas", "配额", "quotas"),
)


class ConflictError(PlannerError):
    """A save that cannot be applied; nothing of yours was written.

    ``rows``: the rows you changed that someone else changed too since your ``expected_version``
    (per table, each key with the version that changed it: its author is who), the only conflict
    between two saves; else the scenario was deleted or created meanwhile. ``versions`` are the
    versions saved since; ``changes`` theirs when known."""

    def __init__(
        self,
        scenario: str,
        expected_version: int | None,
        current_version: int | None,
        changes: RegisterChanges | None,
        versions: list[Version],
        reason: str = "",
        rows: dict[str, list[tuple[str, Version]]] | None = None,
    ) -> None:
        self.scenario = scenario
        self.expected_version = expected_version
        self.current_version = current_version
        self.changes = changes
        self.versions = list(versions)
        self.rows = {t: list(r) for t, r in (rows or {}).items() if r}
        exp = "—" if expected_version is None else f"v{expected_version}"
        cur = "—" if current_version is None else f"v{current_version}"
        if self.rows:
            default = (
                f"保存冲突: 场景 {scenario} 中你修改的以下行在你载入 {exp} 之后已被他人修改 (现为 {cur}); 你的修改"
                f"未保存, 但已保留, 可在最新版本上重新应用 / conflict: in scenario {scenario!r} the rows below, "
                f"which you changed, were changed by someone else after you loaded {exp} (now {cur}); your "
                "save was not written but is kept: re-apply it onto the latest version"
            )
        else:
            default = (
                f"保存冲突: 场景 {scenario} 在你载入 {exp} 之后已被修改, 现为 {cur}; 你的修改未保存, "
                f"请重新载入后再改 / conflict: scenario {scenario!r} changed since you loaded {exp} "
                f"(now {cur}); your save was not written: reload, reapply your edit and save again"
            )
        lines = [reason or default]
        for table, zh, en in _TABLE_LABELS:
            for key, v in self.rows.get(table, []):
                lines.append(
                    f"  - {zh} {en} {key}: 由 {v.author} ({v.role}) 在 v{v.version} 修改 / changed by "
                    f"{v.author} ({v.role}) in v{v.version}"
                )
        if not self.rows:
            lines += [f"  - {v.describe()}" for v in self.versions]
        if changes:
            lines.append(f"  改动 changed since {exp}: {changes.summary()}")
            for zh, en, ch in (
                ("园区", "parks", changes.parks),
                ("分配", "allocations", changes.allocations),
                ("配额", "quotas", changes.quotas),
            ):
                for what, ids in (
                    ("新增 added", ch.added),
                    ("删除 removed", ch.removed),
                    ("修改 changed", ch.changed),
                ):
                    if ids:
                        shown = ", ".join(ids[:20]) + (f" … (+{len(ids) - 20})" if len(ids) > 20 else "")
                        lines.append(f"    {zh} {en} {what}: {shown}")
        super().__init__("\n".join(lines))

    def clashing(self) -> list[str]:
        """'park p1', 'allocation a1', ... : the rows changed by both."""
        kinds = {"parks": "park", "allocations": "allocation", "quotas": "quota"}
        return [f"{kinds[t]} {k}" for t, rows in self.rows.items() for k, _ in rows]


_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def check_location(location: str) -> None:
    """Refuse a URL that is not PostgreSQL (``sqlite:///x.db``, ``mysql://``): InputError."""
    if _SCHEME.match(location) and not is_url(location):
        scheme = location.split("://", 1)[0]
        raise InputError(
            f"不支持的数据库地址 {scheme}://; 请用 GeoPackage 文件路径或 postgresql:// 地址 / "
            f"unsupported store location {scheme}:// (--db / PLANNER_DB): use a GeoPackage file path "
            "or a postgresql:// URL"
        )


def check_scenario_name(name: str) -> None:
    """Refuse an empty name, spaces around it, ``/`` or ``@`` (``NAME@VERSION`` names a version)."""
    bad = not name or name != name.strip() or any(c in name for c in "/@")
    if bad or any(not c.isprintable() for c in name):
        raise InputError(
            f"场景名无效: {name!r}; 不能为空, 首尾不能有空格, 不能含 / 或 @ / invalid scenario name "
            f"{name!r}: it must not be empty, start or end with a space, or contain '/' or '@'"
        )


def normalise_scenario_name(name: str) -> str:
    """A new scenario's name as stored: Unicode NFKC (full-width ``ｍａｉｎ`` is ``main``)."""
    return unicodedata.normalize("NFKC", name)


# scripts whose letters a scenario name is compared in: a letter of another script that looks like
# one of theirs (Cyrillic а, Greek ο) is taken as that letter
_HOME_SCRIPTS = ["LATIN", "COMMON", "HAN"]


def name_skeleton(name: str) -> str:
    """What a name looks like: NFKC, every look-alike letter of another script replaced by the
    Latin/common/Han letter it imitates (Unicode's confusables, ``confusable_homoglyphs``)."""
    from confusable_homoglyphs import categories, confusables  # a table of 40 ms to load: when asked

    text = normalise_scenario_name(name)
    found = confusables.is_confusable(text, greedy=True, preferred_aliases=_HOME_SCRIPTS) or []
    swap = {
        hit["character"]: next(
            (h["c"] for h in hit["homoglyphs"] if categories.alias(h["c"]) in _HOME_SCRIPTS), hit["character"]
        )
        for hit in found
    }
    return "".join(swap.get(c, c) for c in text)


def confusable_with(name: str, existing: list[str]) -> str | None:
    """The existing scenario name that ``name`` looks like but is not (``mаin`` with a Cyrillic а
    and ``main``), or None."""
    skeleton = name_skeleton(name)
    return next((e for e in existing if e != name and name_skeleton(e) == skeleton), None)


def _look_alikes(name: str, other: str) -> str:
    """The characters of ``name`` that differ from ``other``'s, with their Unicode names."""
    return ", ".join(
        f"{c!r} U+{ord(c):04X} {unicodedata.name(c, '?')}"
        for c, o in zip(name, other, strict=False)
        if c != o
    )


def conform(register: Register) -> Register:
    """The register with the stored columns and dtypes (idempotent)."""
    parks = register.parks
    if parks.crs is not None and not parks.crs.equals(WGS84):
        parks = parks.to_crs(WGS84)
    return Register(
        conform_parks(parks), conform_allocations(register.allocations), conform_quotas(register.quotas)
    )


def open_store(db: str | Path | None = None, plan: Plan | None = None) -> Store:
    """Open (and on first use create and seed) the store at ``db`` / ``$PLANNER_DB`` / the default file.

    A new store gets scenario ``main`` version 1: the plan's seed register, author ``system``.
    """
    plan = plan if plan is not None else load_plan()
    location = db_location(db, plan.name)
    check_location(location)
    backend: Backend
    if is_url(location):
        from planner.store.postgis import PostgisBackend

        backend = PostgisBackend(location)
    else:
        from planner.store.gpkg import GeoPackageBackend

        path = Path(location)
        if (
            path.parent == DEFAULT_DB.parent
        ):  # the default files' folder is the app's own; any other must exist
            path.parent.mkdir(parents=True, exist_ok=True)
        backend = GeoPackageBackend(path)
    owner = backend.get_meta("plan_id")
    if owner is None:
        backend.set_meta("plan_id", plan.id)
    elif owner != plan.id and owner not in lineage_ids(plan):  # a successor reads its predecessor's store
        backend.close()
        raise PlannerError(
            f"{backend.location} 属于规划 {owner}, 不是 {plan.id}; 请用 --db 另选库 (PLANNER_DB 中的 {{plan}} 会替换为规划名) / this store belongs to "
            f"plan {owner!r}, not {plan.id!r}: choose another store with --db or PLANNER_DB "
            "({plan} in it is replaced by the plan's name: one store per plan)"
        )
    store = Store(backend, plan)
    if backend.legacy:  # a store of the snapshot format: upgraded on open, every version kept
        store.upgrade_report = store.upgrade()
        store.upgraded = True
    store.prepare_kept()
    if backend.is_empty():
        register = load_register(plan)
        with contextlib.suppress(Race):  # another process seeded it at the same moment
            store._commit(MAIN, whole_delta(conform(register)), SYSTEM, SEED_COMMENT, None, action="seed")
    return store


@dataclass
class Comparison:
    """Two registers side by side (``a`` then ``b``)."""

    totals: pd.DataFrame  # metric (counted / secured / planned_only / gap), label_zh, label_en, a, b, delta
    by_district: pd.DataFrame  # district, name_zh, name_en, a_m2, b_m2, delta_m2
    parks_added: gpd.GeoDataFrame  # in b, not in a
    parks_removed: gpd.GeoDataFrame  # in a, not in b
    parks_changed: gpd.GeoDataFrame  # in both, different (b's row), with a ``changed_columns`` column
    changed_columns: dict[str, list[str]] = field(default_factory=dict)  # park id -> columns that differ
    changes: RegisterChanges | None = None

    def to_dict(self) -> dict:
        """A JSON-ready summary (the CLI's ``scenario diff --json``)."""
        return {
            "totals": self.totals.to_dict("records"),
            "by_district": self.by_district.to_dict("records"),
            "parks_added": self.parks_added["id"].tolist(),
            "parks_removed": self.parks_removed["id"].tolist(),
            "parks_changed": self.changed_columns,
            "allocations": {
                "added": self.changes.allocations.added if self.changes else [],
                "removed": self.changes.allocations.removed if self.changes else [],
                "changed": self.changes.allocations.changed if self.changes else [],
            },
            "quotas": {
                "added": self.changes.quotas.added if self.changes else [],
                "removed": self.changes.quotas.removed if self.changes else [],
                "changed": self.changes.quotas.changed if self.changes else [],
            },
        }


_TOTALS = (
    ("counted", "计入", "Counted", "counted_m2"),
    ("secured", "已落实", "Secured", "secured_m2"),
    ("planned_only", "仅规划", "Planned only", "planned_m2"),
    ("gap", "缺口", "Gap", "gap_m2"),
)


def compare(plan: Plan, a: Register, b: Register) -> Comparison:
    """Compare two registers: capacity totals, per district, and parks added, removed and changed."""
    ra, rb = capacity_report(plan, a), capacity_report(plan, b)
    totals = pd.DataFrame(
        {
            "metric": [t[0] for t in _TOTALS],
            "label_zh": [t[1] for t in _TOTALS],
            "label_en": [t[2] for t in _TOTALS],
            "a": [float(getattr(ra, t[3])) for t in _TOTALS],
            "b": [float(getattr(rb, t[3])) for t in _TOTALS],
        }
    )
    totals["delta"] = totals["b"] - totals["a"]
    cols = ["key", "name_zh", "name_en", "counted_m2"]
    da = ra.by_district[cols].rename(columns={"counted_m2": "a_m2"})
    db = rb.by_district[cols].rename(columns={"counted_m2": "b_m2"})
    by = da.merge(db, on=["key", "name_zh", "name_en"], how="outer").rename(columns={"key": "district"})
    by[["a_m2", "b_m2"]] = by[["a_m2", "b_m2"]].fillna(0.0).astype(float)
    by["delta_m2"] = by["b_m2"] - by["a_m2"]
    by = by[["district", "name_zh", "name_en", "a_m2", "b_m2", "delta_m2"]].reset_index(drop=True)

    changes = register_changes(a, b)
    pa, pb = a.parks, b.parks
    added = pb[pb["id"].isin(changes.parks.added)].reset_index(drop=True)
    removed = pa[pa["id"].isin(changes.parks.removed)].reset_index(drop=True)
    changed_ids = changes.parks.changed
    changed = pb[pb["id"].isin(changed_ids)].reset_index(drop=True)
    changed_columns: dict[str, list[str]] = {}
    if changed_ids:
        left = pa.set_index("id").loc[changed_ids]
        right = pb.set_index("id").loc[changed_ids]
        diff = pd.DataFrame(index=pd.Index(changed_ids))
        for col in [c for c in left.columns if c in right.columns]:
            if col == "geometry":
                lg, rg = gpd.GeoSeries(left[col]), gpd.GeoSeries(right[col])
                same = lg.geom_equals_exact(rg, tolerance=0) | (lg.isna() & rg.isna())
            else:
                lv, rv = left[col].astype(object), right[col].astype(object)
                same = (lv == rv) | (left[col].isna() & right[col].isna())
            diff[col] = ~same.fillna(False).to_numpy(dtype=bool)
        melted = diff.stack()
        melted = melted[melted]
        for pid, col in melted.index:
            changed_columns.setdefault(str(pid), []).append(str(col))
    changed["changed_columns"] = changed["id"].map(lambda i: ", ".join(changed_columns.get(i, [])))
    return Comparison(totals, by, added, removed, changed, changed_columns, changes)


class Store:
    """Scenarios and their versions, over one backend. Open with :func:`open_store`."""

    def __init__(self, backend: Backend, plan: Plan) -> None:
        self.backend = backend
        self.plan = plan
        self.location = backend.location
        self.upgraded = False  # whether opening it upgraded it from an earlier schema
        self.upgrade_report: list[str] = []  # what the upgrade's re-check of stored numbers found
        self.keeps = False  # whether the store keeps each parks row's metric geometry and assignment

    def __repr__(self) -> str:
        return f"Store({self.location!r})"

    def close(self) -> None:
        """Release the backend's connections."""
        self.backend.close()

    # ---- reading -------------------------------------------------------------------------
    def _versions(self, scenario: str) -> list[Version]:
        return self.backend.versions(scenario)

    def _latest(self, scenario: str) -> Version | None:
        vs = self._versions(scenario)
        return vs[-1] if vs else None

    def _live_latest(self, scenario: str) -> Version | None:
        """The latest version when the scenario exists (is not deleted), else None."""
        latest = self._latest(scenario)
        return latest if latest is not None and latest.action != "delete" else None

    def exists(self, scenario: str) -> bool:
        """Whether the scenario exists (has versions and was not deleted)."""
        return self._live_latest(scenario) is not None

    def scenarios(self) -> pd.DataFrame:
        """One row a scenario (deleted ones left out): latest version, its author, time, comment, size."""
        rows = [v for v in self._latest_per_scenario() if v.action != "delete"]
        cols = ["scenario", "version", "author", "created_at", "comment", "n_parks", "n_allocations"]
        return pd.DataFrame([{c: getattr(v, c) for c in cols} for v in rows], columns=cols)

    def _latest_per_scenario(self) -> list[Version]:
        latest: dict[str, Version] = {}
        for v in self.backend.versions(None):
            if v.scenario not in latest or v.version > latest[v.scenario].version:
                latest[v.scenario] = v
        return sorted(latest.values(), key=lambda v: (v.scenario != MAIN, v.scenario))

    def version(self, scenario: str = MAIN, version: int | None = None) -> Version:
        """The version's record (the latest when ``version`` is None); :class:`NotFound` when there is
        no such scenario or version (a deleted scenario has no latest version)."""
        versions = self._versions(scenario)
        if not versions:
            raise NotFound(f"没有场景 {scenario} / no scenario named {scenario!r}")
        if version is None:
            found = versions[-1]
            if found.action == "delete":
                raise NotFound(
                    f"场景 {scenario} 已删除 (v{found.version}); 历史版本仍可查看 / scenario {scenario!r} "
                    f"was deleted at v{found.version}; its earlier versions can still be viewed"
                )
            return found
        hit = [v for v in versions if v.version == version]
        if not hit or hit[0].action == "delete":
            raise NotFound(
                f"场景 {scenario} 没有版本 v{version} / scenario {scenario!r} has no version {version} "
                f"(versions: {', '.join(str(v.version) for v in versions if v.action != 'delete')})"
            )
        return hit[0]

    def load(self, scenario: str = MAIN, version: int | None = None) -> tuple[Register, Version]:
        """The register of a scenario's version (the latest when ``version`` is None) and its record.
        What the store keeps of its parks rows (metric geometry, district assignment) is handed to
        :func:`planner.core.assign.remember`: the version's first check computes neither."""
        v = self.version(scenario, version)
        register = self.backend.read(scenario, v.version)
        if self.keeps and len(register.parks):
            kept = self.backend.read_kept(scenario, v.version)
            if kept is not None and len(kept) == len(register.parks):
                same = kept["id"].astype(str).to_numpy() == register.parks["id"].astype(str).to_numpy()
                if same.all():
                    remember(register.parks, self.plan, kept)
        return register, v

    # ---- what is kept of each parks row -------------------------------------------------
    def prepare_kept(self) -> None:
        """Make the store keep each parks row's metric geometry and district assignment under this
        plan's key (:func:`planner.core.assign.kept_key`): when the key differs (a store written
        before, other districts, another rule) what was kept is dropped and every row's is
        computed once. A store that cannot be written keeps nothing (loads then compute)."""
        key = kept_key(self.plan)
        try:
            if self.backend.get_meta(KEPT_META) != key:
                self.backend.clear_kept()
                self.fill_kept()
                self.backend.set_meta(KEPT_META, key)
        except StoreUnavailable:
            self.keeps = False
            return
        self.keeps = True

    def fill_kept(self) -> int:
        """Compute what is kept for every parks row (any version) that has nothing kept (rows
        written by an older release); the number of rows filled."""
        fids, geoms = self.backend.unkept_parks()
        if len(fids):
            parks = gpd.GeoDataFrame(geometry=gpd.GeoSeries(geoms, crs=WGS84), crs=WGS84)
            self.backend.put_kept(kept_rows(parks, self.plan), fids)
        return len(fids)

    def _keep(self, scenario: str, number: int, delta: Delta | None) -> None:
        """Keep the metric geometry and assignment of the parks rows version ``number`` wrote. The
        version is saved already: a failure here only means those rows are computed when read."""
        if not self.keeps or delta is None or not len(delta.rows.parks):
            return
        parks = delta.rows.parks
        kept = kept_rows(parks, self.plan)
        kept["id"] = parks["id"].astype(str).to_numpy()
        with contextlib.suppress(StoreUnavailable):
            self.backend.put_kept(kept, scenario=scenario, version=number)

    def near(
        self,
        scenario: str,
        version: int,
        boxes: np.ndarray,
        park_ids: Sequence[str] = (),
        allocation_ids: Sequence[str] = (),
    ) -> Register:
        """The rows of a version near a change of a few parks (an import): the parks whose envelope
        meets one of ``boxes`` (WGS84 minx, miny, maxx, maxy rows) or whose id is one of
        ``park_ids``, the allocations whose id is one of ``allocation_ids`` (no quotas). Read
        through the store's spatial and key indexes, never the whole register; the same rows
        :func:`planner.core.register.rows_near` finds in a register in memory."""
        v = self.version(scenario, version).version
        b = np.asarray(boxes, dtype=float).reshape(-1, 4)
        frames = [self.backend.read_near(scenario, v, b)] if len(b) else []
        ids = sorted({str(k) for k in park_ids if "\x00" not in str(k)})
        if ids:
            frames.append(self.backend.read_keys(scenario, v, "parks", "id", ids))
        empty = empty_register()
        parks = (
            gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), geometry="geometry", crs=WGS84)
            if len(frames) > 1
            else (frames[0] if frames else empty.parks)
        )
        parks = parks.drop_duplicates("id").reset_index(drop=True)
        aids = sorted({str(k) for k in allocation_ids if "\x00" not in str(k)})
        allocations = (
            self.backend.read_keys(scenario, v, "allocations", "allocation_id", aids)
            if aids
            else empty.allocations
        )
        return Register(parks, allocations, empty.quotas)

    def history(self, scenario: str = MAIN) -> pd.DataFrame:
        """One row a version, newest first: version, action, author, role, time, comment, changes,
        and the version it was based on (``base_version``; a save merged onto a newer version
        has an older base)."""
        versions = self._versions(scenario)
        if not versions:
            raise NotFound(f"没有场景 {scenario} / no scenario named {scenario!r}")
        cols = [
            "version", "action", "author", "role", "created_at", "comment", "changes",
            "restored_from", "n_parks", "n_allocations", "base_version",
        ]  # fmt: skip
        frame = pd.DataFrame([{c: getattr(v, c) for c in cols} for v in reversed(versions)], columns=cols)
        frame["restored_from"] = frame["restored_from"].astype("Int64")
        frame["base_version"] = frame["base_version"].astype("Int64")
        return frame

    def history_registers(self, scenario: str = MAIN) -> list[tuple[Version, Register]]:
        """Every saved version of the scenario with its register, oldest first (deletes left out):
        the monitor's trend and staleness read the history from here."""
        return [
            (v, self.backend.read(scenario, v.version))
            for v in self._versions(scenario)
            if v.action != "delete"
        ]

    def park_history(self, park_id: str, scenario: str = MAIN) -> gpd.GeoDataFrame:
        """Every stored state of one park in the scenario, oldest first: the park's columns with
        ``v_from`` and ``v_to`` (the state is that of versions ``v_from <= v < v_to``; ``v_to``
        missing: current). One query."""
        return self.backend.park_history(scenario, park_id)

    def row_history(self, table: str, columns: list[str], scenario: str = MAIN) -> pd.DataFrame:
        """Every stored row of ``table`` (parks, allocations, quotas) in the scenario: its key,
        ``columns``, ``v_from`` and ``v_to`` (the row is that of versions ``v_from <= v < v_to``;
        ``v_to`` missing: current), ordered by ``v_from``. One query per table, whatever the number of
        versions: the monitor's statuses as recorded at a date and each park's last change come
        from here (``planner.core.history.row_history``)."""
        return self.backend.row_history(scenario, table, columns)

    def upgrade(self) -> list[str]:
        """Upgrade a store of the snapshot format (schema 1) to the row history, keeping every
        version (``python -m planner store upgrade``; done on open too). Stored numbers are
        re-checked on the way: every infinite, missing or implausible figure an old release
        stored is reported (scenario, versions, row, field), recorded in the audit log and
        returned, never silently carried on. Nothing to do: []."""
        seen = self.backend.upgrade()
        if self.keeps:  # rows an older release wrote since: theirs computed now
            self.fill_kept()
        if not seen:
            return []
        found: dict[tuple[str, str, str, str, str], list[int]] = {}
        for v, register in seen:
            for p in validate_register(register, self.plan, place=f"scenario {v.scenario}"):
                if p.code in _NUMBER_CODES:
                    found.setdefault((v.scenario, p.place, p.field, p.message_zh, p.message_en), []).append(
                        v.version
                    )
        report = [
            f"场景 {scenario} 版本 {', '.join(f'v{n}' for n in numbers)}: {place} 字段 {fld}: {zh} / scenario "
            f"{scenario!r} version(s) {', '.join(map(str, numbers))}: {place}, field {fld}: {en} (stored by an "
            "earlier release; correct it and save)"
            for (scenario, place, fld, zh, en), numbers in found.items()
        ]
        self._record(
            SYSTEM,
            "upgrade",
            MAIN,
            None,
            "ok" if not report else "warning",
            f"规划库已升级到行历史格式, {len(seen)} 个版本 / store upgraded to the row history, {len(seen)} "
            "version(s) kept" + "".join(f"\n{line}" for line in report),
        )
        return report

    def audit_log(self, limit: int | None = None) -> pd.DataFrame:
        """Every write attempt, newest first: time, user, role, action, scenario, version, outcome, detail."""
        return self.backend.audit_log(limit)

    def record_event(
        self,
        *,
        user: str,
        role: str,
        action: str,
        outcome: str,
        detail: str = "",
        scenario: str | None = None,
    ) -> None:
        """Record an event that writes no version (the app's sign-ins) in the audit log, so the
        store's log is the one trail: ``action`` e.g. ``sign_in``, ``outcome`` ok / denied."""
        self.backend.audit(
            {
                "time": now_utc(),
                "user": user,
                "role": role,
                "action": action,
                "scenario": scenario,
                "version": None,
                "outcome": outcome,
                "detail": detail,
            }
        )

    def record_refusal(
        self,
        err: PlannerError,
        *,
        user: User,
        action: str,
        scenario: str = MAIN,
        expected_version: int | None = None,
    ) -> None:
        """Record a write refused before it reached :meth:`save` (an edit the library's editing or
        validation functions refused, an import with problems): user, action, every refused row
        with its reason. Outcome ``denied`` for a refusal of rights, else ``invalid``."""
        problems = getattr(err, "problems", None)
        detail = "\n".join(map(str, problems)) if problems else str(err)
        outcome = "denied" if isinstance(err, AccessDenied) else "invalid"
        self._record(user, action, scenario, expected_version, outcome, detail)

    # ---- writing -------------------------------------------------------------------------
    def _record(
        self, user: User, action: str, scenario: str, version: int | None, outcome: str, detail: str
    ) -> None:
        self.backend.audit(
            {
                "time": now_utc(),
                "user": user.name,
                "role": user.role,
                "action": action,
                "scenario": scenario,
                "version": version,
                "outcome": outcome,
                "detail": detail,
            }
        )

    def _deny(self, user: User, action: str, scenario: str, version: int | None, exc: AccessDenied) -> None:
        self._record(user, action, scenario, version, "denied", "\n".join(map(str, exc.problems)))

    def _require(self, user: User, action: str, scenario: str, what: str | None = None) -> None:
        """AccessDenied (recorded as ``action``) unless the policy lets the user take ``what``
        (default ``action``): :func:`planner.core.access.require`."""
        try:
            require(user, what or action, f"scenario {scenario}")
        except AccessDenied as exc:
            self._deny(user, action, scenario, None, exc)
            raise

    def require_recorded(self, user: User, what: str, place: str, action: str) -> None:
        """AccessDenied unless the policy lets ``user`` take ``what`` on ``place``
        (:func:`planner.core.access.require`); a refusal is recorded in the audit log as ``action``
        (for writes that make no version, e.g. a successor plan)."""
        try:
            require(user, what, place)
        except AccessDenied as exc:
            self.record_event(
                user=user.name, role=user.role, action=action, outcome="denied", detail=str(exc)
            )
            raise

    def _refuse_confusable(self, scenario: str, user: User, action: str) -> None:
        """InputError (recorded) when a new scenario's name looks like an existing one's."""
        names = sorted({v.scenario for v in self.backend.versions(None)})
        twin = confusable_with(scenario, names)
        if twin is None:
            return
        message = (
            f"场景名 {scenario!r} 与已有场景 {twin!r} 字形相同但字符不同 ({_look_alikes(scenario, twin)}); "
            f"请换一个名字 / scenario name {scenario!r} looks like the existing {twin!r} but is made of other "
            "characters: choose another name"
        )
        self._record(user, action, scenario, None, "invalid", message)
        raise InputError(message)

    def _conflict(
        self,
        scenario: str,
        expected: int | None,
        user: User,
        action: str,
        rows: dict[str, list[tuple[str, Version]]] | None = None,
    ) -> ConflictError:
        """The conflict (recorded): ``rows`` changed by both, or the scenario deleted or created
        meanwhile (then their changes since ``expected``)."""
        versions = self._versions(scenario)
        latest = versions[-1] if versions else None
        current = latest.version if latest is not None and latest.action != "delete" else None
        since = [v for v in versions if expected is None or v.version > expected]
        changes = None
        if current is not None and not rows:
            try:
                before = self.backend.read(scenario, expected) if expected is not None else empty_register()
            except NotFound:  # the version you name never existed: no changes to list
                before = None
            if before is not None:
                changes = register_changes(before, self.backend.read(scenario, current))
        reason = ""
        if expected is None and current is not None:
            reason = (
                f"场景 {scenario} 已存在 (现为 v{current}); 未保存 / scenario {scenario!r} already exists "
                f"(now v{current}): nothing was written; load it and save with its version"
            )
        exc = ConflictError(scenario, expected, current, changes, since, reason=reason, rows=rows)
        self._record(user, action, scenario, expected, "conflict", str(exc))
        return exc

    def _clash(
        self, scenario: str, delta: Delta, expected: int, target: int
    ) -> dict[str, list[tuple[str, Version]]]:
        """The rows ``delta`` touches that versions ``expected < v <= target`` touched too, each
        with the (last) version that did: the only conflict between two saves."""
        theirs = self.backend.touched_since(scenario, expected, target)
        by_number = {v.version: v for v in self._versions(scenario)}
        out: dict[str, list[tuple[str, Version]]] = {}
        for table in ROW_TABLES:
            mine = getattr(delta.changes, table).touched
            frame = theirs[table]
            hit = frame[frame["key"].astype(str).isin(mine)].sort_values("version")
            last = hit.drop_duplicates("key", keep="last")
            if len(last):
                out[table] = [
                    (str(k), by_number[int(n)]) for k, n in zip(last["key"], last["version"], strict=True)
                ]
        return out

    def _stored(self, scenario: str, target: int | None, delta: Delta) -> tuple[Register, pd.DataFrame]:
        """The stored rows a change needs, at version ``target``: its touched keys, the parks its
        allocations name (old and new), and the allocations naming a park it removes (not
        changed themselves). A handful of key queries, never the whole register."""
        ch = delta.changes
        if target is None:
            empty = empty_register()
            return empty, empty.allocations

        def read(scenario: str, version: int, table: str, column: str, keys: list[str]) -> pd.DataFrame:
            # a key with a NUL cannot be stored (PostgreSQL cannot even be asked for it): the
            # validation that follows refuses its row
            return self.backend.read_keys(
                scenario, version, table, column, [k for k in keys if "\x00" not in k]
            )

        allocations = (
            read(scenario, target, "allocations", "allocation_id", ch.allocations.touched)
            if ch.allocations
            else empty_register().allocations
        )
        quotas = (
            read(scenario, target, "quotas", "district_code", ch.quotas.touched)
            if ch.quotas
            else empty_register().quotas
        )
        ids = sorted(
            set(ch.parks.touched)
            | set(allocations["park_id"].astype(str))
            | set(delta.rows.allocations["park_id"].astype(str))
        )
        parks = read(scenario, target, "parks", "id", ids) if ids else empty_register().parks
        dependants = (
            read(scenario, target, "allocations", "park_id", ch.parks.removed)
            if ch.parks.removed
            else empty_register().allocations
        )
        dependants = dependants[~dependants["allocation_id"].isin(ch.allocations.touched)]
        return Register(parks, allocations, quotas), dependants

    @staticmethod
    def _after(stored: Register, delta: Delta) -> Register:
        """The stored rows with the change applied: what the touched rows look like after it."""
        frames = []
        for table in ROW_TABLES:
            old, new = getattr(stored, table), getattr(delta.rows, table)
            key = KEYS[table]
            kept = old[~old[key].astype(str).isin(getattr(delta.changes, table).touched)]
            frames.append(pd.concat([kept, new], ignore_index=True) if len(new) else kept)
        parks = gpd.GeoDataFrame(frames[0], geometry="geometry", crs=WGS84)
        return Register(parks, frames[1], frames[2])

    def _check(
        self,
        delta: Delta,
        stored: Register,
        dependants: pd.DataFrame,
        user: User,
        comment: str,
        scenario: str,
        expected: int | None,
        action: str,
    ) -> None:
        """Validation (touched rows + cross-row rules) and rights (touched rows) of one change;
        each refusal recorded. Nothing is written here."""
        problems = field_problems({"comment": comment, "author": user.name}, place=f"scenario {scenario}")
        problems += validate_touched(
            delta.rows,
            stored,
            self.plan,
            added={t: getattr(delta.changes, t).added for t in ROW_TABLES},
            removed_parks=delta.changes.parks.removed,
            dependants=dependants,
            place=f"scenario {scenario}",
        )
        if problems:
            invalid = ValidationError(problems, what=f"scenario {scenario}")
            self._record(user, action, scenario, expected, "invalid", str(invalid))
            raise invalid
        rights = "restore" if action == "restore" else "save"  # a copy's rows: those of a save
        try:
            require(user, rights, "register")
            check_change(
                user, stored, self._after(stored, delta), self.plan, changes=delta.changes, action=rights
            )
        except AccessDenied as exc:
            self._deny(user, action, scenario, expected, exc)
            raise

    def _commit(
        self,
        scenario: str,
        delta: Delta | None,
        user: User,
        comment: str,
        expected: int | None,
        *,
        action: str,
        restored_from: int | None = None,
        latest: Version | str | None = "now",
    ) -> Version:
        """Write ``delta`` as the version after ``latest``, the scenario's latest version (any
        kind; None: it has none) when the change was checked (default: looked up now), or a
        tombstone (``delta`` None); recorded as based on ``expected``. Race when the latest moved
        meanwhile."""
        if isinstance(latest, str):
            latest = self._latest(scenario)
        number = (latest.version if latest is not None else 0) + 1
        live = latest if latest is not None and latest.action != "delete" else None
        if delta is not None:
            summary = delta.changes.summary()
            ch = delta.changes
            n_parks = (live.n_parks if live else 0) + len(ch.parks.added) - len(ch.parks.removed)
            n_allocs = (
                (live.n_allocations if live else 0) + len(ch.allocations.added) - len(ch.allocations.removed)
            )
        else:
            summary, n_parks, n_allocs = "删除场景 scenario deleted", 0, 0
        v = Version(
            scenario=scenario,
            version=number,
            author=user.name,
            role=user.role,
            created_at=now_utc(),
            comment=comment,
            restored_from=restored_from,
            action=action,
            changes=summary,
            n_parks=n_parks,
            n_allocations=n_allocs,
            base_version=expected,
        )
        self.backend.write(v, delta, latest.version if latest is not None else None)
        self._keep(scenario, number, delta)
        merged = (
            f" | 基于 v{expected} 合并到 v{number - 1} / from v{expected}, merged onto v{number - 1}"
            if v.merged_onto is not None
            else ""
        )
        self._record(user, action, scenario, v.version, "ok", f"{comment} | {summary}{merged}".strip(" |"))
        return v

    def save(
        self,
        register: Register,
        *,
        user: User,
        comment: str,
        scenario: str = MAIN,
        expected_version: int | None,
        base: Register | None = None,
        changes: RegisterChanges | None = None,
    ) -> Version:
        """Save ``register`` as the scenario's next version: only its change is written.

        ``expected_version`` is the version the edit started from (None: the scenario is new; only a
        city planner may create a scenario or save into a deleted one). ``base``: that version's
        register when the caller holds it (the app's session), so the change is computed once
        against it (``changes`` when already computed) and the store reads back only the touched
        rows; else the store reads that version. A change with nothing in it writes nothing and
        returns the latest version (compare ``version``).

        When others saved since ``expected_version``, the change is applied onto the latest
        version (recorded as based on ``expected_version``, merged onto the latest) unless it
        touches a row they changed too: then ConflictError names those rows and who changed them.
        Raises ValidationError (the touched rows, or the rows they affect, are invalid),
        AccessDenied (the user may not make this change). Every refusal is recorded; nothing is
        written then.
        """
        prepared = self._prepare(register, user, scenario, expected_version, "save", base, changes)
        return self.save_change(
            prepared, user=user, comment=comment, scenario=scenario, expected_version=expected_version
        )

    def _prepare(
        self,
        register: Register,
        user: User,
        scenario: str,
        expected: int | None,
        action: str,
        base: Register | None = None,
        changes: RegisterChanges | None = None,
    ) -> Delta:
        """The change from ``expected`` (or ``base``, the caller's register of that version, and
        ``register`` made from it by the library's edits: not conformed again) to ``register``,
        computed once; its rows are conformed when it is applied."""
        if expected is None:
            return whole_delta(conform(register))
        if base is None:
            register = conform(register)
            latest = self._latest(scenario)
            if latest is None or expected > latest.version:
                raise self._conflict(scenario, expected, user, action)
            try:
                base = self.backend.read(scenario, expected)
            except NotFound:
                raise self._conflict(scenario, expected, user, action) from None
            changes = None
        return register_delta(base, register, changes)

    def save_change(
        self,
        delta: Delta,
        *,
        user: User,
        comment: str,
        scenario: str = MAIN,
        expected_version: int | None,
        action: str = "save",
        restored_from: int | None = None,
    ) -> Version:
        """Apply one change (:class:`planner.core.changes.Delta`: the keys and the new rows) made
        from ``expected_version`` as the scenario's next version; see :meth:`save`."""
        try:
            check_scenario_name(scenario)
        except InputError as exc:
            self._record(user, action, scenario, expected_version, "invalid", str(exc))
            raise
        if not self.exists(scenario) and not self._versions(scenario):  # a new name
            scenario = normalise_scenario_name(scenario)
            self._refuse_confusable(scenario, user, action)
        delta = Delta(delta.changes, conform(delta.rows))
        with _writer(self.location, scenario):  # saves of one process queue here; of others: Race
            return self._save_change(delta, user, comment, scenario, expected_version, action, restored_from)

    def _save_change(
        self,
        delta: Delta,
        user: User,
        comment: str,
        scenario: str,
        expected_version: int | None,
        action: str,
        restored_from: int | None,
    ) -> Version:
        for _attempt in range(_ATTEMPTS):
            newest = self._latest(scenario)  # the version to write after (a tombstone too)
            latest = newest if newest is not None and newest.action != "delete" else None
            target = latest.version if latest is not None else None
            if expected_version is not None and (target is None or expected_version > target):
                # the version the edit started from is gone (the scenario was deleted since): a conflict
                raise self._conflict(scenario, expected_version, user, action)
            if expected_version is None and target is not None:
                raise self._conflict(scenario, None, user, action)
            if target is None:  # version 1, or the version after a delete: a new scenario
                self._require(user, action, scenario, "create")
            if expected_version is not None and target is not None and target != expected_version:
                since = [v for v in self._versions(scenario) if v.version > expected_version]
                if any(v.action == "delete" for v in since):  # deleted and brought back meanwhile
                    raise self._conflict(scenario, expected_version, user, action)
                clash = self._clash(scenario, delta, expected_version, target)
                if clash:
                    raise self._conflict(scenario, expected_version, user, action, rows=clash)
            stored, dependants = self._stored(scenario, target, delta)
            self._check(delta, stored, dependants, user, comment, scenario, expected_version, action)
            if latest is not None and not delta:  # nothing to write
                return latest
            try:
                return self._commit(
                    scenario,
                    delta,
                    user,
                    comment,
                    expected_version,
                    action=action,
                    restored_from=restored_from,
                    latest=newest,
                )
            except Race:
                continue  # someone saved in between: apply onto theirs, or find the clash
        raise self._conflict(scenario, expected_version, user, action)

    def restore(
        self,
        scenario: str,
        version: int,
        *,
        user: User,
        comment: str = "",
        expected_version: int | None = None,
    ) -> Version:
        """Save an earlier version's content as a NEW version (the history keeps everything).

        ``expected_version`` defaults to the scenario's latest version. Restoring a version of a
        deleted scenario brings the scenario back (city planner only). Restoring content equal to
        the latest version writes nothing and returns the latest version.
        """
        old, _ = self.load(scenario, version)
        if expected_version is None:
            latest = self._live_latest(scenario)
            expected_version = latest.version if latest is not None else None
        note = comment or f"恢复到 v{version} / restored v{version}"
        delta = self._prepare(old, user, scenario, expected_version, "restore")
        return self.save_change(
            delta,
            user=user,
            comment=note,
            scenario=scenario,
            expected_version=expected_version,
            action="restore",
            restored_from=version,
        )

    def copy(self, source: str, target: str, *, user: User, comment: str = "") -> Version:
        """Copy a scenario's latest version into a new scenario ``target`` (city planner only)."""
        self._require(user, "copy", target)
        target = normalise_scenario_name(target)
        register, v = self.load(source)
        if self.exists(target):
            exc = PlannerError(f"场景 {target} 已存在 / scenario {target!r} already exists")
            self._record(user, "copy", target, None, "invalid", str(exc))
            raise exc
        note = comment or f"复制自 {source} v{v.version} / copied from {source} v{v.version}"
        return self.save_change(
            whole_delta(conform(register)),
            user=user,
            comment=note,
            scenario=target,
            expected_version=None,
            action="copy",
        )

    # ---- the other targets' actual values ----------------------------------------------------
    def indicators(self) -> pd.DataFrame:
        """Every recorded value of the plan's other targets, oldest first (who and when included)."""
        return self.backend.read_indicators()

    def record_indicators(self, rows: pd.DataFrame, *, user: User, comment: str = "") -> int:
        """Append recorded values (columns ``INDICATOR_COLUMNS``; city planners only). Every row is
        checked first: one bad row refuses them all (ValidationError naming each row and field),
        so nothing is stored then. Accepted and refused attempts are recorded in the audit log.
        Returns the number of rows stored."""
        try:
            require(user, "indicators", "indicators")
        except AccessDenied as exc:
            self._deny(user, "indicators", "indicators", None, exc)
            raise
        problems = validate_indicators(rows, self.plan, place=comment or "indicators")
        if problems:
            invalid = ValidationError(problems, what="indicators")
            self._record(user, "indicators", "indicators", None, "invalid", str(invalid))
            raise invalid
        frame = conform_indicators(rows.reindex(columns=INDICATOR_COLUMNS)).assign(
            recorded_by=user.name, recorded_at=now_utc()
        )
        self.backend.append_indicators(frame)
        keys = ", ".join(sorted(set(frame["indicator"])))
        self._record(
            user, "indicators", "indicators", None, "ok", f"{comment} | {len(frame)} rows: {keys}".strip(" |")
        )
        return len(frame)

    def delete(self, scenario: str, *, user: User, confirm: str) -> None:
        """Delete a scenario (city planner only; ``confirm`` must repeat its name; ``main`` cannot be
        deleted). A tombstone version is written: every earlier version stays viewable (留痕)."""
        self._require(user, "delete", scenario)
        refusal = None
        if scenario == MAIN:
            refusal = PlannerError(f"主场景 {MAIN} 不能删除 / the {MAIN!r} scenario cannot be deleted")
        elif confirm != scenario:
            refusal = PlannerError(
                f"请输入场景名 {scenario} 以确认删除 / to delete, confirm by repeating its name {scenario!r}"
            )
        if refusal is not None:
            self._record(user, "delete", scenario, None, "invalid", str(refusal))
            raise refusal
        latest = self.version(scenario)
        try:
            self._commit(scenario, None, user, f"删除 deleted {scenario}", latest.version, action="delete")
        except Race:
            raise self._conflict(scenario, latest.version, user, "delete") from None
