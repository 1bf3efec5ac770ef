"""Export page: districts, parks and allocations in every format planner.io.export writes."""

from __future__ import annotations

from functools import partial

import streamlit as st

from pages import frame
from planner.app import downloads
from planner.i18n import translator
from planner.io.export import LAYERS, build_layer

plan, register, lang = frame()
t = translator(lang)  # the one translator (planner.i18n)

LAYER_LABELS = {
    "districts": ("区", "Districts"),
    "parks": ("园区", "Parks"),
    "allocations": ("分配", "Allocations"),
}
FORMAT_LABELS = {
    "geojson": "GeoJSON (RFC 7946)",
    "gpkg": "GeoPackage",
    "csv": "CSV (UTF-8)",
    "kml": "KML",
    "xlsx": "Excel",
}

st.title(t("导出", "Export"))
st.caption(
    t(
        f"导出当前方案 {st.session_state.scenario} 的 v{st.session_state.version.version} (侧栏所示)。"
        "坐标为 WGS84 (EPSG:4326); 面积单位 m²。",
        f"Exports scenario {st.session_state.scenario} at v{st.session_state.version.version} (as in the sidebar). "
        "Coordinates WGS84 (EPSG:4326); areas in m².",
    )
)
fmts = downloads.formats()
for layer in LAYERS:
    gdf = build_layer(layer, plan, register)
    st.subheader(f"{t(*LAYER_LABELS[layer])} ({len(gdf)})")
    cols = st.columns(len(fmts))
    for col, fmt in zip(cols, fmts, strict=True):
        col.download_button(
            FORMAT_LABELS.get(fmt, fmt),
            partial(downloads.layer_bytes, gdf, fmt, layer=layer),  # written only when clicked
            file_name=downloads.file_name(plan.id, layer, fmt),
            mime=downloads.MIME.get(fmt, "application/octet-stream"),
            key=f"dl_{layer}_{fmt}",
            on_click="ignore",  # no rerun: the other buttons' files stay valid for quick clicks
        )

st.subheader(t("规划附表: 数字经济产业园区规划布局一览表", "The plan's annex table (one row a park)"))
st.download_button(
    t("一览表 Excel", "Annex table, Excel"),
    partial(downloads.annex_bytes, plan, register),
    file_name=downloads.file_name(plan.id, "annex", "xlsx"),
    mime=downloads.MIME["xlsx"],
    key="dl_annex",
    on_click="ignore",
)
