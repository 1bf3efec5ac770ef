"""Save and load times of the store for 1,000 and 100,000 parks (not a test: prints figures).

python bench/store.py                       # GeoPackage
PLANNER_TEST_PG=postgresql://... python bench/store.py   # and PostGIS (a fresh schema)
"""

from __future__ import annotations

import os
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


def bench(label: str, db: str) -> None:
    plan = load_plan()
    store = open_store(db, plan)
    seed, v = store.load()
    for n in (1_000, 100_000):
        reg = big_register(seed, n)
        t0 = time.perf_counter()
        saved = store.save(reg, user=PLANNER, comment=f"bench {n}", expected_version=v.version)
        t1 = time.perf_counter()
        loaded, v = store.load()
        t2 = time.perf_counter()
        assert v == saved and len(loaded.parks) == len(reg.parks)
        print(
            f"{label:8} {n:>7,} parks: save {t1 - t0:6.2f} s (validation + rights + write), load {t2 - t1:6.2f} s"
        )
    # a district user's small edit of the big register: the rights check diffs against the version it started from
    parks = loaded.parks.copy()
    parks.loc[parks["id"] == "b0", "name_en"] = "edited"
    t0 = time.perf_counter()
    store.save(
        Register(parks, loaded.allocations, loaded.quotas),
        user=User("ns", "district", "440305"),
        comment="edit",
        expected_version=v.version,
    )
    print(
        f"{label:8} one park edited by district staff in {len(parks):,}: save {time.perf_counter() - t0:6.2f} s"
    )
    store.close()


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.gpkg"
        bench("gpkg", str(path))
        print(f"         file size after seed + 2 versions: {path.stat().st_size / 1e6:.1f} MB")
    url = os.environ.get("PLANNER_TEST_PG")
    if url:
        import sqlalchemy as sa

        schema = f"bench_{uuid.uuid4().hex[:8]}"
        engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg2://", 1))
        with engine.begin() as con:
            con.execute(sa.text(f"CREATE SCHEMA {schema}"))
        try:
            sep = "&" if "?" in url else "?"
            bench("postgis", f"{url}{sep}options=-csearch_path%3D{schema},public")
        finally:
            with engine.begin() as con:
                con.execute(sa.text(f"DROP SCHEMA {schema} CASCADE"))
    else:
        print("postgis: skipped (set PLANNER_TEST_PG)")


if __name__ == "__main__":
    main()
