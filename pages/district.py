"""District allocations page (for district staff): a district's parks and allocations, validated
edits, quota against allocated, the district's sheet for download."""

from __future__ import annotations

from functools import partial

import pandas as pd
import streamlit as st

from pages import frame, show_refusal
from planner.app import downloads
from planner.app.labels import changes_text, choice_labels, district_area_note
from planner.app.session import (
    commit_edit,
    current_user,
    fmt_wan,
    read_only_note,
)
from planner.app.text import md
from planner.core.capacity import capacity_report
from planner.core.editing import (
    apply_district_allocations,
    district_allocations,
    district_register,
)
from planner.core.geo import fmt_m2
from planner.core.register import BASES, STATUSES
from planner.errors import PlannerError
from planner.i18n import column_labels, field_label, labels, plan_label, translator
from planner.io.export import allocations_layer, parks_layer

plan, register, lang = frame()

t = translator(lang)  # the one translator (planner.i18n)

st.title(t("区级分配", "District allocations"))
user = current_user(st.session_state)
if (
    user
    and user.district_code in plan.district_codes()
    and st.session_state.get("district_preselected_for") != user.name
):
    st.session_state.district_code = user.district_code  # district staff start on their own district
    st.session_state.district_preselected_for = user.name
code = st.selectbox(
    t("选择区", "District"),
    plan.district_codes(),
    format_func=lambda c: plan.district(c).name_zh if lang == "zh" else plan.district(c).name_en,
    key="district_code",
)
district = plan.district(code)
specs = "、".join(plan.label("specialisations", s, lang) for s in district.specialisations) or t(
    "未指定", "none named"
)
st.markdown(
    t(
        f"**角色**: {plan.label('roles', district.role, lang)}; **指定专业方向**: {specs}",
        f"**Role**: {plan.label('roles', district.role, lang)}; **designated specialisation**: {specs}",
    )
)

area_note = district_area_note(plan, code, lang)  # from the plan's functional areas
if area_note:
    st.info(area_note)

if "flash_district" in st.session_state:
    st.success(md(st.session_state.pop("flash_district")))

# the district's figures and quota progress, as the capacity report has them (one rule, not two)
row = capacity_report(plan, register).by_district.set_index("key").loc[code]
allocated, counted = float(row["allocated_m2"]), float(row["counted_m2"])
quota = None if pd.isna(row["quota_m2"]) else float(row["quota_m2"])
c1, c2, c3 = st.columns(3)
c1.metric(
    t("区指标", "Quota"),
    fmt_wan(quota) if quota is not None else t("未设定", "not set"),
    help=fmt_m2(quota) if quota is not None else None,
)
c2.metric(t("已分配", "Allocated"), fmt_wan(allocated), help=fmt_m2(allocated))
c3.metric(t("其中计入目标", "of which counted"), fmt_wan(counted), help=fmt_m2(counted))
if quota is not None:
    met = bool(row["quota_met"])
    st.progress(
        min(1.0, counted / quota) if quota else 1.0,
        text=t("计入 / 指标", "Counted / quota")
        + (t(" · 已达标", " · met") if met else t(" · 未达标", " · not met")),
    )

part = district_register(register, plan, code)  # the district's parks, allocations, quota
parks = part.parks
st.subheader(t(f"本区园区 ({len(parks)})", f"Parks in the district ({len(parks)})"))
park_cols = [
    "id",
    "name_zh",
    "name_en",
    "park_type",
    "status",
    "delivery_year",
    "land_area_m2",
    "new_gfa_m2",
    "figures_conf",
]
st.dataframe(
    pd.DataFrame(parks[park_cols]).assign(
        status=labels("status", parks["status"], lang),
        park_type=parks["park_type"].map(lambda k: plan_label(plan, "park_types", k, lang)),
    ),
    hide_index=True,
    placeholder="—",
    column_config=column_labels(park_cols, lang),
)

note = read_only_note(user, plan, lang, district_code=code)
editor_key = f"alloc_editor_{code}"
current = district_allocations(register, plan, code)
choices = choice_labels(plan, register, lang)  # park names, specialisation/status/basis labels
if note:
    st.subheader(t("分配", "Allocations"))
    st.info(note)
    st.dataframe(
        current.assign(**{c: current[c].map(f) for c, f in choices.items()}),
        hide_index=True,
        placeholder="—",
        key=f"alloc_view_{code}",
        column_config=column_labels(current.columns, lang),
    )
