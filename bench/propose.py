"""Benchmark: a proposal (site capacity + the MILP) over N synthetic sites (default 10,000).

    python bench/propose.py [N] [RUNS]

Sites are 60-400 m squares at random points inside the real district polygons, with a realistic
mix: land-use class M0/M1/unknown, a status (delivered / under construction / planned / unknown),
a delivery year for some, existing floor area below and above the allowed plot ratio, one
allocation on a third of them, a few without land area (listed, not used). Minimum quotas for the centres, a maximum
quota for Longhua and 20% kept for the core, so the solver has to trade off. Prints, for three targets (10x the plan's, 90% of
what the sites can deliver by 2025, and twice that), the median time of RUNS runs (default 3) of
``planner.core.propose.propose`` (site capacity included) and the result; asserts nothing.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from planner.core.assign import assign_districts
from planner.core.geo import WGS84
from planner.core.plan import load_plan
from planner.core.propose import Params, Quota, propose
from planner.core.register import Register, conform_allocations, conform_parks, conform_quotas


def synthetic_sites(n: int, seed: int = 11) -> Register:
    """``n`` realistic sites inside the real districts, with allocations on a third of them."""
    plan = load_plan()
    rng = np.random.default_rng(seed)
    metric = plan.metric_crs
    districts = plan.district_polygons.to_crs(metric)
    per = int(n / len(districts)) + 1
    points = districts.geometry.sample_points(size=per, rng=rng).explode().iloc[:n]
    xy = shapely.get_coordinates(points.values)
    half = rng.uniform(30, 200, len(xy))
    squares = shapely.box(xy[:, 0] - half, xy[:, 1] - half, xy[:, 0] + half, xy[:, 1] + half)
    ids = np.array([f"s{i}" for i in range(len(xy))])
    land = shapely.area(squares)
    land[rng.random(len(xy)) < 0.03] = np.nan  # some without land area
    status = rng.choice(
        ["delivered", "under_construction", "planned", "unknown"], len(xy), p=[0.4, 0.25, 0.3, 0.05]
    )
    year = np.where(rng.random(len(xy)) < 0.5, rng.integers(2022, 2030, len(xy)), np.nan)
    gfa = land * rng.uniform(0.5, 4.5, len(xy))
    parks = gpd.GeoDataFrame(
        {
            "id": ids,
            "name_zh": [f"场地{i}" for i in range(len(xy))],
            "district_code": np.repeat(districts["code"].to_numpy(), per)[: len(xy)],
            "land_use_class": rng.choice(["M0", "M1", ""], len(xy)),
            "status": status,
            "delivery_year": year,
            "land_area_m2": land,
            "gfa_m2": gfa,
            "new_gfa_m2": np.where(status == "delivered", 0.0, gfa * rng.uniform(0, 1, len(xy))),
            "spec_tag": rng.choice([s.key for s in plan.specialisations] + [""], len(xy)),
            "figures_conf": "verified",
        },
        geometry=gpd.GeoSeries(squares, crs=metric).to_crs(WGS84).values,
        crs=WGS84,
    )
    some = rng.random(len(xy)) < 0.33
    allocs = pd.DataFrame(
        {
            "allocation_id": [f"{i}-a1" for i in ids[some]],
            "park_id": ids[some],
            "specialisation": rng.choice([s.key for s in plan.specialisations], int(some.sum())),
            "area_m2": np.nan_to_num(land[some], nan=1000.0) * 0.005,
            "delivery_year": rng.choice([2022, 2023, 2024, 2025], int(some.sum())),
            "status": status[some],
            "basis": "planner",
        }
    )
    return Register(conform_parks(parks), conform_allocations(allocs), conform_quotas(pd.DataFrame()))


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    plan = load_plan()
    t = time.perf_counter()
    reg = synthetic_sites(n)
    where = assign_districts(reg.parks, plan)  # once per register version in the app (cached)
    print(f"built {len(reg.parks):,} sites and their districts in {time.perf_counter() - t:.1f} s")
    quotas = (
        Quota("440304", 100_000.0, None),
        Quota("440306", 100_000.0, None),
        Quota("440307", 100_000.0, None),
        Quota("440303", 100_000.0, None),
        Quota("440309", None, 200_000.0),
    )
    from planner.core.sites import site_capacity

    table = site_capacity(plan, reg, as_of=2024, where=where)
    deliverable = float(table.loc[table["usable"] & (table["earliest_year"] <= 2025), "capacity_m2"].sum())
    cases = [
        ("3000万㎡ (10x the plan's target)", plan.new_space.value * 10),
        ("90% of the capacity deliverable by 2025 (tight)", 0.9 * deliverable),
        ("2x the deliverable capacity (out of reach: diagnosis)", 2 * deliverable),
    ]
    for label, target in cases:
        params = Params(target_m2=target, as_of=2024, quotas=quotas, core_share=0.2)
        times = []
        for _ in range(runs):
            t = time.perf_counter()
            table = site_capacity(plan, reg, as_of=2024, where=where)
            result = propose(plan, reg, params, sites=table)
            times.append(time.perf_counter() - t)
        print(
            f"{label}: propose over {n:,} sites, median {statistics.median(times):.2f} s of {runs} runs "
            f"({', '.join(f'{x:.2f}' for x in times)}); {len(result.allocations):,} allocations, "
            f"proposed {result.proposed_m2:,.0f} m², shortfall {result.shortfall_m2:,.0f} m², "
            f"{'feasible' if result.feasible else 'infeasible: ' + ', '.join(b.kind for b in result.binding)}; "
            f"{result.solver_status}"
        )


if __name__ == "__main__":
    main()
