"""The team store: PostGIS through SQLAlchemy 2, GeoAlchemy2 and geopandas.

Tables (in the connection's schema, ``public`` unless the URL sets ``search_path``): ``parks``
(geometry(Geometry, 4326), GiST index), ``allocations``, ``quotas``, every row tagged by
``scenario`` and ``version``; ``versions`` (primary key scenario + version) and ``audit``. A save is
one transaction: a per-scenario advisory lock, the version check, the rows by COPY, then the
``versions`` row; a client killed before COMMIT leaves nothing behind (PostgreSQL rolls back).
"""

from __future__ import annotations

import io
from typing import Any

import geopandas as gpd
import pandas as pd
import psycopg2
import shapely
import sqlalchemy as sa
from geoalchemy2 import Geometry
from sqlalchemy.engine import make_url

from planner.core.geo import WGS84
from planner.core.indicators import STORED_INDICATOR_COLUMNS, conform_indicators
from planner.core.register import Register, conform_allocations, conform_parks, conform_quotas
from planner.errors import InputError, NotFound
from planner.store.base import (
    COLUMNS,
    INDICATOR_TABLE_COLUMNS,
    Race,
    Version,
    audit_row,
    guard_backend,
    pause_for_crash_test,
)

_SA_TYPES: dict[str, Any] = {
    "text": sa.Text,
    "real": sa.Float(precision=53),
    "int": sa.Integer,
    "bool": sa.Boolean,
}
_VERSION_NAMES = [
    "scenario", "version", "author", "role", "created_at", "comment", "restored_from", "action",
    "changes", "n_parks", "n_allocations",
]  # fmt: skip
AUDIT_COLUMNS = ["time", "user", "role", "action", "scenario", "version", "outcome", "detail"]


def _cols(names: list[str]) -> str:
    """A quoted column list."""
    return ", ".join('"' + c.replace('"', '""') + '"' for c in names)


def _metadata() -> sa.MetaData:
    md = sa.MetaData()
    for table in ("parks", "allocations", "quotas"):
        cols: list[Any] = [
            sa.Column("fid", sa.BigInteger, sa.Identity(), primary_key=True),
            sa.Column("scenario", sa.Text, nullable=False),
            sa.Column("version", sa.Integer, nullable=False),
        ]
        cols += [sa.Column(c, _SA_TYPES[k]) for c, k in COLUMNS[table]]
        if table == "parks":
            cols.append(sa.Column("geom", Geometry("GEOMETRY", srid=4326, spatial_index=True)))
        sa.Table(table, md, *cols, sa.Index(f"{table}_scenario_version", "scenario", "version"))
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
                has_postgis = con.execute(
                    sa.text("SELECT count(*) FROM pg_extension WHERE extname = 'postgis'")
                ).scalar()
                if not has_postgis:
                    con.execute(sa.text("CREATE EXTENSION IF NOT EXISTS postgis"))
                self.md.create_all(con, checkfirst=True)
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

    # ---- reading -------------------------------------------------------------------------
    def is_empty(self) -> bool:
        with self.engine.connect() as con:
            return not con.execute(sa.text("SELECT exists (SELECT 1 FROM versions)")).scalar()

    def versions(self, scenario: str | None = None) -> list[Version]:
        sql = f"SELECT {', '.join(_VERSION_NAMES)} FROM versions"
        with self.engine.connect() as con:
            if scenario is None:
                rows = con.execute(sa.text(sql + " ORDER BY scenario, version")).all()
            else:
                rows = con.execute(
                    sa.text(sql + " WHERE scenario = :s ORDER BY version"), {"s": scenario}
                ).all()
        return [Version(**dict(zip(_VERSION_NAMES, r, strict=True))) for r in rows]

    def read(self, scenario: str, version: int) -> Register:
        p = {"s": scenario, "v": version}
        where = " WHERE scenario = :s AND version = :v ORDER BY fid"
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
            names = [c for c, _ in COLUMNS["parks"]]
            parks = gpd.read_postgis(
                sa.text(f"SELECT {_cols(names)}, geom FROM parks{where}"),
                con,
                geom_col="geom",
                crs=WGS84,
                params=p,
            )
            frames = {
                t: pd.read_sql(
                    sa.text(f"SELECT {', '.join(c for c, _ in COLUMNS[t])} FROM {t}{where}"), con, params=p
                )
                for t in ("allocations", "quotas")
            }
        parks = parks.rename_geometry("geometry")
        if parks.crs is None:
            parks = parks.set_crs(WGS84)
        return Register(
            conform_parks(parks), conform_allocations(frames["allocations"]), conform_quotas(frames["quotas"])
        )

    def audit_log(self, limit: int | None = None) -> pd.DataFrame:
        sql = f"SELECT {_cols(AUDIT_COLUMNS)} FROM audit ORDER BY id DESC"
        with self.engine.connect() as con:
            frame = pd.read_sql(sa.text(sql + (f" LIMIT {int(limit)}" if limit else "")), con)
        frame["version"] = frame["version"].astype("Int64")
        return frame

    # ---- writing -------------------------------------------------------------------------
    @staticmethod
    def _copy(cursor, table: str, frame: pd.DataFrame, scenario: str, version: int) -> None:
        """COPY the frame's stored columns (and geometry as EWKB) into ``table``."""
        names = [c for c, _ in COLUMNS[table]]
        out = pd.DataFrame({"scenario": scenario, "version": version}, index=frame.index)
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
            f"COPY {table} ({_cols(['scenario', 'version', *names])}) FROM STDIN WITH (FORMAT csv)", buf
        )

    def write(self, version: Version, register: Register | None, expected_latest: int | None) -> None:
        v = version
        with self.engine.begin() as con:
            con.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext(:s))"), {"s": v.scenario})
            latest = con.execute(
                sa.text("SELECT max(version) FROM versions WHERE scenario = :s"), {"s": v.scenario}
            ).scalar()
            if latest != expected_latest or v.version != (latest or 0) + 1:
                raise Race(v.scenario)
            if register is not None:
                dbapi = con.connection.dbapi_connection
                assert dbapi is not None  # an open connection inside the transaction
                cursor = dbapi.cursor()
                try:
                    self._copy(cursor, "parks", register.parks, v.scenario, v.version)
                    self._copy(cursor, "allocations", register.allocations, v.scenario, v.version)
                    self._copy(cursor, "quotas", register.quotas, v.scenario, v.version)
                finally:
                    cursor.close()
            pause_for_crash_test()
            try:  # the commit marker, last
                con.execute(self.md.tables["versions"].insert(), {c: getattr(v, c) for c in _VERSION_NAMES})
            except sa.exc.IntegrityError:
                raise Race(v.scenario) from None

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