else:
    st.subheader(t("分配 (可编辑)", "Allocations (editable)"))
    st.caption(
        t(
            f"面积单位 m²; 交付年份须在 {plan.period_start}-{plan.deadline_year} 内; 园区须位于本区。修改经校验后才生效。",
            f"Areas in m²; delivery years within {plan.period_start}-{plan.deadline_year}; parks must lie in this district. "
            "Edits apply only after validation.",
        )
    )
    edited = st.data_editor(
        current,
        key=editor_key,
        num_rows="dynamic",
        hide_index=True,
        placeholder="—",
        column_config={
            "allocation_id": st.column_config.TextColumn(field_label("allocation_id", lang), disabled=True),
            "park_id": st.column_config.SelectboxColumn(
                field_label("park_id", lang),
                options=list(parks["id"]),
                format_func=choices["park_id"],
                required=True,
            ),
            "specialisation": st.column_config.SelectboxColumn(
                field_label("specialisation", lang),
                options=[s.key for s in plan.specialisations],
                format_func=choices["specialisation"],
            ),
            "area_m2": st.column_config.NumberColumn(field_label("area_m2", lang), format="%.0f"),
            "delivery_year": st.column_config.NumberColumn(field_label("delivery_year", lang), format="%d"),
            "status": st.column_config.SelectboxColumn(
                field_label("status", lang), options=list(STATUSES), format_func=choices["status"]
            ),
            "basis": st.column_config.SelectboxColumn(
                field_label("basis", lang), options=list(BASES), format_func=choices["basis"]
            ),
            "note": st.column_config.TextColumn(field_label("note", lang)),
        },
    )
    if st.button(t("校验并应用修改", "Validate and apply"), key="apply_allocations", type="primary"):
        try:
            changes = commit_edit(
                st.session_state,
                partial(
                    apply_district_allocations,
                    register,
                    edited,
                    code,
                    plan,
                    place=t(f"{district.name_zh}分配表", f"{district.name_en} allocations"),
                ),
                comment=f"{district.name_zh}分配表 allocations of {district.name_en}",
            )
        except PlannerError as err:  # rights, a conflict, validation: the message every page gives
            show_refusal(err, lang, key="allocation", forget=[editor_key])
        else:
            del st.session_state[editor_key]
            st.session_state.flash_district = (
                t("修改已应用。", "Edits applied.") + f" {changes_text(changes, lang)}"
                if changes
                else t(
                    "没有修改: 表格与已保存的分配相同, 未保存新版本。",
                    "Nothing changed: the table matches the saved allocations; no new version was saved.",
                )
            )
            st.rerun()

st.subheader(t("下载本区数据", "Download the district's data"))
d0, d1, d2 = st.columns(3)
d0.download_button(
    t("一览表 Excel (数字经济产业园区规划布局一览表)", "Annex table, Excel (one row a park)"),
    partial(downloads.annex_bytes, plan, part),  # written when clicked
    file_name=downloads.file_name(plan.id, f"{code}_annex", "xlsx"),
    mime=downloads.MIME["xlsx"],
    key="dl_annex",
    on_click="ignore",  # no rerun: the other buttons' files stay valid for quick clicks
)
d1.download_button(
    t("园区 GeoJSON", "Parks GeoJSON"),
    partial(downloads.layer_bytes, parks_layer(plan, part), "geojson", layer="parks"),
    file_name=downloads.file_name(plan.id, f"{code}_parks", "geojson"),
    mime=downloads.MIME["geojson"],
    key="dl_parks",
    on_click="ignore",
)
d2.download_button(
    t("分配 GeoJSON", "Allocations GeoJSON"),
    partial(downloads.layer_bytes, allocations_layer(plan, part), "geojson", layer="allocations"),
    file_name=downloads.file_name(plan.id, f"{code}_allocations", "geojson"),
    mime=downloads.MIME["geojson"],
    key="dl_allocations",
    on_click="ignore",
)
