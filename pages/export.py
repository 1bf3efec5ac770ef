"""Export page: districts, parks and allocations in every format planner.io writes."""

from __future__ import annotations

from functools import partial

import streamlit as st

from planner import downloads
from planner.io import LAYERS, build_layer
from planner.session import (
    APP_TITLE,
    LANGS,
    PAGES,
    current_user,
    ensure_state,
    scenario_line,
    sign_out,
    user_line,
)

st.set_page_config(page_title=APP_TITLE, layout="wide")
plan, register, lang = ensure_state(st.session_state)
with st.sidebar:
    lang = st.session_state.lang = st.radio(
        "语言 / Language",
        list(LANGS),
        index=LANGS.index(lang),
        format_func=lambda k: "中文" if k == "zh" else "English",
        horizontal=True,
    )
    for path, title_zh, title_en, icon in PAGES:
        st.page_link(path, label=title_zh if lang == "zh" else title_en, icon=icon)
    st.caption(f":material/person: {user_line(st.session_state, lang)}")
    st.caption(f":material/history: {scenario_line(st.session_state, lang)}")
    if current_user(st.session_state):
        st.button(
            "退出登录" if lang == "zh" else "Sign out",
            key="sign_out",
            on_click=sign_out,
            args=(st.session_state,),
        )


def t(zh: str, en: str) -> str:
    """Chinese or English, as the sidebar switch says."""
    return zh if lang == "zh" else en


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
        )

st.subheader(t("规划附表: 数字经济产业园区规划布局一览表", "The plan's annex table (one row a park)"))
st.download_button(
    t("一览表 Excel", "Annex table, Excel"),
    partial(downloads.annex_bytes, plan, register),
    file_name=downloads.file_name(plan.id, "annex", "xlsx"),
    mime=downloads.MIME["xlsx"],
    key="dl_annex",
)
