"""The team store: PostGIS through SQLAlchemy 2, GeoAlchemy2 and geopandas.

Tables (in the connection's schema, ``public`` unless the URL sets ``search_path``): ``parks``
(geometry(Geometry, 4326), GiST index), ``allocations``, ``quotas``: row histories, a row valid for
the versions ``v_from <= v < v_to`` of its ``scenario`` (``v_to`` NULL: current); ``versions``
(primary key scenario + version), ``audit`` and ``store_meta`` (the schema version). A save is one
transaction: a per-scenario advisory lock, the version check, the changed and removed rows closed,
the added and changed rows by COPY, then the ``versions`` row; a client killed before COMMIT leaves
nothing behind (PostgreSQL rolls back).
"""

from __future__ import annotations

import io
from typing import Any, ClassVar

import geopandas as gpd
import numpy as np
import pandas as pd
import psycopg2
import shapely
import sqlalchemy as sa
from geoalchemy2 import Geometry
from sqlalchemy.engine import make_url

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

_SA_TYPES: dict[str, Any] = {
    "text": sa.Text,
    "real": sa.Float(precision=53),
    "int": sa.Integer,
    "bool": sa.Boolean,
}
_VERSION_NAMES = [
    "scenario", "version", "author", "role", "created_at", "comment", "restored_from", "action",
    "changes", "n_parks", "n_allocations", "base_version",
]  # fmt: skip
_HISTORY = ["scenario", "v_from", "v_to", "pos"]
AUDIT_COLUMNS = ["time", "user", "role", "action", "scenario", "version", "outcome", "detail"]


def _cols(names: list[str]) -> str:
    """A quoted column list."""
    return ", ".join('"' + c.replace('"', '""') + '"' for c in names)


def _row_tables(md: sa.MetaData, suffix: str = "") -> None:
    """The row histories of parks, allocations and quotas (``suffix``: under another name, for the
    upgrade), indexed for reading a version and one key's history."""
    for table in ROW_TABLES:
        name = table + suffix
        cols: list[Any] = [
            sa.Column("fid", sa.BigInteger, sa.Identity(), primary_key=True),
            sa.Column("scenario", sa.Text, nullable=False),
            sa.Column("v_from", sa.Integer, nullable=False),
            sa.Column("v_to", sa.Integer),
            sa.Column("pos", sa.BigInteger, nullable=False),
        ]
        cols += [sa.Column(c, _SA_TYPES[k]) for c, k in COLUMNS[table]]
        if table == "parks":
            cols.append(sa.Column("geom", Geometry("GEOMETRY", srid=4326, spatial_index=True)))
        sa.Table(
            name,
            md,
            *cols,
            sa.Index(f"{name}_from", "scenario", "v_from"),
            sa.Index(f"{name}_to", "scenario", "v_to"),
            sa.Index(f"{name}_key", "scenario", KEYS[table]),
        )


