"""Import page: upload a GIS file of parks, preview every park and problem, confirm to add them.

The file is read and validated by planner.io.ingest (held in session state by planner.app.uploads, so a
rerun does not read it again); nothing reaches the working register unless the preview has no
problem and the user confirms, and then only through planner.app.session.commit_edit.
"""

from __future__ import annotations

import streamlit as st
from streamlit_folium import st_folium

from pages import frame, show_refusal
from planner.app import uploads
from planner.app.mapview import import_map
from planner.app.session import (
    current_user,
)
from planner.app.text import md
from planner.core.geo import fmt_m2
from planner.errors import PlannerError
from planner.i18n import translator
from planner.io.allocations import allocations_table as alloc_display
from planner.io.allocations import taken_columns
from planner.settings import max_upload_mb

plan, register, lang = frame()
t = translator(lang)  # the one translator (planner.i18n)

st.title(t("导入", "Import"))
st.caption(
    t(
        "从 GIS 文件导入园区: GeoJSON、GeoPackage、Shapefile (连同 .dbf/.shx/.prj/.cpg 打包为 .zip)、"
        "KML/KMZ、带经纬度列的 CSV/Excel。先预览与校验; 只有全部无误并经确认后才加入登记册。",
        "Import parks from a GIS file: GeoJSON, GeoPackage, Shapefile (zipped with its .dbf/.shx/.prj/.cpg), "
        "KML/KMZ, CSV/Excel with longitude/latitude columns. Previewed and checked first; added to the "
        "register only when everything is valid and you confirm.",
    )
)
if "import_flash" in st.session_state:
    st.success(md(st.session_state.pop("import_flash")))

nonce = st.session_state.setdefault("import_nonce", 0)  # a new uploader after each import
left, right = st.columns([3, 2])
with left:
    uploaded = st.file_uploader(
        t("文件", "File"),
        type=list(uploads.UPLOAD_TYPES),
        key=f"import_file_{nonce}",
        max_upload_size=max_upload_mb(),
    )
with right:
    crs_choice = st.selectbox(
        t("坐标系", "Coordinate system"),
        list(uploads.CRS_KEYS),
        format_func=lambda k: uploads.crs_label(k, lang),
        key="import_crs",
        help=t(
            "高德、腾讯地图取得的坐标为 GCJ-02, 百度为 BD-09: 选择后转换为 WGS84 (约 500 米偏移)。",
            "Coordinates taken from Amap or Tencent maps are GCJ-02, from Baidu BD-09: "
            "choose it and they are converted to WGS84 (about 500 m).",
        ),
    )
    epsg_text = ""
    if crs_choice == "epsg":
        epsg_text = st.text_input(
            t("EPSG 代码", "EPSG code"), placeholder=plan.metric_crs.split(":")[-1], key="import_epsg"
        )

upload = uploads.read_upload(uploaded)
if upload is None:
    uploads.forget_preview(st.session_state)
    st.info(t("请选择要导入的文件。", "Choose a file to import."))
    st.stop()
try:
    crs = uploads.crs_option(crs_choice, epsg_text)
except PlannerError as err:
    st.error(md(err))
    st.stop()

accept_repairs = bool(st.session_state.get("import_accept_repairs", False))
with st.spinner(t("正在读取和校验…", "Reading and checking…")):
    preview = uploads.held_preview(
        st.session_state, upload, plan, register, crs=crs, accept_repairs=accept_repairs
    )

n = len(preview.parks)
denied = uploads.preview_denied(st.session_state, preview)  # the library's rights check, asked now
if preview.ok and denied is None:
    st.success(
        t(
            f"{md(upload.name)}: {n} 个园区可以导入 (坐标系 {md(preview.crs_used or '—')})。请检查后确认。",
            f"{md(upload.name)}: {n} park(s) can be imported (CRS {md(preview.crs_used or '—')}). Check, then confirm.",
        )
    )
elif preview.ok:
    st.warning(
        t(
            f"{upload.name}: 文件本身无误, 但您无权导入其中 {len(denied.problems)} 项; 确认将被拒绝:",
            f"{upload.name}: the file is valid, but you may not import {len(denied.problems)} item(s) of it; "
            "a confirm would be refused:",
        )
        + "\n\n"
        + "\n".join(f"- {p.message_zh if lang == 'zh' else p.message_en}" for p in denied.problems)
    )
