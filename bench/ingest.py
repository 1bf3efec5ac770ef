"""Benchmark: preview an import of 100,000 parks (CSV, Chinese headers). Prints numbers; asserts nothing.

Run: ``python bench/ingest.py [N]``. Not collected by pytest.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from planner.core.plan import load_plan
from planner.core.register import load_register
from planner.io.ingest import preview_import


def main(n: int = 100_000) -> None:
    plan = load_plan()
    register = load_register(plan)
    rng = np.random.default_rng(0)
    table = pd.DataFrame(
        {
            "编号": [f"p{i}" for i in range(n)],
            "名称": [f"园区{i}" for i in range(n)],
            "经度": rng.uniform(113.8, 114.5, n).round(6),
            "纬度": rng.uniform(22.5, 22.8, n).round(6),
            "占地面积": [f"{v}亩" for v in rng.integers(1, 1000, n)],
            "状态": rng.choice(["在建", "规划", "已交付"], n),
        }
    )
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "big.csv"
        table.to_csv(path, index=False)
        start = time.perf_counter()
        preview = preview_import(path, None, plan, register)
        took = time.perf_counter() - start
    print(f"preview_import: {n:,} parks in {took:.2f} s ({n / took:,.0f} parks/s); ok={preview.ok}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000)
