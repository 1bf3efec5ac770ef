"""Export layers as bytes for a download button (the app's Export and District pages).

Writes through ``planner.io.export.write_layer`` into a temporary folder, so the files a user downloads
are exactly those the CLI writes. Offers every format ``planner.io.export.FORMATS`` knows.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import geopandas as gpd
import pandas as pd

from planner.core.plan import Plan
from planner.core.register import Register
from planner.io import export as io

MIME = {
    "geojson": "application/geo+json",
    "gpkg": "application/geopackage+sqlite3",
    "csv": "text/csv",
    "kml": "application/vnd.google-earth.kml+xml",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
EXTENSIONS = {"geojson": "geojson", "gpkg": "gpkg", "csv": "csv", "kml": "kml", "xlsx": "xlsx"}


def formats() -> tuple[str, ...]:
    """The export formats planner.io.export can write."""
    return tuple(io.FORMATS)


def layer_bytes(gdf: gpd.GeoDataFrame | pd.DataFrame, fmt: str, *, layer: str = "layer") -> bytes:
    """The bytes of ``gdf`` written as ``fmt`` by ``planner.io.export.write_layer``."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"{layer}.{EXTENSIONS.get(fmt, fmt)}"
        io.write_layer(gdf, fmt, path, layer=layer)
        return path.read_bytes()


def file_name(plan_id: str, layer: str, fmt: str) -> str:
    """A download file name: ``<plan>_<layer>.<ext>``."""
    return f"{plan_id}_{layer}.{EXTENSIONS.get(fmt, fmt)}"


def annex_bytes(plan: Plan, register: Register) -> bytes:
    """The plan's annex table (数字经济产业园区规划布局一览表, one row a park) as an Excel workbook."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "annex.xlsx"
        io.write_annex_excel(plan, register, path)
        return path.read_bytes()