else:
    st.error(
        t(
            f"{md(upload.name)}: 发现 {len(preview.problems)} 个问题, 不能导入; 登记册未改变。",
            f"{md(upload.name)}: {len(preview.problems)} problem(s); it cannot be imported. The register is unchanged.",
        )
    )

st.subheader(t(f"将导入的园区 ({n})", f"Parks to import ({n})"))
st.dataframe(
    uploads.summary_table(preview, plan, lang=lang), hide_index=True, placeholder="—", key="import_parks"
)

alloc = preview.allocations
if len(alloc) or preview.allocation_columns:
    st.subheader(
        t(
            f"将导入的分配 ({len(alloc)} 条, 合计 {fmt_m2(float(alloc['area_m2'].sum()))}, 计入目标)",
            f"Allocations to import ({len(alloc)}, {fmt_m2(float(alloc['area_m2'].sum()))}, counted towards the target)",
        )
    )
    st.dataframe(alloc_display(alloc, plan, lang), hide_index=True, placeholder="—", key="import_allocations")
with st.expander(t("文件中的列: 导入了什么", "The file's columns: what was taken")):
    st.dataframe(
        taken_columns(preview.columns, preview.allocation_columns, lang), hide_index=True, key="import_taken"
    )
    st.caption(
        t(
            "未导入的列和未导入的分配 (如交付年份不在规划期内) 见下方的提示。",
            "Columns not taken, and allocations not taken (e.g. a delivery year outside the plan), are listed "
            "in the warnings below.",
        )
    )

issues = uploads.issues_table(preview, lang=lang)
st.subheader(
    t(
        f"问题与提示 ({len(preview.problems)} 个问题, {len(preview.warnings)} 个警告)",
        f"Problems and warnings ({len(preview.problems)} problems, {len(preview.warnings)} warnings)",
    )
)
if len(issues):
    code = issues.columns[-1]  # the issue's code: kept for tests and the CLI, not shown
    st.dataframe(issues, hide_index=True, placeholder="—", key="import_issues", column_config={code: None})
else:
    st.caption(t("没有问题。", "No problems."))

repairs = uploads.repairs_table(preview, plan, lang=lang)
if len(repairs):
    st.subheader(t("修复后的形状", "Repaired shapes offered"))
    st.caption(
        t(
            "以下几何无效 (如自相交)。不会自动修改: 勾选后才以修复后的形状 (地图上的紫色虚线) 导入。",
            "These geometries are invalid (e.g. self-intersecting). Nothing is changed silently: "
            "tick the box to import the repaired shapes (purple dashes on the map).",
        )
    )
    st.dataframe(repairs, hide_index=True, placeholder="—", key="import_repairs")
    st.checkbox(t("采用修复后的形状", "Accept the repaired shapes"), key="import_accept_repairs")

st.subheader(t("预览地图", "Preview map"))
st_folium(
    import_map(plan, register, preview.parks, repairs=preview.repairs, lang=lang),
    key="import_map",
    height=560,
    use_container_width=True,
    returned_objects=[],
)

if current_user(st.session_state) is None:
    st.caption(
        t(
            "未登录: 确认导入需要有写权限的账户。",
            "Not signed in: confirming an import needs an account that may write.",
        )
    )
if st.button(
    t(f"确认导入 {n} 个园区", f"Confirm: import {n} park(s)"),
    type="primary",
    disabled=not preview.ok or n == 0 or denied is not None,
    key="import_confirm",
):
    try:
        uploads.confirm_upload(st.session_state, preview, comment=f"import {upload.name}")
    except PlannerError as err:  # rights, a conflict, validation: the message every page gives
        show_refusal(err, lang, key="import")
    else:
        st.session_state.import_flash = t(
            f"已导入 {upload.name} 中的 {n} 个园区: {', '.join(preview.parks['id'])}",
            f"Imported {n} park(s) from {upload.name}: {', '.join(preview.parks['id'])}",
        )
        st.session_state.import_nonce = nonce + 1
        st.session_state.pop("import_accept_repairs", None)
        st.rerun()
