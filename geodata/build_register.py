"""Build the seed park register of geodata/shenzhen/ from the team's reference table parks_seed.csv.

    python geodata/build_register.py [PATH/TO/parks_seed.csv]     (default: ../shared/data/parks_seed.csv)

Writes ``parks.geojson`` (WGS84 points from the seed's estimated coordinates; no surveyed footprints
exist in open sources), ``allocations.csv`` (the baseline, see below) and ``quotas.csv`` (empty: the
city planner sets quotas).

Normalisation: ``status`` and ``year`` are free text in the seed; they are mapped to the register's
status (planned / under construction / delivered / unknown) and delivery year by
``planner.core.register.normalise_status`` / ``normalise_year``, and the original text is kept in
``status_src`` / ``year_src``. Every source and confidence column is carried through.

The baseline allocation rule (an assumption of this tool, labelled ``basis = baseline``, never the
city's official numbers):

1. Only a park with a sourced new floor area (``new_gfa_m2``) gets an allocation.
2. Its size is ``new_gfa_m2 x software_share`` (plan.toml ``[baseline]``, 0.2): big parks serve many
   industries, so only part of their new space is for the software cluster.
3. Its specialisation follows the seed's ``spec_tag`` (table ``SPEC_FROM_TAG`` below).
4. Its delivery year is the park's delivery year when that lies inside the plan period
   (2022-2025); otherwise none, and the allocation is listed but not counted toward the target.
5. Its status is the park's status.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from planner.core.plan import load_plan  # noqa: E402
from planner.core.register import (  # noqa: E402
    ALLOCATION_COLUMNS,
    ALLOCATIONS_FILE,
    PARK_COLUMNS,
    PARKS_FILE,
    QUOTA_COLUMNS,
    QUOTAS_FILE,
    normalise_status,
    normalise_year,
)

DEFAULT_SEED = ROOT.parent / "shared" / "data" / "parks_seed.csv"
OUT = ROOT / "geodata" / "shenzhen"

SPEC_FROM_TAG = {
    "core": "core_cluster",
    "fintech_ecommerce": "fintech",
    "social_entertainment": "social_entertainment",
    "industrial_internet": "industrial_internet",
    "industrial_software": "industrial_software",
    "modern_services": "modern_services",
}
FIELDS_FROM_TAG = {
    "fintech_ecommerce": "fintech;ecommerce",
    "social_entertainment": "internet;digital_creative",
    "industrial_internet": "industrial_internet",
    "industrial_software": "high_end_software",
}
PARK_TYPE = {
    "tencent_penguin": "flagship",
    "dayun_software_town": "digital_town",
    "futian_ngit": "digital_park",
}
AREA_WORDS = (
    "片区",
    "合作区",
    "产业带",
    "科学城",
    "中心区",
    "更新",
    "高新区",
    "总部基地",
    "数字城",
    "核心区",
)


def _park_type(row: pd.Series) -> str:
    if row["id"] in PARK_TYPE:
        return PARK_TYPE[row["id"]]
    return "development_area" if any(w in row["name_zh"] for w in AREA_WORDS) else "industrial_park"


def build(seed_path: Path) -> tuple[dict, pd.DataFrame]:
    """Turn the seed table into (parks FeatureCollection, allocations frame)."""
    plan = load_plan(OUT)
    seed = pd.read_csv(seed_path, dtype=str, keep_default_na=False)
    features = []
    allocations = []
    for _, row in seed.iterrows():  # a build script over 32 rows, not a check
        status = normalise_status(row["status"])
        year = normalise_year(row["status"], row["year"], status)
        code, area_key = plan.resolve_district(row["district"])
        props = {c: "" for c in PARK_COLUMNS}
        props.update(
            id=row["id"],
            name_zh=row["name_zh"],
            name_en=row["name_en"],
            district=row["district"],
            district_code=code,
            functional_area=area_key,
            park_type=_park_type(row),
            namepark_level="unknown",
            namepark_note=row["namepark_level"],
            land_area_m2=float(row["land_area_m2"]) if row["land_area_m2"] else None,
            plot_ratio=None,
            gfa_m2=float(row["gfa_m2"]) if row["gfa_m2"] else None,
            new_gfa_m2=float(row["new_gfa_m2"]) if row["new_gfa_m2"] else None,
            delivery_year=year,
            status=status,
            status_src=row["status"],
            year_src=row["year"],
            fields=FIELDS_FROM_TAG.get(row["spec_tag"], ""),
            spec_tag=row["spec_tag"],
            source=row["source"],
            figures_conf=row["figures_conf"],
            coord_conf=row["coord_conf"],
            figures_verified=row["figures_conf"].lower().startswith("verified"),
        )
        geometry = (
            {"type": "Point", "coordinates": [float(row["lon"]), float(row["lat"])]}
            if row["lat"] and row["lon"]
            else None
        )
        features.append({"type": "Feature", "properties": props, "geometry": geometry})
        if props["new_gfa_m2"]:
            in_plan = year is not None and plan.period_start <= year <= plan.deadline_year
            allocations.append(
                {
                    "allocation_id": f"{row['id']}-a1",
                    "park_id": row["id"],
                    "specialisation": SPEC_FROM_TAG.get(row["spec_tag"], "district_choice"),
                    "area_m2": round(props["new_gfa_m2"] * plan.baseline_share),
                    "delivery_year": year if in_plan else None,
                    "status": status,
                    "basis": "baseline",
                    "note": (
                        f"基线: 新增建筑面积 {props['new_gfa_m2']:,.0f} m² x {plan.baseline_share:g}"
                        + ("" if in_plan else "; 交付年份不在规划期内或未知, 不计入目标")
                    ),
                }
            )
    collection = {
        "type": "FeatureCollection",
        "provenance": {
            "source": "parks_seed.csv (team reference table; each row names its own source)",
            "coordinates": "WGS84 estimates, good to about 0.5-1 km (see coord_conf)",
            "built_by": "geodata/build_register.py",
        },
        "features": features,
    }
    return collection, pd.DataFrame(allocations, columns=ALLOCATION_COLUMNS)


def main() -> None:
    seed_path = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_SEED
    collection, allocations = build(seed_path)
    (OUT / PARKS_FILE).write_text(json.dumps(collection, ensure_ascii=False, indent=1) + "\n")
    allocations["delivery_year"] = allocations["delivery_year"].astype("Int64")
    allocations.to_csv(OUT / ALLOCATIONS_FILE, index=False)
    if not (OUT / QUOTAS_FILE).exists():
        pd.DataFrame(columns=QUOTA_COLUMNS).to_csv(OUT / QUOTAS_FILE, index=False)
    print(
        f"wrote {len(collection['features'])} parks, {len(allocations)} baseline allocations to {OUT.relative_to(ROOT)}"
    )


if __name__ == "__main__":
    main()
