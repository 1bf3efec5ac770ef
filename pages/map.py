"""Map page: districts by role, parks by status, basemap choice, select a park, draw a new one."""

from __future__ import annotations

import hashlib
import json
from functools import partial

import pandas as pd
import streamlit as st
from streamlit_folium import st_folium

from pages import frame, show_refusal
from planner.app.labels import choice_labels, district_names, drawn_area_text
from planner.app.mapview import (
    BASEMAPS,
    COLOUR_BY,
    basemap_datum,
    bounds_of_view,
    build_map,
    map_index,
    new_drawing,
    park_id_from_tooltip,
    selection_layer,
    view_around,
    view_layer,
)
from planner.app.session import (
    commit_edit,
    current_user,
    read_only_note,
)
from planner.app.text import md
from planner.core.editing import add_drawn_park, new_park_id
from planner.core.geo import fmt_m2
from planner.core.register import STATUSES
from planner.errors import PlannerError
from planner.i18n import column_labels, field_label, is_missing, label, options, plan_options, translator

plan, register, lang = frame()

t = translator(lang)  # the one translator (planner.i18n)

st.title(t("地图", "Map"))
with st.sidebar:
    basemap = st.selectbox(
        t("底图", "Basemap"),
        list(BASEMAPS),
        format_func=lambda k: BASEMAPS[k].label_zh if lang == "zh" else BASEMAPS[k].label_en,
        key="basemap",
    )
    tianditu_key = ""
    if BASEMAPS[basemap].needs_key:
        tianditu_key = st.text_input(
            t("天地图密钥 (tk)", "Tianditu key (tk)"), type="password", key="tdt_key"
        )
    if BASEMAPS[basemap].online:
        st.caption(
            t(
                "在线底图需要互联网; 内网请用“无底图”。",
                "Online basemaps need the internet; use 'None' on an intranet.",
            )
        )
    colour_by = st.radio(
        t("缩小时的汇总着色", "Aggregates coloured by"),
        list(COLOUR_BY),
        format_func=lambda k: t(*COLOUR_BY[k]),
        key="colour_by",
    )
    if basemap_datum(basemap) == "gcj02":
        st.caption(
            t(
                "高德底图为 GCJ-02: 图层已偏移显示, 绘制的园区在保存前转换回 WGS84。",
                "Amap uses GCJ-02: overlays are shifted for display, drawn parks are shifted back to WGS84 before saving.",
            )
        )


def _park_details(park_id: str) -> None:
    register = st.session_state.register
    hit = register.parks[register.parks["id"] == park_id]
    if hit.empty:
        return
    park = hit.iloc[0]
    st.subheader(f"{md(park['name_zh'])} / {md(park['name_en'] or '—')}")
    if not park["figures_verified"]:
        st.warning(t("该园区数据未核实, 仅供参考。", "This park's figures are unconfirmed: indicative only."))
    cols = [
        "id",
        "district_code",
        "status",
        "delivery_year",
        "land_area_m2",
        "new_gfa_m2",
        "figures_conf",
        "source",
    ]
    facts = {field_label(c, lang): "—" if is_missing(park[c]) else str(park[c]) for c in cols}
    for c in ("land_area_m2", "new_gfa_m2"):
        facts[field_label(c, lang)] = fmt_m2(park[c]) if pd.notna(park[c]) else "—"
    facts[field_label("status", lang)] = label("status", park["status"], lang)
    facts[field_label("district_code", lang)] = district_names(plan, lang).get(park["district_code"], "—")
    facts[field_label("delivery_year", lang)] = (
        "—" if is_missing(park["delivery_year"]) else str(int(park["delivery_year"]))
    )
    st.table(pd.Series(facts, name=t("值", "Value")))
    allocs = register.allocations[register.allocations["park_id"] == park_id]
    st.markdown(t(f"**分配** ({len(allocs)} 条)", f"**Allocations** ({len(allocs)})"))
    choices = choice_labels(plan, register, lang)
    st.dataframe(
        allocs.assign(**{c: allocs[c].map(f) for c, f in choices.items()}).rename(
            columns=column_labels(allocs.columns, lang)
        ),
        hide_index=True,
        placeholder="—",
    )


