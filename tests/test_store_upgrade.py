"""Existing stores: the snapshot format (schema 1) upgrades to the row history keeping every
version; a store of a newer or unknown schema, or with other columns, is refused untouched.

``tests/data/store-schema1.gpkg`` was written by the previous release's writer (the code of
``main`` before schema 2, ``tests/data/store-schema1.py``): main v1 seed, v2 a park renamed, v3 a
park removed with its allocation, an allocation and a quota changed; scenario ``alt`` copied then
deleted; and one infinite figure in main v2 that the old release stored."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import shapely

from planner.cli.main import main
from planner.errors import InputError
from planner.store import open_store
from planner.store.base import SCHEMA_VERSION
from planner.store.gpkg import from_gpkg_blobs

FIXTURE = Path(__file__).parent / "data" / "store-schema1.gpkg"


def _legacy(path: Path) -> dict[tuple[str, int], dict[str, pd.DataFrame]]:
    """Every version's rows as the schema-1 file holds them, read with plain SQL."""
    out: dict[tuple[str, int], dict[str, pd.DataFrame]] = {}
    with sqlite3.connect(path) as con:
        versions = con.execute("SELECT scenario, version FROM versions WHERE action != 'delete'").fetchall()
        for scenario, version in versions:
            out[(scenario, version)] = {
                t: pd.read_sql_query(
                    f"SELECT * FROM {t} WHERE scenario = ? AND version = ? ORDER BY fid",
                    con,
                    params=(scenario, version),
                )
                for t in ("parks", "allocations", "quotas")
            }
    return out


def _copy(tmp_path: Path) -> Path:
    path = tmp_path / "old.gpkg"
    shutil.copy(FIXTURE, path)
    return path


def test_a_schema_1_store_upgrades_on_open_keeping_every_version(tmp_path, plan) -> None:
    path = _copy(tmp_path)
    before = _legacy(path)
    with sqlite3.connect(path) as con:
        history_before = con.execute(
            "SELECT scenario, version, author, comment, action FROM versions"
        ).fetchall()
    assert len(before) == 4  # main v1-v3 and alt v1
    store = open_store(path, plan)
    for (scenario, version), frames in before.items():
        register, v = store.load(scenario, version)
        parks = register.parks
        assert parks["id"].tolist() == frames["parks"]["id"].tolist()
        assert parks["name_en"].tolist() == frames["parks"]["name_en"].tolist()
        assert np.array_equal(
            parks["new_gfa_m2"].to_numpy(dtype=float),
            frames["parks"]["new_gfa_m2"].to_numpy(dtype=float),
            equal_nan=True,
        )
        geoms = from_gpkg_blobs(frames["parks"]["geom"].tolist())
        ours = np.asarray(parks.geometry.values, dtype=object)
        missing = shapely.is_missing(geoms)
        assert (shapely.is_missing(ours) == missing).all()
        assert shapely.equals_exact(ours[~missing], geoms[~missing], 0).all()
        a = register.allocations
        assert a["allocation_id"].tolist() == frames["allocations"]["allocation_id"].tolist()
        assert a["area_m2"].tolist() == frames["allocations"]["area_m2"].tolist()
        assert register.quotas["quota_m2"].tolist() == frames["quotas"]["quota_m2"].tolist()
    with sqlite3.connect(path) as con:
        history_after = con.execute(
            "SELECT scenario, version, author, comment, action FROM versions"
        ).fetchall()
        schema = con.execute("SELECT value FROM store_meta WHERE key = 'schema_version'").fetchone()[0]
        n_rows = con.execute("SELECT count(*) FROM parks").fetchone()[0]
        tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert history_after == history_before and schema == str(SCHEMA_VERSION)
    assert not any(t.endswith("_v1") for t in tables)
    # a row history, not snapshots: the seed's 32 parks, the renamed one twice more (v2 with the bad
    # figure, and v3 where the bad figure is gone? no: v3 kept v2's row), and alt's copy
    assert n_rows < sum(len(f["parks"]) for f in before.values())
    assert not store.exists("alt") and store.history("alt")["action"].tolist() == ["delete", "copy"]
    # the infinite figure of main v2 is reported, naming scenario, version and park
    log = store.audit_log()
    upgrade = log[log["action"] == "upgrade"]
    assert len(upgrade) == 1 and upgrade["outcome"].iloc[0] == "warning"
    detail = upgrade["detail"].iloc[0]
    assert "main" in detail and "v2" in detail and "futian_bonded" in detail and "new_gfa_m2" in detail
    # and the store goes on: a save after the upgrade writes only its change
    register, v = store.load()
    parks = register.parks.copy()
    parks.loc[parks["id"] == "szsib", "name_en"] = "after the upgrade"
    from planner.core.access import User
    from planner.core.register import Register

    saved = store.save(
        Register(parks, register.allocations, register.quotas),
        user=User("li", "planner"),
        comment="c",
        expected_version=v.version,
    )
    assert saved.version == v.version + 1
    history = store.park_history("szsib")
    assert history["name_en"].tolist()[-1] == "after the upgrade" and history["v_to"].isna().sum() == 1
    store.close()


def test_store_upgrade_command_reports_the_stored_numbers(tmp_path, capsys, plan) -> None:
    path = _copy(tmp_path)
    assert main(["store", "upgrade", "--db", str(path)]) == 0
    out = capsys.readouterr().out
    assert "futian_bonded" in out and "v2" in out and "升级" in out
    assert main(["store", "upgrade", "--db", str(path)]) == 0  # again: nothing to do
    assert "已是" in capsys.readouterr().out


