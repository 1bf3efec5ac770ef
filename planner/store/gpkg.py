"""The embedded store: one GeoPackage file (SQLite), written with the standard library's sqlite3.

The file is a conformant GeoPackage (application id ``GPKG``, ``gpkg_spatial_ref_sys``,
``gpkg_contents``, ``gpkg_geometry_columns``; geometries as GeoPackage binary, WGS84), so QGIS
and ``pyogrio.read_dataframe`` open it: layer ``parks`` holds every version's parks, tagged by
``scenario`` and ``version``, and the view ``parks_latest`` each scenario's latest version; ``allocations``, ``quotas``, ``versions`` and ``audit`` are attribute
tables. A save is one SQLite transaction (``BEGIN IMMEDIATE``, so concurrent writers queue) that
writes the rows and then the ``versions`` row; a process killed before COMMIT leaves a journal that
SQLite rolls back on the next open, and rows without a version row are never read anyway.
"""

from __future__ import annotations

import sqlite3
import struct
from contextlib import contextmanager
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS

from planner.core.geo import WGS84
from planner.core.indicators import STORED_INDICATOR_COLUMNS, conform_indicators
from planner.core.register import Register, conform_allocations, conform_parks, conform_quotas
from planner.errors import InputError, PlannerError
from planner.store.base import (
    COLUMNS,
    FAILED_SIGN_INS_WHERE,
    INDICATOR_TABLE_COLUMNS,
    Race,
    Version,
    audit_row,
    guard_backend,
    pause_for_crash_test,
)

SRS_ID = 4326
_SQL_TYPES = {"text": "TEXT", "real": "DOUBLE", "int": "INTEGER", "bool": "BOOLEAN"}
_HEADER = b"GP\x00\x01" + struct.pack("<i", SRS_ID)  # version 0, little-endian, no envelope
_HEADER_EMPTY = b"GP\x00\x11" + struct.pack("<i", SRS_ID)  # ... and the empty-geometry flag
_ENVELOPE = {0: 0, 1: 32, 2: 48, 3: 48, 4: 64}
_VERSION_COLUMNS = [
    ("scenario", "TEXT NOT NULL"),
    ("version", "INTEGER NOT NULL"),
    ("author", "TEXT NOT NULL"),
    ("role", "TEXT NOT NULL"),
    ("created_at", "TEXT NOT NULL"),
    ("comment", "TEXT NOT NULL"),
    ("restored_from", "INTEGER"),
    ("action", "TEXT NOT NULL"),
    ("changes", "TEXT NOT NULL"),
    ("n_parks", "INTEGER NOT NULL"),
    ("n_allocations", "INTEGER NOT NULL"),
]
AUDIT_COLUMNS = ["time", "user", "role", "action", "scenario", "version", "outcome", "detail"]

_GPKG_DDL = """
CREATE TABLE gpkg_spatial_ref_sys (
  srs_name TEXT NOT NULL, srs_id INTEGER NOT NULL PRIMARY KEY, organization TEXT NOT NULL,
  organization_coordsys_id INTEGER NOT NULL, definition TEXT NOT NULL, description TEXT);
CREATE TABLE gpkg_contents (
  table_name TEXT NOT NULL PRIMARY KEY, data_type TEXT NOT NULL, identifier TEXT UNIQUE,
  description TEXT DEFAULT '',
  last_change DATETIME NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
  min_x DOUBLE, min_y DOUBLE, max_x DOUBLE, max_y DOUBLE, srs_id INTEGER,
  CONSTRAINT fk_gc_r_srs_id FOREIGN KEY (srs_id) REFERENCES gpkg_spatial_ref_sys(srs_id));
CREATE TABLE gpkg_geometry_columns (
  table_name TEXT NOT NULL, column_name TEXT NOT NULL, geometry_type_name TEXT NOT NULL,
  srs_id INTEGER NOT NULL, z TINYINT NOT NULL, m TINYINT NOT NULL,
  CONSTRAINT pk_geom_cols PRIMARY KEY (table_name, column_name),
  CONSTRAINT uk_gc_table_name UNIQUE (table_name),
  CONSTRAINT fk_gc_tn FOREIGN KEY (table_name) REFERENCES gpkg_contents(table_name),
  CONSTRAINT fk_gc_srs FOREIGN KEY (srs_id) REFERENCES gpkg_spatial_ref_sys (srs_id));
"""

