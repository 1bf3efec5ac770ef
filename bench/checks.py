"""Benchmark: district assignment, capacity and all checks on N synthetic parcels (default 100,000).

    python bench/checks.py [N]

Parcels are 60-200 m squares at random points inside the real district polygons, each with one
allocation. Prints seconds per step and peak memory; asserts nothing (see the team's rules).
"""

from __future__ import annotations

import resource
import sys
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from planner.core.assign import assign_districts
from planner.core.capacity import capacity_report
from planner.core.findings import run_checks
from planner.core.geo import WGS84
from planner.core.plan import load_plan
from planner.core.register import Register, conform_allocations, conform_parks


def synthetic(n: int, seed: int = 7) -> Register:
    plan = load_plan()
    rng = np.random.default_rng(seed)
    districts = plan.district_polygons.to_crs(plan.metric_crs)
    points = districts.geometry.sample_points(size=int(n / len(districts)) + 1, rng=rng).explode().iloc[:n]
    xy = shapely.get_coordinates(points.values)
    half = rng.uniform(30, 100, len(xy))
    squares = shapely.box(xy[:, 0] - half, xy[:, 1] - half, xy[:, 0] + half, xy[:, 1] + half)
    codes = np.repeat(districts["code"].to_numpy(), int(n / len(districts)) + 1)[: len(xy)]
    ids = [f"p{i}" for i in range(len(xy))]
    land = shapely.area(squares)
    parks = gpd.GeoDataFrame(
        {
            "id": ids,
            "name_zh": ids,
            "district_code": codes,
            "status": rng.choice(["planned", "under_construction", "delivered"], len(xy)),
            "land_area_m2": land,
            "gfa_m2": land * rng.uniform(1, 5, len(xy)),
            "new_gfa_m2": land * rng.uniform(0.5, 3, len(xy)),
            "figures_conf": "verified",
        },
        geometry=gpd.GeoSeries(squares, crs=plan.metric_crs).to_crs(WGS84).values,
        crs=WGS84,
    )
    allocs = pd.DataFrame(
        {
            "allocation_id": [f"{i}-a1" for i in ids],
            "park_id": ids,
            "specialisation": rng.choice([s.key for s in plan.specialisations], len(xy)),
            "area_m2": parks["new_gfa_m2"].to_numpy() * 0.3,
            "delivery_year": rng.choice([2022, 2023, 2024, 2025, 2027], len(xy)),
            "status": parks["status"].to_numpy(),
            "basis": "planner",
        }
    )
    return Register(
        conform_parks(parks), conform_allocations(allocs), pd.DataFrame(columns=["district_code", "quota_m2"])
    )


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    plan = load_plan()
    t = time.perf_counter()
    reg = synthetic(n)
    print(f"built {len(reg.parks):,} parcels in {time.perf_counter() - t:.1f} s")
    for name, fn in [
        ("assign_districts", lambda: assign_districts(reg.parks, plan)),
        ("capacity_report", lambda: capacity_report(plan, reg)),
        ("run_checks", lambda: run_checks(plan, reg)),
    ]:
        t = time.perf_counter()
        out = fn()
        extra = f" ({len(out):,} findings)" if name == "run_checks" else ""
        print(f"{name:<18} {time.perf_counter() - t:7.2f} s{extra}")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory        {peak:7.0f} MiB")


if __name__ == "__main__":
    main()
