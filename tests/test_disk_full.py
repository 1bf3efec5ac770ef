"""A full disk says so, and that nothing was written (issue 12, item 11).

The disk is real: a 2 MB tmpfs mounted for the test (the tests run as root; skipped with the
reason where mounting is not permitted). GeoPackage: the store file lives on it. PostGIS: a
tablespace on it holds the test schema's tables. The disk is filled to many levels, so a save
fails at every point it can (rows, journal, commit), where SQLite had already rolled back and
the old message was "cannot rollback - no transaction is active".
"""

from __future__ import annotations

import contextlib
import os
import pwd
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest

from planner.cli.main import main
from planner.core.access import User
from planner.core.accounts import set_account
from planner.core.register import Register
from planner.store import open_store
from planner.store.base import StoreUnavailable

PLANNER = User("wang", "planner")
PASSWORD = "correct-horse-1"


@contextlib.contextmanager
def tmpfs(path: Path, size: str = "2m", owner: str | None = None) -> Iterator[Path]:
    """A small real filesystem at ``path`` (unmounted afterwards); skip when mount is refused."""
    path.mkdir(parents=True, exist_ok=True)
    opts = f"size={size}"
    if owner:
        pw = pwd.getpwnam(owner)
        opts += f",uid={pw.pw_uid},gid={pw.pw_gid},mode=0700"
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", opts, "tmpfs", str(path)], capture_output=True, text=True
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs to fill (needs root): {done.stderr.strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def _bigger(register: Register, copies: int) -> Register:
    parks = register.parks
    many = pd.concat(
        [parks] + [parks.assign(id=parks["id"] + f"_{k}") for k in range(copies)], ignore_index=True
    )
    return Register(
        gpd.GeoDataFrame(many, geometry="geometry", crs=parks.crs), register.allocations, register.quotas
    )


def _fill(disk: Path, leave_kb: int) -> Path:
    """Fill ``disk`` until about ``leave_kb`` kB are free."""
    st = os.statvfs(disk)
    free = st.f_bavail * st.f_frsize
    filler = disk / "filler"
    with filler.open("wb") as f, contextlib.suppress(OSError):
        f.write(b"\0" * max(0, free - leave_kb * 1024))
    return filler


def _saves_until_full(store, plan, disk: Path) -> list[str]:
    """Save growing registers with less and less room; the messages of the failed saves, and
    checks that each failure left the store exactly as it was."""
    register, _ = store.load("main")
    failures: list[str] = []
    for leave_kb in range(600, 0, -24):
        before = store.version("main")
        filler = _fill(disk, leave_kb)
        try:
            store.save(
                _bigger(register, 3 + before.version % 7),
                user=PLANNER,
                comment="grow",
                expected_version=before.version,
            )
        except StoreUnavailable as exc:
            failures.append(str(exc))
            filler.unlink()
            assert store.version("main") == before  # nothing was written
            reread, _ = store.load("main", before.version)
            assert len(reread.parks) == before.n_parks
        else:
            filler.unlink()
    return failures


def test_a_full_disk_says_so_on_geopackage(tmp_path: Path, plan) -> None:
    with tmpfs(tmp_path / "disk") as disk:
        store = open_store(str(disk / "store.gpkg"), plan)
        failures = _saves_until_full(store, plan, disk)
        assert failures, "the disk never filled up"
        for message in failures:
            assert "磁盘已满, 未写入任何内容" in message and "is full; nothing was written" in message, (
                message
            )
            assert "cannot rollback" not in message
        import sqlite3

        with sqlite3.connect(disk / "store.gpkg") as con:
            assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_a_full_disk_on_the_command_line_exits_2_with_the_cause(
    tmp_path: Path, plan, capsys, monkeypatch
) -> None:
    set_account("alice", "planner", PASSWORD)
    monkeypatch.setenv("PLANNER_PASSWORD", PASSWORD)
    with tmpfs(tmp_path / "disk") as disk:
        db = str(disk / "store.gpkg")
        open_store(db, plan).close()
        filler = _fill(disk, 0)
        capsys.readouterr()
        code = main(["scenario", "copy", "main", "b", "--user", "alice", "--db", db])
        err = capsys.readouterr().err
        filler.unlink()
        assert code == 2 and "磁盘已满" in err and "the disk of the store" in err and "Traceback" not in err
        assert not open_store(db, plan).exists("b")


def test_a_full_disk_says_so_on_postgis(tmp_path: Path, plan, pg_schema_url: str) -> None:
    import sqlalchemy as sa

    from tests.conftest import postgis_url

    admin = sa.create_engine(postgis_url().replace("postgresql://", "postgresql+psycopg2://", 1))
    space = f"full_{uuid.uuid4().hex[:8]}"
    mount_point = Path(tempfile.mkdtemp(prefix="planner-pgfull-"))  # the server must reach it
    mount_point.chmod(0o755)
    with contextlib.ExitStack() as cleanup:
        cleanup.callback(mount_point.rmdir)
        disk = cleanup.enter_context(tmpfs(mount_point, owner="postgres"))
        with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as con:
            con.execute(sa.text(f"CREATE TABLESPACE {space} LOCATION '{disk}'"))
        try:
            url = pg_schema_url.replace("options=", f"options=-cdefault_tablespace%3D{space}%20", 1)
            store = open_store(url, plan)
            register, v = store.load("main")
            with pytest.raises(StoreUnavailable) as exc:
                store.save(_bigger(register, 400), user=PLANNER, comment="grow", expected_version=v.version)
            assert "磁盘已满, 未写入任何内容" in str(exc.value) and "is full; nothing was written" in str(
                exc.value
            )
            assert store.version("main") == v
            store.close()
        finally:
            with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as con:
                schema = pg_schema_url.rsplit("search_path%3D", 1)[1].split(",")[0]
                con.execute(sa.text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
                con.execute(sa.text(f"CREATE SCHEMA {schema}"))  # the fixture drops it again
                con.execute(sa.text(f"DROP TABLESPACE IF EXISTS {space}"))
            admin.dispose()