# The latest version of every scenario that is not deleted (a tombstone has no rows): for QGIS.
LATEST_VIEW = "parks_latest"
_LATEST_SQL = f"""
CREATE VIEW {LATEST_VIEW} AS SELECT p.* FROM parks p JOIN (
  SELECT scenario, max(version) AS version FROM versions GROUP BY scenario
) l ON p.scenario = l.scenario AND p.version = l.version
"""

_DESCRIPTIONS = {
    "parks": "园区 (每个场景的每个版本) / parks of every scenario version",
    "allocations": "分配 / allocations of every scenario version",
    "quotas": "区配额 / district quotas of every scenario version",
    "versions": "版本 (作者, 时间, 说明) / versions: author, time, comment",
    "audit": "审计日志 / audit log of every write attempt",
    LATEST_VIEW: "各场景最新版本的园区 / parks of each scenario's latest version",
}


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def to_gpkg_blobs(geoms: np.ndarray) -> list[bytes | None]:
    """GeoPackage binary geometries (header + little-endian ISO WKB) for an array of shapely geometries."""
    missing = shapely.is_missing(geoms)
    empty = np.zeros(len(geoms), dtype=bool)
    empty[~missing] = shapely.is_empty(geoms[~missing])
    wkb = shapely.to_wkb(geoms, byte_order=1, flavor="iso")
    return [
        None if m else (_HEADER_EMPTY if e else _HEADER) + w
        for w, m, e in zip(wkb.tolist(), missing.tolist(), empty.tolist(), strict=True)
    ]


def from_gpkg_blobs(blobs: list[bytes | None]) -> np.ndarray:
    """Shapely geometries from GeoPackage binary geometries (any envelope; None stays None)."""
    wkb = [None if b is None else b[8 + _ENVELOPE[(b[3] >> 1) & 7] :] for b in blobs]
    return shapely.from_wkb(np.array(wkb, dtype=object))


def _refuse(path: Path, zh: str, en: str) -> InputError:
    return InputError(
        f"{path}: {zh}; 未作任何改动, 请用 --db 或 PLANNER_DB 另选 / {en}; nothing was changed: choose "
        "another store with --db or PLANNER_DB"
    )


