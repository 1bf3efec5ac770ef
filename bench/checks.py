"""Benchmark: district assignment, capacity and all checks on N synthetic parcels (default 100,000).

    python bench/checks.py [N]

Parcels are squares on a grid inside the real district polygons, about 1% shifted onto a neighbour
(so they overlap), each with one allocation. Prints seconds per step and peak memory; asserts nothing (see the team's rules).
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
from planner.core.checking import check
from planner.core.geo import WGS84
from planner.core.plan import load_plan
from planner.core.register import Register, conform_allocations, conform_parks


def synthetic(n: int, seed: int = 7, overlap: float = 0.01) -> Register:
    """``n`` parcels as a city's register looks: squares on a grid inside the real district polygons
    (neighbours do not overlap), a share ``overlap`` of them shifted half a cell onto a neighbour;
    one allocation each, mostly in a designated specialisation and inside the plan period."""
    plan = load_plan()
    rng = np.random.default_rng(seed)
    districts = plan.district_polygons.to_crs(plan.metric_crs)
    polys = np.asarray(districts.geometry.values)
    x0, y0, x1, y1 = shapely.total_bounds(polys)
    land = float(shapely.area(polys).sum())
    cell = float(np.sqrt(land / (n * 1.15)))
    for _ in range(6):  # a finer grid until enough cell centres lie inside a district
        xs, ys = np.meshgrid(np.arange(x0, x1, cell) + cell / 2, np.arange(y0, y1, cell) + cell / 2)
        centres = shapely.points(xs.ravel(), ys.ravel())
        d_i, c_i = shapely.STRtree(centres).query(polys, predicate="contains")
        if len(c_i) >= n:
            break
        cell *= 0.9
    pick = rng.choice(len(c_i), n, replace=False)
    d_i, c_i = d_i[pick], c_i[pick]
    xy = shapely.get_coordinates(centres[c_i])
    half = cell * rng.uniform(0.3, 0.45, n)
    shift = rng.random(n) < overlap
    xy[shift, 0] += cell * 0.5
    squares = shapely.box(xy[:, 0] - half, xy[:, 1] - half, xy[:, 0] + half, xy[:, 1] + half)
    codes = districts["code"].to_numpy()[d_i]
    ids = np.char.add("p", np.arange(n).astype(str)).astype(object)
    land_m2 = shapely.area(squares)
    status = rng.choice(["planned", "under_construction", "delivered"], n)
    parks = gpd.GeoDataFrame(
        {
            "id": ids,
            "name_zh": ids,
            "district_code": codes,
            "status": status,
            "land_area_m2": land_m2,
            "gfa_m2": land_m2 * rng.uniform(1.0, 4.2, n),
            "new_gfa_m2": land_m2 * rng.uniform(0.5, 2.0, n),
            "figures_conf": "verified",
        },
        geometry=gpd.GeoSeries(squares, crs=plan.metric_crs).to_crs(WGS84).values,
        crs=WGS84,
    )
    designated = {d.code: list(d.specialisations) for d in plan.districts}
    every = [s.key for s in plan.specialisations]
    spec = rng.choice(every, n).astype(object)
    for code, keys in designated.items():
        mine = codes == code
        if keys:
            spec[mine] = rng.choice(keys, int(mine.sum()))
    off = rng.random(n) < 0.1
    spec[off] = rng.choice(every, int(off.sum()))
    allocs = pd.DataFrame(
        {
            "allocation_id": np.char.add(ids.astype(str), "-a1").astype(object),
            "park_id": ids,
            "specialisation": spec,
            "area_m2": parks["new_gfa_m2"].to_numpy() * 0.3,
            "delivery_year": rng.integers(plan.period_start, plan.deadline_year + 1, n),
            "status": status,
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
        ("assign (cached)", lambda: assign_districts(reg.parks, plan)),
        ("capacity_report", lambda: capacity_report(plan, reg)),
        ("check", lambda: check(plan, reg)),
    ]:
        t = time.perf_counter()
        out = fn()
        extra = f" ({len(out.findings):,} findings)" if name == "check" else ""
        print(f"{name:<18} {time.perf_counter() - t:7.2f} s{extra}")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory        {peak:7.0f} MiB")


if __name__ == "__main__":
    main()
