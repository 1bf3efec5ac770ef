"""The embedded store: one GeoPackage file (SQLite), written with the standard library's sqlite3.

The file is a conformant GeoPackage (application id ``GPKG``, ``gpkg_spatial_ref_sys``,
``gpkg_contents``, ``gpkg_geometry_columns``; geometries as GeoPackage binary, WGS84), so QGIS
and ``pyogrio.read_dataframe`` open it: layer ``parks`` holds the row history of every scenario's
parks (a row is valid for versions ``v_from <= v < v_to``, ``v_to`` NULL: current), and the view
``parks_latest`` each scenario's current parks; ``allocations``, ``quotas`` (row histories too),
``versions``, ``audit`` and ``store_meta`` (the schema version) are attribute tables. A save is one
SQLite transaction (``BEGIN IMMEDIATE``, so concurrent writers queue) that closes the changed and
removed rows, inserts the added and changed ones and then writes the ``versions`` row; a process
killed before COMMIT leaves a journal that SQLite rolls back on the next open.
"""

from __future__ import annotations

import sqlite3
import struct
from contextlib import contextmanager, suppress
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely
from pyproj import CRS

from planner.core.assign import KEPT_COLUMNS
from planner.core.changes import KEYS, Delta
from planner.core.geo import WGS84
from planner.core.indicators import STORED_INDICATOR_COLUMNS, conform_indicators
from planner.core.register import Register, conform_allocations, conform_parks, conform_quotas
from planner.errors import InputError, NotFound
from planner.store.base import (
    COLUMNS,
    INDICATOR_TABLE_COLUMNS,
    POS_STEP,
    ROW_TABLES,
    SCHEMA_VERSION,
    Race,
    Version,
    audit_row,
    check_columns,
    guard_backend,
    history_columns,
    history_frame,
    pause_for_crash_test,
    refuse_schema,
    replay,
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
    ("base_version", "INTEGER"),
]
_CHUNK = 500  # keys per IN (...) list
# An SQLite R*Tree of every parks row's envelope (WGS84, by fid): the store's spatial index, so the
# rows near an import are found without reading the register (not a GeoPackage rtree extension:
# only this program writes the rows, and it keeps the index with them).
BOUNDS = "parks_bounds"
AUDIT_COLUMNS = ["time", "user", "role", "action", "scenario", "version", "outcome", "detail"]
# Each parks row's geometry in the plan's metric CRS and its district assignment, by fid, kept when
# the row is written (planner.core.assign.kept_rows): a cache, never the record. A row without one
# (written by an older release) is simply computed when read.
KEPT = "parks_kept"
_KEPT_SQL = {"geo_share": "DOUBLE", "distance_m": "DOUBLE", "n_districts": "INTEGER NOT NULL"}  # else TEXT
KEPT_TYPES = {"metric": "BLOB", **{c: _KEPT_SQL.get(c, "TEXT") for c in KEPT_COLUMNS}}  # kept_rows' columns
# SQLite stores any value in any column and GDAL casts what does not fit (a text in a DOUBLE reads
# as 0): a kept row with a value of the wrong type reads as nothing kept (n_districts missing).
_KEPT_TYPED = {
    "n_districts": "CASE WHEN typeof(k.n_districts) = 'integer' AND typeof(k.metric) IN ('blob', 'null') "
    "AND typeof(k.geo_share) IN ('real', 'integer', 'null') AND typeof(k.distance_m) IN ('real', 'integer', "
    "'null') AND typeof(k.geo_district_code) IN ('text', 'null') AND typeof(k.nearest_district_code) "
    "IN ('text', 'null') THEN k.n_districts END"
}

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
CREATE VIEW {LATEST_VIEW} AS SELECT p.*, l.version AS version FROM parks p JOIN versions l
  ON l.scenario = p.scenario AND l.version = (SELECT max(version) FROM versions WHERE scenario = p.scenario)
  WHERE p.v_to IS NULL