@guard_backend((sqlite3.Error, pd.errors.DatabaseError))
class GeoPackageBackend:
    """Scenario versions in a GeoPackage file.

    Only a path that does not exist yet (its folder must), an empty file, or a file that already
    holds the planner's ``store_meta`` table is used; anything else (a folder, a text file, another
    program's GeoPackage such as ``python -m planner export --format gpkg`` writes) is refused
    untouched with :class:`InputError`.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.location = str(self.path)
        self._check_location()
        try:
            with self._tx(create=True) as con:
                tables = {
                    r[0]
                    for r in con.execute("SELECT name FROM sqlite_master WHERE type IN ('table', 'view')")
                }
                if tables and "store_meta" not in tables:
                    raise _refuse(
                        self.path,
                        "不是规划库 (已有其他数据表)",
                        f"is not a planner store (it holds other tables: {', '.join(sorted(tables)[:5])})",
                    )
                if "versions" not in tables:
                    self._create(con)
                if "store_meta" not in tables:
                    con.execute(
                        "CREATE TABLE store_meta (key TEXT NOT NULL PRIMARY KEY, value TEXT NOT NULL)"
                    )
                    con.execute(
                        "INSERT INTO gpkg_contents (table_name, data_type, identifier, description) "
                        "VALUES ('store_meta', 'attributes', 'store_meta', '规划库信息 / store settings (plan id)')"
                    )
        except sqlite3.DatabaseError as exc:
            raise _refuse(
                self.path, "无法作为 SQLite/GeoPackage 打开", f"cannot be opened as a planner store ({exc})"
            ) from None

    def _check_location(self) -> None:
        """Refuse a folder, a missing parent folder, or a non-empty file that is not SQLite."""
        path = self.path
        if path.is_dir():
            raise _refuse(path, "是文件夹, 不是 GeoPackage 文件", "is a folder, not a GeoPackage file")
        if not path.exists():
            if not path.parent.is_dir():
                raise _refuse(path, "所在文件夹不存在", f"its folder {path.parent} does not exist")
            return
        try:
            with path.open("rb") as f:
                head = f.read(16)
        except OSError as exc:
            raise _refuse(path, "无法读取", f"cannot be read ({exc.strerror})") from None
        if head and head != b"SQLite format 3\x00":
            raise _refuse(
                path,
                "不是 SQLite/GeoPackage 文件, 不是规划库",
                "is not a planner store (not a SQLite/GeoPackage file)",
            )

    @contextmanager
    def _connect(self, create: bool = False):
        """A connection; only the first open may create the file (a store file deleted or moved
        meanwhile is an error, not a new empty store)."""
        uri = self.path.resolve().as_uri() + ("?mode=rwc" if create else "?mode=rw")
        con = sqlite3.connect(uri, uri=True, timeout=60, isolation_level=None)
        try:
            con.execute("PRAGMA foreign_keys = ON")
            yield con
        finally:
            con.close()

    @contextmanager
    def _tx(self, create: bool = False):
        """One write transaction; rolled back on any exception."""
        with self._connect(create) as con:
            con.execute("BEGIN IMMEDIATE")
            try:
                yield con
            except BaseException:
                con.execute("ROLLBACK")
                raise
            con.execute("COMMIT")

    def _create(self, con: sqlite3.Connection) -> None:
        tables = con.execute("SELECT count(*) FROM sqlite_master WHERE type='table'").fetchone()[0]
        con.execute("PRAGMA application_id = 1196444487")  # 'GPKG'
        con.execute("PRAGMA user_version = 10200")  # GeoPackage 1.2
        if not tables:
            for stmt in _GPKG_DDL.split(";"):
                if stmt.strip():
                    con.execute(stmt)
            con.executemany(
                "INSERT INTO gpkg_spatial_ref_sys VALUES (?,?,?,?,?,?)",
                [
                    ("Undefined cartesian SRS", -1, "NONE", -1, "undefined", "undefined cartesian"),
                    ("Undefined geographic SRS", 0, "NONE", 0, "undefined", "undefined geographic"),
                    ("WGS 84 geodetic", SRS_ID, "EPSG", SRS_ID, CRS(WGS84).to_wkt("WKT1_GDAL"), "WGS 84"),
                ],
            )
        for table in ("parks", "allocations", "quotas"):
            cols = ", ".join(f"{_q(c)} {_SQL_TYPES[k]}" for c, k in COLUMNS[table])
            geom = "geom GEOMETRY, " if table == "parks" else ""
            con.execute(
                f"CREATE TABLE {table} (fid INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL, {geom}"
                f"scenario TEXT NOT NULL, version INTEGER NOT NULL, {cols})"
            )
            con.execute(f"CREATE INDEX {table}_scenario_version ON {table} (scenario, version)")
        vcols = ", ".join(f"{_q(c)} {t}" for c, t in _VERSION_COLUMNS)
        con.execute(
            f"CREATE TABLE versions (fid INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL, {vcols}, "
            "UNIQUE (scenario, version))"
        )
        acols = ", ".join(f"{_q(c)} {'INTEGER' if c == 'version' else 'TEXT'}" for c in AUDIT_COLUMNS)
        con.execute(f"CREATE TABLE audit (fid INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL, {acols})")
        con.execute(_LATEST_SQL)
        for table, description in _DESCRIPTIONS.items():
            kind = "features" if table in ("parks", LATEST_VIEW) else "attributes"
            con.execute(
                "INSERT INTO gpkg_contents (table_name, data_type, identifier, description, srs_id) "
                "VALUES (?,?,?,?,?)",
                (table, kind, table, description, SRS_ID if kind == "features" else None),
            )
        con.executemany(
            "INSERT INTO gpkg_geometry_columns VALUES (?, 'geom', 'GEOMETRY', ?, 0, 0)",
            [("parks", SRS_ID), (LATEST_VIEW, SRS_ID)],
        )

    # ---- reading -------------------------------------------------------------------------
    def is_empty(self) -> bool:
        with self._connect() as con:
            return con.execute("SELECT count(*) FROM versions").fetchone()[0] == 0

    def versions(self, scenario: str | None = None) -> list[Version]:
        names = [c for c, _ in _VERSION_COLUMNS]
        sql = f"SELECT {', '.join(map(_q, names))} FROM versions"
        with self._connect() as con:
            if scenario is None:
                rows = con.execute(sql + " ORDER BY scenario, version").fetchall()
            else:
                rows = con.execute(sql + " WHERE scenario = ? ORDER BY version", (scenario,)).fetchall()
        return [Version(**dict(zip(names, r, strict=True))) for r in rows]

    def _frame(self, con: sqlite3.Connection, table: str, scenario: str, version: int) -> pd.DataFrame:
        names = [c for c, _ in COLUMNS[table]] + (["geom"] if table == "parks" else [])
        return pd.read_sql_query(
            f"SELECT {', '.join(map(_q, names))} FROM {table} WHERE scenario = ? AND version = ? ORDER BY fid",
            con,
            params=(scenario, version),
        )

    def read(self, scenario: str, version: int) -> Register:
        with self._connect() as con:
            con.execute("BEGIN")  # one snapshot of the three tables
            hit = con.execute(
                "SELECT count(*) FROM versions WHERE scenario = ? AND version = ? AND action != 'delete'",
                (scenario, version),
            ).fetchone()[0]
            if not hit:
                raise PlannerError(f"没有版本 v{version} / no version {version} of scenario {scenario!r}")
            parks = self._frame(con, "parks", scenario, version)
            allocations = self._frame(con, "allocations", scenario, version)
            quotas = self._frame(con, "quotas", scenario, version)
            con.execute("COMMIT")
        geoms = from_gpkg_blobs(parks.pop("geom").tolist())
        parks["figures_verified"] = parks["figures_verified"].astype("boolean").fillna(False).astype(bool)
        gdf = gpd.GeoDataFrame(parks, geometry=gpd.GeoSeries(geoms, crs=WGS84), crs=WGS84)
        return Register(conform_parks(gdf), conform_allocations(allocations), conform_quotas(quotas))

    def audit_log(self, limit: int | None = None) -> pd.DataFrame:
        sql = f"SELECT {', '.join(map(_q, AUDIT_COLUMNS))} FROM audit ORDER BY fid DESC"
        with self._connect() as con:
            frame = pd.read_sql_query(sql + (f" LIMIT {int(limit)}" if limit else ""), con)
        frame["version"] = frame["version"].astype("Int64")
        return frame

    def failed_sign_ins(self, user: str, since: str) -> list[str]:
        sql = 'SELECT "time" FROM audit WHERE ' + FAILED_SIGN_INS_WHERE.format(user="?", since="?")
        with self._connect() as con:
            return [row[0] for row in con.execute(sql, (user, since)).fetchall()]

    # ---- writing -------------------------------------------------------------------------
    @staticmethod
    def _rows(frame: pd.DataFrame, table: str, scenario: str, version: int) -> list[list]:
        cols: list[list] = [[scenario] * len(frame), [version] * len(frame)]
        for c, kind in COLUMNS[table]:
            s = frame[c]
            if kind == "bool":
                cols.append(s.astype(bool).astype(int).tolist())
            else:
                cols.append(s.astype(object).where(s.notna(), None).tolist())
        return cols

    def _insert(self, con: sqlite3.Connection, table: str, cols: list[list], names: list[str]) -> None:
        marks = ", ".join("?" * len(names))
        con.executemany(
            f"INSERT INTO {table} ({', '.join(map(_q, names))}) VALUES ({marks})", zip(*cols, strict=True)
        )

    def write(self, version: Version, register: Register | None, expected_latest: int | None) -> None:
        v = version
        with self._tx() as con:
            latest = con.execute(
                "SELECT max(version) FROM versions WHERE scenario = ?", (v.scenario,)
            ).fetchone()[0]
            if latest != expected_latest or v.version != (latest or 0) + 1:
                raise Race(v.scenario)
            if register is not None:
                for table, frame in (
                    ("parks", register.parks),
                    ("allocations", register.allocations),
                    ("quotas", register.quotas),
                ):
                    names = ["scenario", "version", *(c for c, _ in COLUMNS[table])]
                    cols = self._rows(frame, table, v.scenario, v.version)
                    if table == "parks":
                        names.append("geom")
                        cols.append(to_gpkg_blobs(np.asarray(frame.geometry.values, dtype=object)))
                    self._insert(con, table, cols, names)
                if len(register.parks):
                    self._extend_bounds(con, register.parks)
            pause_for_crash_test()
            names = [c for c, _ in _VERSION_COLUMNS]
            try:  # the commit marker, last
                con.execute(
                    f"INSERT INTO versions ({', '.join(map(_q, names))}) VALUES ({', '.join('?' * len(names))})",
                    [getattr(v, c) for c in names],
                )
            except sqlite3.IntegrityError:
                raise Race(v.scenario) from None
            con.execute(
                "UPDATE gpkg_contents SET last_change = strftime('%Y-%m-%dT%H:%M:%fZ','now') "
                "WHERE table_name IN ('parks', 'allocations', 'quotas', 'versions')"
            )

    @staticmethod
    def _extend_bounds(con: sqlite3.Connection, parks: gpd.GeoDataFrame) -> None:
        x0, y0, x1, y1 = parks.total_bounds
        if np.isnan(x0):
            return
        con.execute(
            "UPDATE gpkg_contents SET min_x = min(coalesce(min_x, ?1), ?1), min_y = min(coalesce(min_y, ?2), ?2), "
            "max_x = max(coalesce(max_x, ?3), ?3), max_y = max(coalesce(max_y, ?4), ?4) WHERE table_name = 'parks'",
            (float(x0), float(y0), float(x1), float(y1)),
        )

    def audit(self, row: dict) -> None:
        row = audit_row(row)
        with self._tx() as con:
            con.execute(
                f"INSERT INTO audit ({', '.join(map(_q, AUDIT_COLUMNS))}) VALUES ({', '.join('?' * len(AUDIT_COLUMNS))})",
                [row[c] for c in AUDIT_COLUMNS],
            )

    def get_meta(self, key: str) -> str | None:
        with self._connect() as con:
            row = con.execute("SELECT value FROM store_meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else row[0]

    def set_meta(self, key: str, value: str) -> None:
        with self._tx() as con:
            con.execute("INSERT OR REPLACE INTO store_meta VALUES (?, ?)", (key, value))

    # ---- the other targets' actual values (append-only; the table is made on first use) ----
    @staticmethod
    def _indicator_table(con: sqlite3.Connection) -> None:
        if con.execute("SELECT count(*) FROM sqlite_master WHERE name = 'indicators'").fetchone()[0]:
            return
        cols = ", ".join(f"{_q(c)} {_SQL_TYPES[k]}" for c, k in INDICATOR_TABLE_COLUMNS)
        con.execute(f"CREATE TABLE indicators (fid INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL, {cols})")
        con.execute(
            "INSERT INTO gpkg_contents (table_name, data_type, identifier, description) VALUES "
            "('indicators', 'attributes', 'indicators', '其他目标的实际值 / recorded values of the other targets')"
        )

    def read_indicators(self) -> pd.DataFrame:
        with self._connect() as con:
            if not con.execute("SELECT count(*) FROM sqlite_master WHERE name = 'indicators'").fetchone()[0]:
                return conform_indicators(pd.DataFrame(columns=STORED_INDICATOR_COLUMNS))
            frame = pd.read_sql_query(
                f"SELECT {', '.join(map(_q, STORED_INDICATOR_COLUMNS))} FROM indicators ORDER BY fid", con
            )
        return conform_indicators(frame)

    def append_indicators(self, rows: pd.DataFrame) -> None:
        values = conform_indicators(rows).astype(object).where(lambda f: f.notna(), None)
        with self._tx() as con:
            self._indicator_table(con)
            con.executemany(
                f"INSERT INTO indicators ({', '.join(map(_q, STORED_INDICATOR_COLUMNS))}) "
                f"VALUES ({', '.join('?' * len(STORED_INDICATOR_COLUMNS))})",
                values[STORED_INDICATOR_COLUMNS].values.tolist(),
            )

    def close(self) -> None:
        """Nothing to release: every call opens and closes its own connection."""