def test_a_newer_schema_is_refused_untouched(tmp_path, plan) -> None:
    path = tmp_path / "new.gpkg"
    open_store(path, plan).close()
    with sqlite3.connect(path) as con:
        con.execute("UPDATE store_meta SET value = '99' WHERE key = 'schema_version'")
    data = path.read_bytes()
    with pytest.raises(InputError, match="schema version is '99'") as err:
        open_store(path, plan)
    assert "结构版本" in str(err.value) and str(err.value).index("结构版本") < str(err.value).index(
        "the store's schema"
    )
    assert path.read_bytes() == data


def test_a_renamed_column_is_refused_untouched(tmp_path, plan) -> None:
    path = tmp_path / "renamed.gpkg"
    open_store(path, plan).close()
    with sqlite3.connect(path) as con:
        con.execute("ALTER TABLE parks RENAME COLUMN new_gfa_m2 TO new_floor_area")
    data = path.read_bytes()
    with pytest.raises(InputError, match="lacks column") as err:
        open_store(path, plan)
    assert "new_gfa_m2" in str(err.value) and "new_floor_area" in str(err.value)
    assert path.read_bytes() == data


_PG_TYPES = {"text": "text", "real": "double precision", "int": "integer", "bool": "boolean"}


@pytest.mark.postgis
def test_a_schema_1_postgis_store_upgrades_on_open_keeping_every_version(pg_schema_url, plan) -> None:
    """The same store in PostGIS: the schema-1 tables made by SQL (as the previous release's
    metadata made them) and filled with the fixture's rows."""
    import sqlalchemy as sa

    from planner.store.base import COLUMNS

    engine = sa.create_engine(pg_schema_url.replace("postgresql://", "postgresql+psycopg2://", 1))
    with sqlite3.connect(FIXTURE) as lite, engine.begin() as con:
        for table in ("parks", "allocations", "quotas"):
            cols = ", ".join(f'"{c}" {_PG_TYPES[k]}' for c, k in COLUMNS[table])
            geom = ", geom geometry(Geometry, 4326)" if table == "parks" else ""
            con.execute(
                sa.text(
                    f"CREATE TABLE {table} (fid bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, "
                    f"scenario text NOT NULL, version integer NOT NULL, {cols}{geom})"
                )
            )
            frame = pd.read_sql_query(f"SELECT * FROM {table} ORDER BY fid", lite).drop(columns="fid")
            if table == "parks":
                geoms = shapely.set_srid(from_gpkg_blobs(frame.pop("geom").tolist()), 4326)
                frame["geom"] = shapely.to_wkb(geoms, hex=True, include_srid=True)
                frame["figures_verified"] = frame["figures_verified"].astype(bool)
            frame = frame.astype(object).where(frame.notna(), None)
            names = ", ".join(f'"{c}"' for c in frame.columns)
            marks = ", ".join(f":{i}" for i in range(len(frame.columns)))
            con.execute(
                sa.text(f"INSERT INTO {table} ({names}) VALUES ({marks})"),
                [{str(i): v for i, v in enumerate(row)} for row in frame.itertuples(index=False)],
            )
        con.execute(
            sa.text(
                "CREATE TABLE versions (scenario text, version integer, author text NOT NULL, role text NOT NULL, "
                "created_at text NOT NULL, comment text NOT NULL, restored_from integer, action text NOT NULL, "
                "changes text NOT NULL, n_parks integer NOT NULL, n_allocations integer NOT NULL, "
                "PRIMARY KEY (scenario, version))"
            )
        )
        versions = pd.read_sql_query("SELECT * FROM versions ORDER BY fid", lite).drop(columns="fid")
        versions = versions.astype(object).where(versions.notna(), None)
        con.execute(
            sa.text(f"INSERT INTO versions VALUES ({', '.join(':' + c for c in versions.columns)})"),
            versions.to_dict("records"),
        )
        con.execute(sa.text("CREATE TABLE store_meta (key text PRIMARY KEY, value text NOT NULL)"))
        con.execute(sa.text("INSERT INTO store_meta VALUES ('plan_id', :p)"), {"p": plan.id})
        con.execute(
            sa.text(
                'CREATE TABLE audit (id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, time text, "user" text, '
                "role text, action text, scenario text, version integer, outcome text, detail text)"
            )
        )
    engine.dispose()
    before = _legacy(FIXTURE)
    store = open_store(pg_schema_url, plan)
    assert store.upgraded
    for (scenario, version), frames in before.items():
        register, _ = store.load(scenario, version)
        assert register.parks["id"].tolist() == frames["parks"]["id"].tolist()
        assert register.parks["name_en"].tolist() == frames["parks"]["name_en"].tolist()
        assert register.allocations["area_m2"].tolist() == frames["allocations"]["area_m2"].tolist()
        assert register.quotas["quota_m2"].tolist() == frames["quotas"]["quota_m2"].tolist()
    assert store.history("main")["version"].tolist() == [3, 2, 1]
    assert any("futian_bonded" in line and "v2" in line for line in store.upgrade_report)
    store.close()
    again = open_store(pg_schema_url, plan)  # upgraded once: opens as it is
    assert not again.upgraded and again.load()[1].version == 3
    again.close()