"""
_HISTORY = ["scenario", "v_from", "v_to", "pos"]  # the row-history columns of every table of rows

_DESCRIPTIONS = {
    "parks": "园区 (各场景的行历史, v_from <= 版本 < v_to) / parks: row history of every scenario",
    "allocations": "分配 (行历史) / allocations: row history of every scenario",
    "quotas": "区配额 (行历史) / district quotas: row history of every scenario",
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


def _in_stored_order(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows read with their places (``_pos``, ``_fid``: :meth:`GeoPackageBackend._version_sql`) in the
    stored order, ``ORDER BY pos, fid``, without those two columns; taken anew only when they came
    in another order."""
    pos, fid = frame.pop("_pos").to_numpy(), frame.pop("_fid").to_numpy()
    order = np.lexsort((fid, pos))
    if (order == np.arange(len(order))).all():
        return frame
    return frame.take(order).reset_index(drop=True)


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
        self.legacy = False
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
                new = "versions" not in tables
                if new:
                    self._create(con)
                if "store_meta" not in tables:
                    con.execute(
                        "CREATE TABLE store_meta (key TEXT NOT NULL PRIMARY KEY, value TEXT NOT NULL)"
                    )
                    con.execute(
                        "INSERT INTO gpkg_contents (table_name, data_type, identifier, description) "
                        "VALUES ('store_meta', 'attributes', 'store_meta', '规划库信息 / store settings (plan id)')"
                    )
                if new:
                    con.execute("INSERT INTO store_meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
                self.legacy = self._check_schema(con)
                if not self.legacy and BOUNDS not in tables and not new:
                    self._create_bounds(con)
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
                con.execute("COMMIT")
            except BaseException:
                # SQLite may have rolled back already (a full disk does): a second ROLLBACK would
                # raise "no transaction is active" and hide the cause. Closing the connection
                # rolls back whatever is left, so a failing ROLLBACK changes nothing either.
                if con.in_transaction:
                    with suppress(sqlite3.Error):
                        con.execute("ROLLBACK")
                raise

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
        self._create_row_tables(con)
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

    @staticmethod
    def _create_row_tables(con: sqlite3.Connection) -> None:
        """The row histories of parks, allocations and quotas, indexed for reading a version
        (scenario, v_from / v_to) and one key's history (scenario, key)."""
        for table in ROW_TABLES:
            cols = ", ".join(f"{_q(c)} {_SQL_TYPES[k]}" for c, k in COLUMNS[table])
            geom = "geom GEOMETRY, " if table == "parks" else ""
            con.execute(
                f"CREATE TABLE {table} (fid INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL, {geom}"
                f"scenario TEXT NOT NULL, v_from INTEGER NOT NULL, v_to INTEGER, pos INTEGER NOT NULL, {cols})"
            )
            con.execute(f"CREATE INDEX {table}_from ON {table} (scenario, v_from)")
            con.execute(f"CREATE INDEX {table}_to ON {table} (scenario, v_to)")
            con.execute(f"CREATE INDEX {table}_key ON {table} (scenario, {_q(KEYS[table])})")
        GeoPackageBackend._create_bounds(con)

    @staticmethod
    def _create_bounds(con: sqlite3.Connection) -> None:
        """The parks rows' envelopes as an R*Tree, filled from the rows already stored (a store
        written before the index had none: made once, on open)."""
        con.execute(f"DROP TABLE IF EXISTS {BOUNDS}")
        con.execute(f"CREATE VIRTUAL TABLE {BOUNDS} USING rtree(id, minx, maxx, miny, maxy)")
        rows = con.execute("SELECT fid, geom FROM parks").fetchall()
        if rows:
            fids, blobs = zip(*rows, strict=True)
            GeoPackageBackend._index_bounds(con, np.asarray(fids), from_gpkg_blobs(list(blobs)))

    @staticmethod
    def _index_bounds(con: sqlite3.Connection, fids: np.ndarray, geoms: np.ndarray) -> None:
        """Put the envelopes of ``geoms`` (rows ``fids``) in the R*Tree; no shape, no entry."""
        b = shapely.bounds(geoms)
        ok = ~np.isnan(b).any(axis=1)
        con.executemany(
            f"INSERT INTO {BOUNDS} VALUES (?, ?, ?, ?, ?)",
            zip(
                fids[ok].tolist(),
                b[ok, 0].tolist(),
                b[ok, 2].tolist(),
                b[ok, 1].tolist(),
                b[ok, 3].tolist(),
                strict=True,
            ),
        )

    @staticmethod
    def _columns(con: sqlite3.Connection, table: str) -> list[str]:
        return [r[1] for r in con.execute(f"PRAGMA table_info({_q(table)})").fetchall()]

    def _check_schema(self, con: sqlite3.Connection) -> bool:
        """Refuse a store of a newer or unknown schema, or whose tables' columns are not its
        schema's; True when it is of schema 1 (snapshots: to upgrade)."""
        row = con.execute("SELECT value FROM store_meta WHERE key = 'schema_version'").fetchone()
        found = None if row is None else row[0]
        if found not in (None, str(SCHEMA_VERSION)):
            raise refuse_schema(self.location, found)
        legacy = found is None
        for table in ROW_TABLES:
            names = [c for c, _ in COLUMNS[table]]
            geom = ["geom"] if table == "parks" else []
            history = ["scenario", "version"] if legacy else _HISTORY
            check_columns(self.location, table, self._columns(con, table), ["fid", *geom, *history, *names])
        vnames = [c for c, _ in _VERSION_COLUMNS]
        check_columns(
            self.location,
            "versions",
            self._columns(con, "versions"),
            ["fid", *(vnames[:-1] if legacy else vnames)],
        )
        check_columns(self.location, "audit", self._columns(con, "audit"), ["fid", *AUDIT_COLUMNS])
        return legacy

    # ---- reading -------------------------------------------------------------------------
    def is_empty(self) -> bool:
        with self._connect() as con:
            return con.execute("SELECT count(*) FROM versions").fetchone()[0] == 0

    def versions(self, scenario: str | None = None) -> list[Version]:
        with self._connect() as con:
            return self._versions(con, scenario)

    def _versions(self, con: sqlite3.Connection, scenario: str | None) -> list[Version]:
        names = [c for c, _ in _VERSION_COLUMNS]
        if self.legacy:  # schema 1 had no base_version
            names = names[:-1]
        sql = f"SELECT {', '.join(map(_q, names))} FROM versions"
        if scenario is None:
            rows = con.execute(sql + " ORDER BY scenario, version").fetchall()
        else:
            rows = con.execute(sql + " WHERE scenario = ? ORDER BY version", (scenario,)).fetchall()
        return [Version(**dict(zip(names, r, strict=True))) for r in rows]

    def _frame(self, con: sqlite3.Connection, table: str, scenario: str, version: int) -> pd.DataFrame:
        """One version's rows of ``table``: one query over the row history."""
        names = [c for c, _ in COLUMNS[table]] + (["geom"] if table == "parks" else [])
        return pd.read_sql_query(
            f"SELECT {', '.join(map(_q, names))} FROM {table} WHERE scenario = ?1 AND v_from <= ?2 "
            "AND (v_to IS NULL OR v_to > ?2) ORDER BY pos, fid",
            con,
            params=(scenario, version),
        )

    @staticmethod
    def _parks(parks: pd.DataFrame) -> gpd.GeoDataFrame:
        geoms = from_gpkg_blobs(parks.pop("geom").tolist())
        parks["figures_verified"] = parks["figures_verified"].astype("boolean").fillna(False).astype(bool)
        return conform_parks(gpd.GeoDataFrame(parks, geometry=gpd.GeoSeries(geoms, crs=WGS84), crs=WGS84))

    def _register(self, parks: pd.DataFrame, allocations: pd.DataFrame, quotas: pd.DataFrame) -> Register:
        return Register(self._parks(parks), conform_allocations(allocations), conform_quotas(quotas))

    def read_keys(
        self, scenario: str, version: int, table: str, column: str, values: list[str]
    ) -> pd.DataFrame:
        """The rows of ``table`` at ``version`` whose ``column`` is one of ``values`` (conformed;
        parks as a GeoDataFrame)."""
        names = [c for c, _ in COLUMNS[table]] + (["geom"] if table == "parks" else [])
        assert column in names
        values = sorted(set(map(str, values)))
        with self._connect() as con:
            frames = [
                pd.read_sql_query(
                    f"SELECT {', '.join(map(_q, names))} FROM {table} WHERE scenario = ? AND v_from <= ? "
                    f"AND (v_to IS NULL OR v_to > ?) AND {_q(column)} IN ({', '.join('?' * len(chunk))})",
                    con,
                    params=(scenario, version, version, *chunk),
                )
                for chunk in (values[i : i + _CHUNK] for i in range(0, len(values), _CHUNK))
            ] or [pd.DataFrame(columns=names)]
        frame = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
        if table == "parks":
            return self._parks(frame)
        return conform_allocations(frame) if table == "allocations" else conform_quotas(frame)

    def read_near(self, scenario: str, version: int, boxes: np.ndarray) -> gpd.GeoDataFrame:
        """The parks at ``version`` whose envelope meets one of ``boxes`` (rows of WGS84 minx, miny,
        maxx, maxy): one query through the R*Tree, reading only those rows (conformed)."""
        names = [c for c, _ in COLUMNS["parks"]] + ["geom"]
        with self._connect() as con:
            con.execute("CREATE TEMP TABLE near_boxes (minx REAL, miny REAL, maxx REAL, maxy REAL)")
            con.executemany("INSERT INTO near_boxes VALUES (?, ?, ?, ?)", np.asarray(boxes, float).tolist())
            frame = pd.read_sql_query(
                f"SELECT {', '.join(map(_q, names))} FROM parks WHERE fid IN (SELECT r.id FROM near_boxes q "
                f"JOIN {BOUNDS} r ON r.minx <= q.maxx AND r.maxx >= q.minx AND r.miny <= q.maxy "
                "AND r.maxy >= q.miny) AND scenario = ? AND v_from <= ? AND (v_to IS NULL OR v_to > ?) "
                "ORDER BY pos, fid",
                con,
                params=(scenario, version, version),
            )
        return self._parks(frame)

    def touched_since(self, scenario: str, since: int, upto: int) -> dict[str, pd.DataFrame]:
        """Per table, the keys that versions ``since < v <= upto`` added, changed or removed, with
        the version that touched them (columns ``key``, ``version``): one query per table."""
        out = {}
        with self._connect() as con:
            for table in ROW_TABLES:
                rows = con.execute(
                    f"SELECT {_q(KEYS[table])}, CASE WHEN v_from > ?1 AND v_from <= ?2 THEN v_from ELSE v_to END "
                    f"FROM {table} WHERE scenario = ?3 AND ((v_from > ?1 AND v_from <= ?2) "
                    "OR (v_to > ?1 AND v_to <= ?2))",
                    (since, upto, scenario),
                ).fetchall()
                out[table] = pd.DataFrame(rows, columns=["key", "version"])
        return out

    def park_history(self, scenario: str, park_id: str) -> pd.DataFrame:
        """Every stored state of one park (``v_from``, ``v_to`` and its columns), oldest first: one query."""
        names = [c for c, _ in COLUMNS["parks"]]
        with self._connect() as con:
            frame = pd.read_sql_query(
                f"SELECT v_from, v_to, {', '.join(map(_q, names))}, geom FROM parks "
                "WHERE scenario = ? AND id = ? ORDER BY v_from",
                con,
                params=(scenario, park_id),
            )
        geoms = from_gpkg_blobs(frame.pop("geom").tolist())
        frame["v_to"] = frame["v_to"].astype("Int64")
        return gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(geoms, crs=WGS84), crs=WGS84)

    def row_history(self, scenario: str, table: str, columns: list[str]) -> pd.DataFrame:
        """Every stored row of ``table`` in the scenario: its key, ``columns``, ``v_from`` and ``v_to``
        (missing: current), ordered by ``v_from``: one query (what the monitor reads of the history)."""
        names = history_columns(table, columns)
        literal = "'" + scenario.replace("'", "''") + "'"
        frame = pyogrio.read_dataframe(  # by GDAL through Arrow: a quarter of the time of sqlite3 rows
            str(self.path),
            sql=f"SELECT {', '.join(map(_q, names))}, v_from, v_to FROM {table} WHERE scenario = {literal} "
            "ORDER BY v_from",
            use_arrow=True,
        )
        if len(frame) and list(frame.columns) == [*names, "v_from", "v_to"]:
            frame["v_from"] = frame["v_from"].astype(np.int64)
            frame["v_to"] = frame["v_to"].astype("Int64")  # missing: current
            return frame
        with self._connect() as con:
            rows = con.execute(
                f"SELECT {', '.join(map(_q, names))}, v_from, v_to FROM {table} WHERE scenario = ? "
                "ORDER BY v_from",
                (scenario,),
            ).fetchall()
        return history_frame(rows, names)

    def read(self, scenario: str, version: int) -> Register:
        with self._connect() as con:
            con.execute("BEGIN")  # one snapshot of the three tables
            hit = con.execute(
                "SELECT count(*) FROM versions WHERE scenario = ? AND version = ? AND action != 'delete'",
                (scenario, version),
            ).fetchone()[0]
            if not hit:
                raise NotFound(f"没有版本 v{version} / no version {version} of scenario {scenario!r}")
            allocations = self._allocations_by_gdal(scenario, version)
            if allocations is None:
                allocations = self._frame(con, "allocations", scenario, version)
            quotas = self._frame(con, "quotas", scenario, version)
            parks = self._parks_by_gdal(scenario, version)
            if parks is None:
                parks = self._parks(self._frame(con, "parks", scenario, version))
            con.execute("COMMIT")
        return Register(parks, conform_allocations(allocations), conform_quotas(quotas))

    def _version_sql(self, table: str, scenario: str, version: int) -> str:
        """:meth:`_frame`'s query with its values written in (GDAL takes no parameters), and the
        rows' places (``_pos``, ``_fid``) instead of its ``ORDER BY``: :func:`_in_stored_order`
        puts them in order (SQLite would sort the whole rows, geometry included: a third of the
        read of 100,000 parks, for rows that mostly come in that order)."""
        names = [c for c, _ in COLUMNS[table]] + (["geom"] if table == "parks" else [])
        literal = "'" + scenario.replace("'", "''") + "'"
        return (
            f"SELECT pos AS _pos, fid + 0 AS _fid, {', '.join(map(_q, names))} FROM {table} "
            f"WHERE scenario = {literal} "
            f"AND v_from <= {int(version)} AND (v_to IS NULL OR v_to > {int(version)})"
        )

    def _allocations_by_gdal(self, scenario: str, version: int) -> pd.DataFrame | None:
        """One version's allocations read by GDAL through Arrow, as :meth:`_parks_by_gdal` (a
        quarter of the time of ``read_sql_query`` at 100,000 rows; the same columns and types); None
        when the version has none (the caller reads them the plain way)."""
        frame = pyogrio.read_dataframe(
            str(self.path), sql=self._version_sql("allocations", scenario, version), use_arrow=True
        )
        names = [c for c, _ in COLUMNS["allocations"]]
        if not len(frame) or list(frame.columns) != ["_pos", "_fid", *names]:
            return None
        return _in_stored_order(frame)

    def _parks_by_gdal(self, scenario: str, version: int) -> gpd.GeoDataFrame | None:
        """One version's parks read by GDAL through Arrow (``pyogrio``; a third of the time of
        sqlite3 rows made into a frame at 100,000 parks), the same query as :meth:`_frame`; None when
        the version has no parks (the caller reads them the plain way). A version's rows never
        change once saved (a later save only closes them after it), so this read needs no shared
        snapshot with the other tables."""
        frame = pyogrio.read_dataframe(
            str(self.path), sql=self._version_sql("parks", scenario, version), use_arrow=True
        )
        if not len(frame) or not isinstance(frame, gpd.GeoDataFrame):
            return None
        frame = _in_stored_order(frame)
        frame["figures_verified"] = frame["figures_verified"].astype("boolean").fillna(False).astype(bool)
        return conform_parks(frame.set_crs(WGS84, allow_override=True))

    def audit_log(self, limit: int | None = None) -> pd.DataFrame:
        sql = f"SELECT {', '.join(map(_q, AUDIT_COLUMNS))} FROM audit ORDER BY fid DESC"
        with self._connect() as con:
            frame = pd.read_sql_query(sql + (f" LIMIT {int(limit)}" if limit else ""), con)
        frame["version"] = frame["version"].astype("Int64")
        return frame

    # ---- writing -------------------------------------------------------------------------
    @staticmethod
    def _rows(frame: pd.DataFrame, table: str) -> list[list]:
        cols: list[list] = []
        for c, kind in COLUMNS[table]:
            s = frame[c]
            if kind == "bool":
                cols.append(s.astype(bool).astype(int).tolist())
            else:
                cols.append(s.astype(object).where(s.notna(), None).tolist())
        return cols

    @staticmethod
    def _in_chunks(con: sqlite3.Connection, sql: str, params: tuple, keys: list[str]) -> list:
        """Run ``sql`` (ending in ``IN ({})``) for every chunk of ``keys``; the rows of all."""
        out: list = []
        for i in range(0, len(keys), _CHUNK):
            chunk = keys[i : i + _CHUNK]
            out += con.execute(sql.format(", ".join("?" * len(chunk))), (*params, *chunk)).fetchall()
        return out

    def _apply(self, con: sqlite3.Connection, scenario: str, number: int, delta: Delta | None) -> None:
        """Version ``number``'s rows: close the removed and changed rows (``v_to``), insert the
        added and changed ones (``v_from``), a changed row keeping its place; no delta (a delete):
        close every current row."""
        if delta is None:
            for table in ROW_TABLES:
                con.execute(
                    f"UPDATE {table} SET v_to = ? WHERE scenario = ? AND v_to IS NULL", (number, scenario)
                )
            return
        for table in ROW_TABLES:
            frame = getattr(delta.rows, table)
            key = KEYS[table]
            ch = getattr(delta.changes, table)
            gone = [*ch.removed, *ch.changed]
            where = f"scenario = ? AND v_to IS NULL AND {_q(key)} IN ({{}})"
            places = dict(
                self._in_chunks(
                    con, f"SELECT {_q(key)}, pos FROM {table} WHERE {where}", (scenario,), ch.changed
                )
            )
            self._in_chunks(con, f"UPDATE {table} SET v_to = ? WHERE {where}", (number, scenario), gone)
            if not len(frame):
                continue
            keys = frame[key].astype(str).tolist()
            top = number * POS_STEP  # an added row goes after every row of the earlier versions
            new = iter(range(top, top + len(keys)))
            pos = [places[k] if k in places else next(new) for k in keys]
            names = ["scenario", "v_from", "pos", *(c for c, _ in COLUMNS[table])]
            cols = [[scenario] * len(frame), [number] * len(frame), pos, *self._rows(frame, table)]
            if table == "parks":  # fids given, so the spatial index can name the new rows
                geoms = np.asarray(frame.geometry.values, dtype=object)
                top_fid = con.execute(
                    "SELECT max(coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'parks'), 0), "
                    "coalesce((SELECT max(fid) FROM parks), 0))"
                ).fetchone()[0]
                fids = np.arange(top_fid + 1, top_fid + 1 + len(frame))
                names += ["geom", "fid"]
                cols += [to_gpkg_blobs(geoms), fids.tolist()]
            con.executemany(
                f"INSERT INTO {table} ({', '.join(map(_q, names))}) VALUES ({', '.join('?' * len(names))})",
                zip(*cols, strict=True),
            )
            if table == "parks":
                self._index_bounds(con, fids, geoms)
                self._extend_bounds(con, frame)

    def _version_row(self, con: sqlite3.Connection, v: Version) -> None:
        names = [c for c, _ in _VERSION_COLUMNS]
        con.execute(
            f"INSERT INTO versions ({', '.join(map(_q, names))}) VALUES ({', '.join('?' * len(names))})",
            [getattr(v, c) for c in names],
        )

    def write(self, version: Version, delta: Delta | None, expected_latest: int | None) -> None:
        v = version
        with self._tx() as con:
            latest = con.execute(
                "SELECT max(version) FROM versions WHERE scenario = ?", (v.scenario,)
            ).fetchone()[0]
            if latest != expected_latest or v.version != (latest or 0) + 1:
                raise Race(v.scenario)
            self._apply(con, v.scenario, v.version, delta)
            pause_for_crash_test()
            try:  # the version row, last
                self._version_row(con, v)
            except sqlite3.IntegrityError:
                raise Race(v.scenario) from None
            con.execute(
                "UPDATE gpkg_contents SET last_change = strftime('%Y-%m-%dT%H:%M:%fZ','now') "
                "WHERE table_name IN ('parks', 'allocations', 'quotas', 'versions')"
            )

    def upgrade(self) -> list[tuple[Version, Register]]:
        """Schema 1 (a snapshot a version) to the row history, keeping every version, in one
        transaction (a failure leaves the store as it was). Returns every version read."""
        with self._tx() as con:
            if self._check_schema(con) is False:
                return []
            versions = self._versions(con, None)
            con.execute(f"DROP VIEW {LATEST_VIEW}")
            for table in ROW_TABLES:
                for index in con.execute(
                    "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL",
                    (table,),
                ).fetchall():
                    con.execute(f"DROP INDEX {_q(index[0])}")
                con.execute(f"ALTER TABLE {table} RENAME TO {table}_v1")
            self._create_row_tables(con)
            con.execute("ALTER TABLE versions ADD COLUMN base_version INTEGER")
            con.execute("UPDATE versions SET base_version = version - 1 WHERE version > 1")

            def legacy(scenario: str, number: int) -> Register:
                frames = [self._legacy_frame(con, t, scenario, number) for t in ROW_TABLES]
                return self._register(*frames)

            seen = replay(versions, legacy, lambda v, d: self._apply(con, v.scenario, v.version, d))
            for table in ROW_TABLES:
                con.execute(f"DROP TABLE {table}_v1")
            con.execute(_LATEST_SQL)
            con.execute(
                "INSERT OR REPLACE INTO store_meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),)
            )
        self.legacy = False
        return seen

    @staticmethod
    def _legacy_frame(con: sqlite3.Connection, table: str, scenario: str, version: int) -> pd.DataFrame:
        names = [c for c, _ in COLUMNS[table]] + (["geom"] if table == "parks" else [])
        return pd.read_sql_query(
            f"SELECT {', '.join(map(_q, names))} FROM {table}_v1 WHERE scenario = ? AND version = ? ORDER BY fid",
            con,
            params=(scenario, version),
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

    # ---- what is kept of each parks row (metric geometry, district assignment): a cache ----
    @staticmethod
    def _kept_table(con: sqlite3.Connection) -> None:
        cols = ", ".join(f"{_q(c)} {t}" for c, t in KEPT_TYPES.items())
        con.execute(f"CREATE TABLE IF NOT EXISTS {KEPT} (fid INTEGER PRIMARY KEY NOT NULL, {cols})")

    def clear_kept(self) -> None:
        """Forget every kept row (they were made under another key). A parks row whose geometry is
        changed or which is deleted by another program (QGIS edits the file in place) loses its
        kept row by a trigger, so it is computed when read, never taken stale."""
        with self._tx() as con:
            self._kept_table(con)
            con.execute(f"DELETE FROM {KEPT}")
            for event in ("UPDATE OF geom", "DELETE"):
                name = f"{KEPT}_{event.split()[0].lower()}"
                con.execute(
                    f"CREATE TRIGGER IF NOT EXISTS {name} AFTER {event} ON parks "
                    f"BEGIN DELETE FROM {KEPT} WHERE fid = OLD.fid; END"
                )

    def unkept_parks(self) -> tuple[np.ndarray, np.ndarray]:
        """The fids and geometries of the parks rows (every version) that have nothing kept."""
        with self._tx() as con:
            self._kept_table(con)
            rows = con.execute(
                f"SELECT p.fid, p.geom FROM parks p LEFT JOIN {KEPT} k ON k.fid = p.fid WHERE k.fid IS NULL"
            ).fetchall()
        if not rows:
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=object)
        fids, blobs = zip(*rows, strict=True)
        return np.asarray(fids, dtype=np.int64), from_gpkg_blobs(list(blobs))

    def put_kept(
        self, kept: pd.DataFrame, fids: np.ndarray | None = None, *, scenario: str = "", version: int = 0
    ) -> None:
        """Keep ``kept`` (:func:`planner.core.assign.kept_rows`' columns) for the parks rows ``fids``,
        or, without fids, for the rows version ``version`` of ``scenario`` wrote (``kept`` then has
        their ``id``)."""
        names = list(KEPT_TYPES)
        values = [kept[c].astype(object).where(kept[c].notna(), None).tolist() for c in names]
        with self._tx() as con:
            self._kept_table(con)
            if fids is not None:
                con.executemany(
                    f"INSERT OR REPLACE INTO {KEPT} (fid, {', '.join(names)}) VALUES ({', '.join('?' * (len(names) + 1))})",
                    zip(np.asarray(fids).tolist(), *values, strict=True),
                )
                return
            con.execute(
                f"CREATE TEMP TABLE kept_in (id TEXT, {', '.join(f'{_q(c)} {t}' for c, t in KEPT_TYPES.items())})"
            )
            con.executemany(
                f"INSERT INTO kept_in VALUES ({', '.join('?' * (len(names) + 1))})",
                zip(kept["id"].astype(str).tolist(), *values, strict=True),
            )
            # without it SQLite scans kept_in for each row of the version: quadratic (a whole
            # register of 100,000 parks took over 15 minutes to save)
            con.execute("CREATE INDEX temp.kept_in_id ON kept_in (id)")
            con.execute(
                f"INSERT OR REPLACE INTO {KEPT} (fid, {', '.join(names)}) SELECT p.fid, "
                f"{', '.join('k.' + c for c in names)} FROM kept_in k JOIN parks p "
                "ON p.scenario = ? AND p.id = k.id AND p.v_from = ?",
                (scenario, int(version)),
            )
            con.execute("DROP TABLE kept_in")

    def read_kept(self, scenario: str, version: int) -> pd.DataFrame | None:
        """What is kept of each park of a version, in :meth:`read`'s order (the same rows: a version's
        rows never change once saved), with the row's ``id``; a row with nothing kept has
        ``n_districts`` missing. None when the store keeps nothing."""
        with self._connect() as con:
            if not con.execute("SELECT count(*) FROM sqlite_master WHERE name = ?", (KEPT,)).fetchone()[0]:
                return None
        literal = "'" + scenario.replace("'", "''") + "'"
        frame = pyogrio.read_dataframe(  # sorted by _in_stored_order, not by SQLite (whole rows)
            str(self.path),
            sql=f"SELECT p.pos AS _pos, p.fid + 0 AS _fid, p.id AS id, "
            f"{', '.join(_KEPT_TYPED.get(c, 'k.' + c) + ' AS ' + c for c in KEPT_TYPES)} FROM parks p "
            f"LEFT JOIN {KEPT} k ON k.fid = p.fid WHERE p.scenario = {literal} AND p.v_from <= {int(version)} "
            f"AND (p.v_to IS NULL OR p.v_to > {int(version)})",
            use_arrow=True,
        )
        return (
            _in_stored_order(frame) if len(frame) else frame.drop(columns=["_pos", "_fid"], errors="ignore")
        )

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
