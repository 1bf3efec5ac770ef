"""The store on a 100,000-parcel register (not a test: prints figures): saving every row, loading
the latest version, a one-park edit (Store.save time and bytes added), and the CLI import of one park
(process start included).

python bench/store.py                       # GeoPackage
PLANNER_TEST_PG=postgresql://... python bench/store.py   # and PostGIS (a fresh schema)
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from planner.core.access import User
from planner.core.changes import register_changes
from planner.core.plan import load_plan
from planner.core.register import Register, conform_allocations, conform_parks
from planner.store import open_store

PLANNER = User("bench", "planner")


def big_register(seed: Register, n: int) -> Register:
    """The seed register plus ``n`` parks (half squares, half points) in Nanshan, each with an allocation."""
    rng = np.random.default_rng(n)
    x = 113.90 + rng.random(n) * 0.05
    y = 22.50 + rng.random(n) * 0.05
    d = 0.0005  # about 50 m
    geoms = np.where(np.arange(n) % 2 == 0, shapely.box(x - d, y - d, x + d, y + d), shapely.points(x, y))
    ids = [f"b{i}" for i in range(n)]
    parks = gpd.GeoDataFrame(
        {
            "id": ids,
            "name_zh": "基准园区",
            "district_code": "440305",
            "new_gfa_m2": rng.random(n) * 1e5,
            "delivery_year": 2024,
        },
        geometry=gpd.GeoSeries(geoms, crs=4326),
        crs=4326,
    )
    allocations = pd.DataFrame(
        {
            "allocation_id": [f"{i}-a1" for i in ids],
            "park_id": ids,
            "area_m2": 1000.0,
            "delivery_year": 2025,
            "status": "planned",
            "basis": "planner",
        }
    )
    return Register(
        conform_parks(pd.concat([seed.parks, parks], ignore_index=True)),
        conform_allocations(pd.concat([seed.allocations, allocations], ignore_index=True)),
        seed.quotas,
    )


def _size(db: str, store) -> int:
    """Bytes the store takes: the GeoPackage file, or the PostGIS schema's tables and indexes."""
    if not db.startswith("postgresql"):
        return Path(db).stat().st_size
    import sqlalchemy as sa

    with store.backend.engine.connect() as con:
        return int(
            con.execute(
                sa.text(
                    "SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c JOIN pg_namespace n ON "
                    "n.oid = c.relnamespace WHERE n.nspname = current_schema() AND c.relkind = 'r'"
                )
            ).scalar()
        )


def _import_one_park(db: str, plan, tmp: Path) -> float:
    """Seconds for ``python -m planner import`` of one park into the store, process start included."""
    from planner.core.accounts import set_account

    accounts = tmp / "accounts.toml"
    set_account("bench_cli", "planner", "bench-password-1", path=accounts)
    park = gpd.GeoDataFrame(
        {"id": ["cli_one"], "name_zh": ["命令行园区"], "district_code": ["440305"], "new_gfa_m2": [5000.0]},
        geometry=[shapely.box(113.975, 22.56, 113.976, 22.561)],  # away from the bench parks
        crs=4326,
    )
    path = tmp / "one.geojson"
    park.to_file(path, driver="GeoJSON")
    env = os.environ | {"PLANNER_ACCOUNTS": str(accounts), "PLANNER_PASSWORD": "bench-password-1"}
    t0 = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "planner", "import", str(path), "--db", db, "--user", "bench_cli"],
        env=env,
        cwd=Path(__file__).resolve().parents[1],
        capture_output=True,
        text=True,
    )
    elapsed = time.perf_counter() - t0
    if done.returncode != 0:
        print(done.stdout[-2000:], done.stderr[-2000:])
    return elapsed


def bench(label: str, db: str, tmp: Path) -> None:
    plan = load_plan()
    store = open_store(db, plan)
    seed, v = store.load()
    n = 100_000
    reg = big_register(seed, n)
    t0 = time.perf_counter()
    store.save(reg, user=PLANNER, comment=f"bench {n}", expected_version=v.version)
    t1 = time.perf_counter()
    loaded, v = store.load()
    t2 = time.perf_counter()
    print(
        f"{label:8} {len(loaded.parks):>7,} parks: save of all rows {t1 - t0:6.2f} s, load latest {t2 - t1:6.2f} s"
    )
    # a district user's one-park edit, as the app saves it: the change computed once against the
    # register the session holds (base), then Store.save checks and writes the touched rows only;
    # three edits one after another (the saved register is the next base), the best and the worst
    base, expected = loaded, v.version
    saves, diffs, grown = [], [], []
    for i in range(3):
        parks = base.parks.copy()
        parks.loc[parks["id"] == f"b{i}", "name_en"] = f"edited {i}"
        edited = Register(parks, base.allocations, base.quotas)
        t0 = time.perf_counter()
        changes = register_changes(base, edited)
        diffs.append(time.perf_counter() - t0)
        size = _size(db, store)
        t0 = time.perf_counter()
        saved = store.save(
            edited,
            user=User("ns", "district", "440305"),
            comment=f"edit {i}",
            expected_version=expected,
            base=base,
            changes=changes,
        )
        saves.append(time.perf_counter() - t0)
        grown.append(_size(db, store) - size)
        assert saved.version == expected + 1
        base, expected = edited, saved.version
    print(
        f"{label:8} one park edited by district staff: Store.save {min(saves):6.3f} s best of 3 "
        f"(worst {max(saves):.3f}), store grew by {max(grown) / 1e3:,.0f} kB at most; the app's one "
        f"diff before it (register_changes) {min(diffs):6.3f} s"
    )
    # the same edit without a base: the store reads the version it started from and diffs
    parks2 = loaded.parks.copy()  # v2 with another park edited: merged onto the latest
    parks2.loc[parks2["id"] == "b5", "name_en"] = "edited"
    t0 = time.perf_counter()
    store.save(
        Register(parks2, loaded.allocations, loaded.quotas),
        user=PLANNER,
        comment="e2",
        expected_version=v.version,
    )
    print(
        f"{label:8} one park edited, no base (store reads and diffs, merged onto the latest): {time.perf_counter() - t0:6.3f} s"
    )
    store.close()
    size = _size(db, open_store(db, plan))
    seconds = _import_one_park(db, plan, tmp)
    after = open_store(db, plan)
    grew = _size(db, after) - size
    assert "cli_one" in set(after.load()[0].parks["id"])
    after.close()
    print(
        f"{label:8} python -m planner import of one park (process start included): {seconds:6.2f} s, +{grew / 1e3:,.0f} kB"
    )


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.gpkg"
        bench("gpkg", str(path), Path(tmp))
        print(f"         file size at the end: {path.stat().st_size / 1e6:.1f} MB")
    url = os.environ.get("PLANNER_TEST_PG")
    if url:
        import sqlalchemy as sa

        schema = f"bench_{uuid.uuid4().hex[:8]}"
        engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg2://", 1))
        with engine.begin() as con:
            con.execute(sa.text(f"CREATE SCHEMA {schema}"))
        try:
            sep = "&" if "?" in url else "?"
            with tempfile.TemporaryDirectory() as tmp:
                bench("postgis", f"{url}{sep}options=-csearch_path%3D{schema},public", Path(tmp))
        finally:
            with engine.begin() as con:
                con.execute(sa.text(f"DROP SCHEMA {schema} CASCADE"))
    else:
        print("postgis: skipped (set PLANNER_TEST_PG)")


if __name__ == "__main__":
    main()