def _metadata() -> sa.MetaData:
    md = sa.MetaData()
    _row_tables(md)
    sa.Table(
        "versions",
        md,
        sa.Column("scenario", sa.Text, primary_key=True),
        sa.Column("version", sa.Integer, primary_key=True),
        sa.Column("author", sa.Text, nullable=False),
        sa.Column("role", sa.Text, nullable=False),
        sa.Column("created_at", sa.Text, nullable=False),
        sa.Column("comment", sa.Text, nullable=False),
        sa.Column("restored_from", sa.Integer),
        sa.Column("action", sa.Text, nullable=False),
        sa.Column("changes", sa.Text, nullable=False),
        sa.Column("n_parks", sa.Integer, nullable=False),
        sa.Column("n_allocations", sa.Integer, nullable=False),
        sa.Column("base_version", sa.Integer),
    )
    sa.Table(
        "store_meta",
        md,
        sa.Column("key", sa.Text, primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )
    sa.Table(
        "audit",
        md,
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        *(sa.Column(c, sa.Integer if c == "version" else sa.Text) for c in AUDIT_COLUMNS),
    )
    sa.Table(
        "indicators",
        md,
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        *(sa.Column(c, _SA_TYPES[k]) for c, k in INDICATOR_TABLE_COLUMNS),
    )
    return md


TABLES = ("parks", "allocations", "quotas", "versions", "store_meta", "audit", "indicators")


@guard_backend((sa.exc.SQLAlchemyError, psycopg2.Error, pd.errors.DatabaseError))
class PostgisBackend:
    """Scenario versions in a PostGIS database.

    A schema that holds any of the store's table names without the planner's ``store_meta``
    (another application's ``parks``) is refused with :class:`InputError`, and nothing is created.
    """

    def __init__(self, url: str) -> None:
        try:
            parsed = make_url(url)
        except sa.exc.ArgumentError:
            raise InputError("数据库地址格式错误 / malformed postgresql:// URL (--db / PLANNER_DB)") from None
        if parsed.drivername in ("postgresql", "postgres"):
            parsed = parsed.set(drivername="postgresql+psycopg2")
        self.location = parsed.render_as_string(hide_password=True)
        self.engine = sa.create_engine(parsed, pool_pre_ping=True)
        self.md = _metadata()
        self.legacy = False
        try:
            with self.engine.begin() as con:
                con.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext('planner schema'))"))
                schema, present = self._our_tables(con)
                if present and "store_meta" not in present:
                    raise InputError(
                        f"{self.location} 的模式 {schema} 已有其他程序的数据表 {', '.join(present)}, 不是规划库; "
                        f"未作任何改动 / schema {schema!r} of {self.location} already holds table(s) "
                        f"{', '.join(present)} that are not a planner store's; nothing was changed: use "
                        "another database or schema (options=-csearch_path=...)"
                    )
                if present:  # an existing store: its schema first, before anything is created
                    found = con.execute(
                        sa.text("SELECT value FROM store_meta WHERE key = 'schema_version'")
                    ).scalar()
                    if found not in (None, str(SCHEMA_VERSION)):
                        raise refuse_schema(self.location, found)
                    self.legacy = found is None and "versions" in present
                has_postgis = con.execute(
                    sa.text("SELECT count(*) FROM pg_extension WHERE extname = 'postgis'")
                ).scalar()
                if not has_postgis:
                    con.execute(sa.text("CREATE EXTENSION IF NOT EXISTS postgis"))
                self.md.create_all(con, checkfirst=True)
                if not present:
                    con.execute(
                        sa.text("INSERT INTO store_meta (key, value) VALUES ('schema_version', :v)"),
                        {"v": str(SCHEMA_VERSION)},
                    )
                self._check_columns(con)
        except InputError:
            self.engine.dispose()
            raise
        except sa.exc.OperationalError as exc:
            self.engine.dispose()
            raise InputError(
                f"无法连接数据库 / cannot connect to {self.location}: {exc.orig}".strip()
            ) from None
        except sa.exc.ProgrammingError as exc:
            self.engine.dispose()
            raise InputError(
                f"数据库未启用 PostGIS, 且无权启用 / PostGIS is not enabled in {self.location} and "
                f"cannot be enabled by this user (ask the administrator: CREATE EXTENSION postgis): {exc.orig}"
            ) from None

    @staticmethod
    def _our_tables(con) -> tuple[str, list[str]]:
        """The connection's schema and which of the store's table names it already holds."""
        schema = con.execute(sa.text("SELECT current_schema()")).scalar()
        rows = con.execute(
            sa.text(
                "SELECT table_name FROM information_schema.tables "
                "WHERE table_schema = current_schema() AND table_name = ANY(:names) ORDER BY table_name"
            ),
            {"names": list(TABLES)},
        ).all()
        return str(schema), [r[0] for r in rows]

    def _check_columns(self, con) -> None:
        """Refuse a store whose tables' columns are not the ones its schema names."""
        rows = con.execute(
            sa.text(
                "SELECT table_name, column_name FROM information_schema.columns "
                "WHERE table_schema = current_schema() AND table_name = ANY(:names)"
            ),
            {"names": [*ROW_TABLES, "versions", "audit"]},
        ).all()
        found: dict[str, list[str]] = {}
        for table, column in rows:
            found.setdefault(table, []).append(column)
        for table in ROW_TABLES:
            geom = ["geom"] if table == "parks" else []
            history = ["scenario", "version"] if self.legacy else _HISTORY
            names = [c for c, _ in COLUMNS[table]]
            check_columns(self.location, table, found.get(table, []), ["fid", *history, *names, *geom])
        vnames = _VERSION_NAMES[:-1] if self.legacy else _VERSION_NAMES
        check_columns(self.location, "versions", found.get("versions", []), vnames)
        check_columns(self.location, "audit", found.get("audit", []), ["id", *AUDIT_COLUMNS])

    # ---- reading -------------------------------------------------------------------------
    def is_empty(self) -> bool:
        with self.engine.connect() as con:
            return not con.execute(sa.text("SELECT exists (SELECT 1 FROM versions)")).scalar()

    def versions(self, scenario: str | None = None) -> list[Version]:
        with self.engine.connect() as con:
            return self._versions(con, scenario)

    def _versions(self, con, scenario: str | None) -> list[Version]:
        names = _VERSION_NAMES[:-1] if self.legacy else _VERSION_NAMES  # schema 1: no base_version
        sql = f"SELECT {', '.join(names)} FROM versions"
        if scenario is None:
            rows = con.execute(sa.text(sql + " ORDER BY scenario, version")).all()
        else:
            rows = con.execute(sa.text(sql + " WHERE scenario = :s ORDER BY version"), {"s": scenario}).all()
        return [Version(**dict(zip(names, r, strict=True))) for r in rows]

    _VALID = " WHERE scenario = :s AND v_from <= :v AND (v_to IS NULL OR v_to > :v)"

    def _parks(self, con, sql: str, p: dict) -> gpd.GeoDataFrame:
        parks = gpd.read_postgis(sa.text(sql), con, geom_col="geom", crs=WGS84, params=p)
        parks = parks.rename_geometry("geometry")
        return parks if parks.crs is not None else parks.set_crs(WGS84)

    def _read_tables(self, con, where: str, p: dict, suffix: str = "") -> Register:
        """The three tables' rows ``where`` (one query each), as a register."""
        names = [c for c, _ in COLUMNS["parks"]]
        parks = self._parks(con, f"SELECT {_cols(names)}, geom FROM parks{suffix}{where}", p)
        frames = {
            t: pd.read_sql(
                sa.text(f"SELECT {', '.join(c for c, _ in COLUMNS[t])} FROM {t}{suffix}{where}"),
                con,
                params=p,
            )
            for t in ("allocations", "quotas")
        }
        return Register(
            conform_parks(parks), conform_allocations(frames["allocations"]), conform_quotas(frames["quotas"])
        )

    def read(self, scenario: str, version: int) -> Register:
        p = {"s": scenario, "v": version}
        with self.engine.connect() as con:
            con.execute(sa.text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ"))  # one snapshot
            hit = con.execute(
                sa.text(
                    "SELECT count(*) FROM versions WHERE scenario = :s AND version = :v AND action != 'delete'"
                ),
                p,
            ).scalar()
            if not hit:
                raise NotFound(f"没有版本 v{version} / no version {version} of scenario {scenario!r}")
            return self._read_tables(con, self._VALID + " ORDER BY pos, fid", p)

    def read_keys(
        self, scenario: str, version: int, table: str, column: str, values: list[str]
    ) -> pd.DataFrame:
        """The rows of ``table`` at ``version`` whose ``column`` is one of ``values`` (conformed)."""
        names = [c for c, _ in COLUMNS[table]]
        assert column in names
        p = {"s": scenario, "v": version, "k": sorted(set(map(str, values)))}
        where = self._VALID + f" AND {_cols([column])} = ANY(:k) ORDER BY pos, fid"
        with self.engine.connect() as con:
            if table == "parks":
                return conform_parks(self._parks(con, f"SELECT {_cols(names)}, geom FROM parks{where}", p))
            frame = pd.read_sql(sa.text(f"SELECT {_cols(names)} FROM {table}{where}"), con, params=p)
        return conform_allocations(frame) if table == "allocations" else conform_quotas(frame)

    def read_near(self, scenario: str, version: int, boxes: np.ndarray) -> gpd.GeoDataFrame:
        """The parks at ``version`` whose envelope meets one of ``boxes`` (rows of WGS84 minx, miny,
        maxx, maxy): one query through the GiST index, reading only those rows (conformed)."""
        names = [c for c, _ in COLUMNS["parks"]]
        b = np.asarray(boxes, dtype=float).reshape(-1, 4)
        p = {
            "s": scenario,
            "v": version,
            **{k: b[:, i].tolist() for i, k in enumerate(("x0", "y0", "x1", "y1"))},
        }
        sql = (
            f"SELECT {_cols(names)}, geom FROM parks{self._VALID} AND fid IN (SELECT p.fid FROM "
            "unnest(CAST(:x0 AS float8[]), CAST(:y0 AS float8[]), CAST(:x1 AS float8[]), CAST(:y1 AS float8[])) "
            "AS q(x0, y0, x1, y1) JOIN parks p ON p.geom && ST_MakeEnvelope(q.x0, q.y0, q.x1, q.y1, 4326)) "
            "ORDER BY pos, fid"
        )
        with self.engine.connect() as con:
            return conform_parks(self._parks(con, sql, p))

    def touched_since(self, scenario: str, since: int, upto: int) -> dict[str, pd.DataFrame]:
        """Per table, the keys versions ``since < v <= upto`` added, changed or removed, with the
        version that touched them (columns ``key``, ``version``): one query per table."""
        p = {"s": scenario, "a": since, "b": upto}
        out = {}
        with self.engine.connect() as con:
            for table in ROW_TABLES:
                rows = con.execute(
                    sa.text(
                        f"SELECT {_cols([KEYS[table]])}, CASE WHEN v_from > :a AND v_from <= :b THEN v_from "
                        f"ELSE v_to END FROM {table} WHERE scenario = :s AND ((v_from > :a AND v_from <= :b) "
                        "OR (v_to > :a AND v_to <= :b))"
                    ),
                    p,
                ).all()
                out[table] = pd.DataFrame([tuple(r) for r in rows], columns=["key", "version"])
        return out

    def park_history(self, scenario: str, park_id: str) -> pd.DataFrame:
        """Every stored state of one park (``v_from``, ``v_to`` and its columns), oldest first: one query."""
        names = [c for c, _ in COLUMNS["parks"]]
        with self.engine.connect() as con:
            frame = self._parks(
                con,
                f"SELECT v_from, v_to, {_cols(names)}, geom FROM parks WHERE scenario = :s AND id = :i "
                "ORDER BY v_from",
                {"s": scenario, "i": park_id},
            )
        frame["v_to"] = frame["v_to"].astype("Int64")
        return frame

    def row_history(self, scenario: str, table: str, columns: list[str]) -> pd.DataFrame:
        """Every stored row of ``table`` in the scenario: its key, ``columns``, ``v_from`` and ``v_to``
        (missing: current), ordered by ``v_from``: one query (what the monitor reads of the history)."""
        names = history_columns(table, columns)
        with self.engine.connect() as con:
            rows = con.execute(
                sa.text(
                    f"SELECT {_cols(names)}, v_from, v_to FROM {table} WHERE scenario = :s "
                    "ORDER BY v_from, pos, fid"
                ),
                {"s": scenario},
            ).all()
        return history_frame(rows, names)

    def audit_log(self, limit: int | None = None) -> pd.DataFrame:
        sql = f"SELECT {_cols(AUDIT_COLUMNS)} FROM audit ORDER BY id DESC"
        with self.engine.connect() as con:
            frame = pd.read_sql(sa.text(sql + (f" LIMIT {int(limit)}" if limit else "")), con)
        frame["version"] = frame["version"].astype("Int64")
        return frame

    # ---- writing -------------------------------------------------------------------------
    @staticmethod
    def _copy(cursor, table: str, frame: pd.DataFrame, head: dict[str, Any], into: str | None = None) -> None:
        """COPY the frame's stored columns (and geometry as EWKB) into ``table`` (or ``into``), with
        the row-history columns ``head`` (scalars or per-row lists) before them."""
        names = [c for c, _ in COLUMNS[table]]
        out = pd.DataFrame(head, index=frame.index)
        for c, kind in COLUMNS[table]:
            out[c] = frame[c].astype(bool) if kind == "bool" else frame[c]
        if table == "parks":
            geoms = shapely.set_srid(frame.geometry.values.to_numpy(), 4326)
            out["geom"] = shapely.to_wkb(geoms, hex=True, include_srid=True)
            names.append("geom")
        buf = io.StringIO()
        out.to_csv(buf, header=False, index=False)
        buf.seek(0)
        cursor.copy_expert(
            f"COPY {into or table} ({_cols([*head, *names])}) FROM STDIN WITH (FORMAT csv)", buf
        )

    def _apply(self, con, scenario: str, number: int, delta: Delta | None, suffix: str = "") -> None:
        """Version ``number``'s rows: close the removed and changed rows (``v_to``), insert the
        added and changed ones (``v_from``), a changed row keeping its place; no delta (a delete):
        close every current row."""
        p: dict[str, Any] = {"s": scenario, "n": number}
        if delta is None:
            for table in ROW_TABLES:
                con.execute(
                    sa.text(f"UPDATE {table}{suffix} SET v_to = :n WHERE scenario = :s AND v_to IS NULL"), p
                )
            return
        dbapi = con.connection.dbapi_connection
        assert dbapi is not None  # an open connection inside the transaction
        for table in ROW_TABLES:
            frame = getattr(delta.rows, table)
            key = _cols([KEYS[table]])
            ch = getattr(delta.changes, table)
            where = f"scenario = :s AND v_to IS NULL AND {key} = ANY(:k)"
            places: dict[str, int] = {}
            if ch.changed:
                places = dict(
                    con.execute(
                        sa.text(f"SELECT {key}, pos FROM {table}{suffix} WHERE {where}"),
                        {**p, "k": ch.changed},
                    ).all()
                )
            if ch.removed or ch.changed:
                con.execute(
                    sa.text(f"UPDATE {table}{suffix} SET v_to = :n WHERE {where}"),
                    {**p, "k": [*ch.removed, *ch.changed]},
                )
            if not len(frame):
                continue
            keys = frame[KEYS[table]].astype(str).tolist()
            top = number * POS_STEP  # an added row goes after every row of the earlier versions
            new = iter(range(top, top + len(keys)))
            pos = [places[k] if k in places else next(new) for k in keys]
            cursor = dbapi.cursor()
            try:
                self._copy(
                    cursor, table, frame, {"scenario": scenario, "v_from": number, "pos": pos}, table + suffix
                )
            finally:
                cursor.close()

    def write(self, version: Version, delta: Delta | None, expected_latest: int | None) -> None:
        v = version
        with self.engine.begin() as con:
            con.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext(:s))"), {"s": v.scenario})
            latest = con.execute(
                sa.text("SELECT max(version) FROM versions WHERE scenario = :s"), {"s": v.scenario}
            ).scalar()
            if latest != expected_latest or v.version != (latest or 0) + 1:
                raise Race(v.scenario)
            self._apply(con, v.scenario, v.version, delta)
            pause_for_crash_test()
            try:  # the version row, last
                con.execute(self.md.tables["versions"].insert(), {c: getattr(v, c) for c in _VERSION_NAMES})
            except sa.exc.IntegrityError:
                raise Race(v.scenario) from None

    def upgrade(self) -> list[tuple[Version, Register]]:
        """Schema 1 (a snapshot a version) to the row history, keeping every version, in one
        transaction (a failure leaves the store as it was). Returns every version read."""
        if not self.legacy:
            return []
        with self.engine.begin() as con:
            con.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext('planner schema'))"))
            found = con.execute(sa.text("SELECT value FROM store_meta WHERE key = 'schema_version'")).scalar()
            if found is not None:  # another process upgraded it meanwhile
                self.legacy = False
                return []
            versions = self._versions(con, None)
            md = sa.MetaData()
            _row_tables(md, "_h")
            md.create_all(con)
            con.execute(sa.text("ALTER TABLE versions ADD COLUMN base_version integer"))
            con.execute(sa.text("UPDATE versions SET base_version = version - 1 WHERE version > 1"))

            def legacy(scenario: str, number: int) -> Register:
                where = " WHERE scenario = :s AND version = :v ORDER BY fid"
                return self._read_tables(con, where, {"s": scenario, "v": number})

            seen = replay(versions, legacy, lambda v, d: self._apply(con, v.scenario, v.version, d, "_h"))
            for table in ROW_TABLES:
                con.execute(sa.text(f"DROP TABLE {table}"))
                con.execute(sa.text(f"ALTER TABLE {table}_h RENAME TO {table}"))
            con.execute(
                sa.text(
                    "INSERT INTO store_meta (key, value) VALUES ('schema_version', :v) "
                    "ON CONFLICT (key) DO UPDATE SET value = excluded.value"
                ),
                {"v": str(SCHEMA_VERSION)},
            )
        self.legacy = False
        return seen

    def audit(self, row: dict) -> None:
        row = audit_row(row)
        with self.engine.begin() as con:
            con.execute(self.md.tables["audit"].insert(), row)

    def read_indicators(self) -> pd.DataFrame:
        sql = f"SELECT {_cols(STORED_INDICATOR_COLUMNS)} FROM indicators ORDER BY id"
        with self.engine.connect() as con:
            return conform_indicators(pd.read_sql(sa.text(sql), con))

    def append_indicators(self, rows: pd.DataFrame) -> None:
        values = conform_indicators(rows).astype(object).where(lambda f: f.notna(), None)
        with self.engine.begin() as con:
            con.execute(
                self.md.tables["indicators"].insert(), values[STORED_INDICATOR_COLUMNS].to_dict("records")
            )

    # ---- what is kept of each parks row (metric geometry, district assignment): a cache ----
    _KEPT_DDL = (
        "CREATE TABLE IF NOT EXISTS parks_kept (fid bigint PRIMARY KEY, metric bytea, geo_district_code text, "
        "geo_share double precision, n_districts bigint NOT NULL, distance_m double precision, "
        "nearest_district_code text)"
    )
    _KEPT_NAMES: ClassVar[list[str]] = ["metric", *KEPT_COLUMNS]  # planner.core.assign.kept_rows' columns

    def clear_kept(self) -> None:
        """Forget every kept row (they were made under another key). A parks row whose geometry is
        changed or which is deleted by another program loses its kept row by a trigger, so it is
        computed when read, never taken stale."""
        with self.engine.begin() as con:
            con.execute(
                sa.text("SELECT pg_advisory_xact_lock(hashtext('planner schema'))")
            )  # one opener at a time
            con.execute(sa.text(self._KEPT_DDL))
            con.execute(sa.text("DELETE FROM parks_kept"))
            con.execute(
                sa.text(
                    "CREATE OR REPLACE FUNCTION parks_kept_forget() RETURNS trigger LANGUAGE plpgsql AS "
                    "$$ BEGIN DELETE FROM parks_kept WHERE fid = OLD.fid; RETURN NULL; END $$"
                )
            )
            con.execute(sa.text("DROP TRIGGER IF EXISTS parks_kept_forget ON parks"))
            con.execute(
                sa.text(
                    "CREATE TRIGGER parks_kept_forget AFTER UPDATE OF geom OR DELETE ON parks "
                    "FOR EACH ROW EXECUTE FUNCTION parks_kept_forget()"
                )
            )

    def unkept_parks(self) -> tuple[np.ndarray, np.ndarray]:
        """The fids and geometries of the parks rows (every version) that have nothing kept."""
        with self.engine.begin() as con:
            con.execute(sa.text(self._KEPT_DDL))
            frame = pd.read_sql(
                sa.text(
                    "SELECT p.fid, encode(ST_AsBinary(p.geom), 'hex') AS wkb FROM parks p "
                    "LEFT JOIN parks_kept k ON k.fid = p.fid WHERE k.fid IS NULL"
                ),
                con,
            )
        wkb = frame["wkb"].to_numpy(dtype=object)
        return frame["fid"].to_numpy(dtype=np.int64), shapely.from_wkb(np.where(pd.isna(wkb), None, wkb))

    def put_kept(
        self, kept: pd.DataFrame, fids: np.ndarray | None = None, *, scenario: str = "", version: int = 0
    ) -> None:
        """Keep ``kept`` for the parks rows ``fids``, or for the rows version ``version`` of
        ``scenario`` wrote (by ``kept["id"]``): COPY into a temporary table, then one insert."""
        out = pd.DataFrame(
            {"key": np.asarray(fids) if fids is not None else kept["id"].astype(str).to_numpy()}
        )
        metric = kept["metric"].to_numpy(dtype=object)
        wkb = shapely.to_wkb(shapely.from_wkb(metric), hex=True)
        out["metric"] = ("\\x" + pd.Series(wkb, dtype="string")).to_numpy()  # bytea as hex; missing: NULL
        for c in self._KEPT_NAMES[1:]:
            out[c] = kept[c].to_numpy()
        buf = io.StringIO()
        out.to_csv(buf, header=False, index=False)
        buf.seek(0)
        names = ", ".join(self._KEPT_NAMES)
        join = (
            "JOIN parks p ON p.fid = t.key::bigint"
            if fids is not None
            else "JOIN parks p ON p.scenario = :s AND p.id = t.key AND p.v_from = :v"
        )
        with self.engine.begin() as con:
            con.execute(sa.text(self._KEPT_DDL))
            con.execute(
                sa.text(
                    "CREATE TEMP TABLE kept_in (key text, metric bytea, geo_district_code text, geo_share double "
                    "precision, n_districts bigint, distance_m double precision, nearest_district_code text) "
                    "ON COMMIT DROP"
                )
            )
            dbapi = con.connection.dbapi_connection
            assert dbapi is not None
            cursor = dbapi.cursor()
            try:
                cursor.copy_expert(f"COPY kept_in (key, {names}) FROM STDIN WITH (FORMAT csv)", buf)
            finally:
                cursor.close()
            con.execute(
                sa.text(
                    f"INSERT INTO parks_kept (fid, {names}) SELECT p.fid, "
                    f"{', '.join('t.' + c for c in self._KEPT_NAMES)} FROM kept_in t {join} "
                    f"ON CONFLICT (fid) DO UPDATE SET "
                    + ", ".join(f"{c} = excluded.{c}" for c in self._KEPT_NAMES)
                ),
                {"s": scenario, "v": int(version)},
            )

    def read_kept(self, scenario: str, version: int) -> pd.DataFrame | None:
        """What is kept of each park of a version, in :meth:`read`'s order, with the row's ``id``
        (``n_districts`` missing: nothing kept). None when the store keeps nothing."""
        with self.engine.connect() as con:
            if not con.execute(sa.text("SELECT to_regclass('parks_kept') IS NOT NULL")).scalar():
                return None
            return pd.read_sql(
                sa.text(
                    "SELECT p.id, encode(k.metric, 'hex') AS metric, "
                    + ", ".join(f"k.{c}" for c in self._KEPT_NAMES[1:])
                    + " FROM parks p LEFT JOIN parks_kept k ON k.fid = p.fid"
                    + " WHERE p.scenario = :s AND p.v_from <= :v AND (p.v_to IS NULL OR p.v_to > :v)"
                    + " ORDER BY p.pos, p.fid"
                ),
                con,
                params={"s": scenario, "v": version},
            )

    def get_meta(self, key: str) -> str | None:
        with self.engine.connect() as con:
            return con.execute(sa.text("SELECT value FROM store_meta WHERE key = :k"), {"k": key}).scalar()

    def set_meta(self, key: str, value: str) -> None:
        with self.engine.begin() as con:
            con.execute(
                sa.text(
                    "INSERT INTO store_meta (key, value) VALUES (:k, :v) "
                    "ON CONFLICT (key) DO UPDATE SET value = excluded.value"
                ),
                {"k": key, "v": value},
            )

    def close(self) -> None:
        self.engine.dispose()