def _drawing_form(drawing: dict, marker: str) -> None:
    register = st.session_state.register
    st.subheader(t("新园区 (已绘制)", "New park (drawn)"))
    st.markdown(drawn_area_text(drawing["geometry"], plan, datum=basemap_datum(basemap), lang=lang))
    with st.form("new_park"):
        c1, c2 = st.columns(2)
        park_id = c1.text_input(field_label("id", lang), value=new_park_id(register))
        name_zh = c1.text_input(field_label("name_zh", lang))
        name_en = c1.text_input(field_label("name_en", lang))
        park_types = plan_options(plan, "park_types", lang)
        park_type = c1.selectbox(field_label("park_type", lang), list(park_types), format_func=park_types.get)
        status = c2.selectbox(
            field_label("status", lang), list(STATUSES), format_func=options("status", lang).get
        )
        year = c2.selectbox(
            field_label("delivery_year", lang),
            [None, *plan.years],
            format_func=lambda y: t("未定", "not set") if y is None else str(y),
        )
        new_gfa = c2.number_input(t("新增建筑面积 (m²)", "New floor area (m²)"), min_value=0.0, step=1000.0)
        plan_fields = plan_options(plan, "fields", lang)
        fields = c2.multiselect(
            field_label("fields", lang),
            list(plan_fields),
            format_func=plan_fields.get,
            placeholder=t("选择重点领域 (可多选)", "Choose fields (several allowed)"),
        )
        source = st.text_input(
            field_label("source", lang), value=t("规划人员在地图上绘制", "drawn by a planner")
        )
        submitted = st.form_submit_button(t("加入登记册", "Add to register"))
    if submitted:
        attrs = {
            "id": park_id.strip(),
            "name_zh": name_zh.strip(),
            "name_en": name_en.strip(),
            "park_type": park_type,
            "status": status,
            "status_src": "drawn",
            "delivery_year": year,
            "new_gfa_m2": new_gfa or None,
            "fields": ";".join(fields),
            "source": source,
            "figures_conf": "planner estimate",
            "coord_conf": "drawn",
        }
        try:
            commit_edit(
                st.session_state,
                partial(
                    add_drawn_park, register, drawing["geometry"], attrs, plan, datum=basemap_datum(basemap)
                ),
                comment=f"绘制园区 drawn park {attrs['id']}",
            )
        except PlannerError as err:  # rights, a conflict, validation: the message every page gives
            show_refusal(err, lang, key="drawing")
            return
        st.session_state.handled_drawing = marker
        st.session_state.selected_park = attrs["id"]
        st.session_state.map_view = view_around(drawing["geometry"])  # the rebuilt map stays here
        st.session_state.flash = t(f"已加入园区 {attrs['id']}", f"Park {attrs['id']} added")
        st.rerun(scope="app")


def _take_click(tooltip: str | None) -> bool:
    """Select the park a *new* click on the map names (a click seen before changes nothing)."""
    if tooltip == st.session_state.get("seen_click"):
        return False
    st.session_state.seen_click = tooltip
    clicked = park_id_from_tooltip(tooltip)
    if clicked:
        st.session_state.selected_park = clicked
    return clicked is not None


@st.fragment
def map_fragment() -> None:
    """The map alone reruns on a click or a drawing; panning and zooming rerun nothing."""
    register = st.session_state.register
    view = st.session_state.get("map_view")  # after a save: where the user was, not the whole city
    if view is not None and st.button(t("显示全市", "Show the whole city"), key="whole_city"):
        view = st.session_state.map_view = None
    shown_basemap = basemap
    options = dict(lang=lang, draw=can_draw, bounds=view, parks=False, legend_expanded=False)
    try:
        m = build_map(plan, register, basemap=basemap, tianditu_key=tianditu_key, **options)
    except ValueError as err:
        st.warning(md(err))
        shown_basemap = "none"
        m = build_map(plan, register, **options)
    # the map's latest value is in session state (st_folium's on_change ran before this rerun):
    # take a new click first, so the outline below already shows the park just clicked
    latest = st.session_state.get("plan_map") or {}
    _take_click(latest.get("last_object_clicked_tooltip"))
    selected = st.session_state.get("selected_park")
    # what is in view (the bounds and zoom the map last reported; at first the whole city, or
    # the view kept after a drawing): the parks one by one at street level, else aggregates
    bounds = bounds_of_view(latest) or view or list(plan.district_polygons.total_bounds)
    zoom = latest.get("zoom") or (plan.map_zoom if view is None else 15)
    layer, _ = view_layer(
        plan, map_index(plan, register), bounds, zoom, colour_by=colour_by, lang=lang, basemap=shown_basemap
    )
    out = st_folium(
        m,
        key="plan_map",
        height=600,
        use_container_width=True,
        returned_objects=["last_object_clicked_tooltip", "last_active_drawing", "bounds", "zoom"],
        feature_group_to_add=[
            layer,
            selection_layer(plan, register, selected, lang=lang, basemap=shown_basemap),
        ],
    )
    out = out or {}
    if _take_click(out.get("last_object_clicked_tooltip")):
        selected = st.session_state.selected_park
    drawing = new_drawing(out.get("last_active_drawing")) if can_draw else None
    if drawing:
        marker = hashlib.sha1(json.dumps(drawing["geometry"], sort_keys=True).encode()).hexdigest()
        if marker != st.session_state.get("handled_drawing"):
            _drawing_form(drawing, marker)
    if selected:
        _park_details(selected)
    else:
        st.caption(
            t(
                "点击园区查看其数据与分配; 用左侧工具绘制新园区。",
                "Click a park for its figures and allocations; draw a new park with the tools on the left.",
            )
            if can_draw
            else t("点击园区查看其数据与分配。", "Click a park for its figures and allocations.")
        )
    if note:
        st.info(note)


user = current_user(st.session_state)
note = read_only_note(user, plan, lang)
can_draw = user is not None and user.can_write  # district staff may draw; the write path checks where
if "flash" in st.session_state:
    st.success(md(st.session_state.pop("flash")))
map_fragment()
