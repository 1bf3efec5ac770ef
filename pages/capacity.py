"""Capacity page: counted / secured / gap against the target, by year, district, status and
specialisation; the findings, filterable, each leading to its park."""

from __future__ import annotations

from functools import partial

import pandas as pd
import streamlit as st

from pages import as_of_picker, frame, show_refusal
from planner.app.charts import cumulative_chart
from planner.app.labels import counted_source, findings_table
from planner.app.monitoring import session_monitor, session_trend
from planner.app.session import (
    commit_edit,
    current_user,
    fmt_wan,
    quota_table,
    quotas_from_table,
)
from planner.app.text import md
from planner.core.capacity import capacity_report
from planner.core.editing import park_of_item
from planner.core.findings import SEVERITIES, check_findings
from planner.core.geo import M2_PER_WAN, fmt_m2
from planner.core.register import set_quotas
from planner.errors import PlannerError
from planner.i18n import label, options, translator

plan, register, lang = frame()
as_of = as_of_picker(lang)
name_col = "name_zh" if lang == "zh" else "name_en"
label_col = "label_zh" if lang == "zh" else "label_en"

t = translator(lang)  # the one translator (planner.i18n)

report = capacity_report(plan, register)
st.title(t("容量核算", "Capacity"))
c1, c2, c3, c4, c5 = st.columns(5)
c1.metric(t("目标", "Target"), fmt_wan(report.target_m2), help=fmt_m2(report.target_m2))
c2.metric(
    t("已计入", "Counted"),
    fmt_wan(report.counted_m2),
    f"{report.progress:.1%}" if report.has_target else None,  # a plan may set no new-space target
    delta_color="off",
    help=fmt_m2(report.counted_m2),
)
c3.metric(t("已落实", "Secured"), fmt_wan(report.secured_m2), help=fmt_m2(report.secured_m2))
c4.metric(t("仅规划", "Planned only"), fmt_wan(report.planned_m2), help=fmt_m2(report.planned_m2))
c5.metric(t("缺口", "Gap"), fmt_wan(report.gap_m2), help=fmt_m2(report.gap_m2))
st.caption(
    t(
        f"目标 {fmt_m2(report.target_m2)}, 截止 {report.deadline.isoformat()}。"
        f"计入: 交付年份在 {plan.period_start}-{plan.deadline_year} 内; 已落实: 其中在建或已交付。"
        f"依据未核实园区数据的计入面积: {fmt_m2(report.counted_unconfirmed_m2)}; 不计入: {fmt_m2(report.not_counted_m2)}。",
        f"Target {fmt_m2(report.target_m2)} by {report.deadline.isoformat()}. "
        f"Counted: delivery year within {plan.period_start}-{plan.deadline_year}; secured: of that, under "
        f"construction or delivered. Counted on unconfirmed park figures: {fmt_m2(report.counted_unconfirmed_m2)}; "
        f"not counted: {fmt_m2(report.not_counted_m2)}.",
    )
)

st.caption(counted_source(plan, report, lang))

st.subheader(t("逐年累计 (万㎡)", "Cumulative by year (万㎡)"))
mon = session_monitor(st.session_state, plan, register)  # as of the sidebar's date
delivered = mon.delivered_by_year.set_index("year")["delivered_cumulative_m2"]
st.altair_chart(cumulative_chart(report, lang, delivered=delivered), width="stretch")

st.subheader(t("变化趋势: 各保存版本 (万㎡)", "Trend over the saved versions (万㎡)"))
history = session_trend(st.session_state, plan)
trend_chart = pd.DataFrame(
    {
        t("计入", "Counted"): history["counted_m2"].to_numpy() / M2_PER_WAN,
        t("已落实", "Secured"): history["secured_m2"].to_numpy() / M2_PER_WAN,
        t("已交付", "Delivered"): history["delivered_m2"].to_numpy() / M2_PER_WAN,
    },
    index=pd.Index([f"v{v}" for v in history["version"]], name=t("版本", "Version")),
)
st.bar_chart(
    trend_chart, stack=False, x_label=t("版本", "Version"), y_label="万㎡"
)  # one bar group a version
st.caption(
    t(
        f"场景的每个保存版本 ({len(history)} 个) 中计入、已落实和已交付的面积; 命令行: python -m planner check --trend --json。",
        f"Counted, secured and delivered space in each saved version of the scenario ({len(history)}); "
        "command line: python -m planner check --trend --json.",
    )
)

st.subheader(t("各区", "By district"))
d = report.by_district
spec = d["specialisations"].fillna("").str.split(";")
table = pd.DataFrame(
    {
        t("区", "District"): d[name_col],
        t("角色", "Role"): d["role"].map(lambda k: plan.label("roles", k, lang) if k else ""),
        t("指定专业方向", "Designated specialisation"): spec.map(
            lambda ks: "、".join(plan.label("specialisations", k, lang) for k in ks if k)
        ),
        t("计入 (万㎡)", "Counted (万㎡)"): d["counted_m2"] / M2_PER_WAN,
        t("已落实 (万㎡)", "Secured (万㎡)"): d["secured_m2"] / M2_PER_WAN,
        t("指标 (万㎡)", "Quota (万㎡)"): d["quota_m2"] / M2_PER_WAN,
        t("达标", "Quota met"): d["quota_met"].map({True: "✓", False: "✗"}).fillna(t("未设指标", "no quota")),
        t("方向一致比例", "Aligned share"): d["aligned_share"],
    }
)
st.dataframe(
    table,
    hide_index=True,
    placeholder="—",
    column_config={
        t("方向一致比例", "Aligned share"): st.column_config.NumberColumn(format="percent"),
        **{c: st.column_config.NumberColumn(format="%.1f") for c in table.columns if "万㎡" in c},
    },
)

user = current_user(st.session_state)
if "flash_quotas" in st.session_state:
    st.success(md(st.session_state.pop("flash_quotas")))
if user is not None and user.can_set_quotas:
    with st.expander(t("设定各区指标 (市级规划人员)", "Set district quotas (city planners)"), expanded=False):
        st.caption(t("单位 m²; 留空表示不设指标。", "In m²; leave blank for no quota."))
        quotas = st.data_editor(
            quota_table(plan, register),
            key="quota_editor",
            hide_index=True,
            placeholder=t("未设定", "not set"),
            disabled=["district_code", "name_zh", "name_en"],
            column_config={
                "district_code": None,  # the code stays behind; the names say which district
                "name_zh": "区",
                "name_en": "District",
                "quota_m2": st.column_config.NumberColumn(
                    t("指标 (m²)", "Quota (m²)"), format="%.0f", min_value=0
                ),
            },
        )
        if st.button(t("保存指标", "Save quotas"), key="apply_quotas", type="primary"):
            try:
                commit_edit(
                    st.session_state,
                    partial(set_quotas, register, quotas_from_table(quotas), plan),
                    comment="各区指标 district quotas",
                )
            except PlannerError as err:  # rights, a conflict, validation: the message every page gives
                show_refusal(err, lang, key="quota", forget=["quota_editor"])
            else:
                del st.session_state["quota_editor"]
                st.session_state.flash_quotas = t("指标已保存。", "Quotas saved.")
                st.rerun()

left, right = st.columns(2)
with left:
    st.subheader(t("按状态 (万㎡)", "By status (万㎡)"))
    s = report.by_status
    st.bar_chart(
        pd.DataFrame(
            {
                t("计入", "Counted"): s["counted_m2"].to_numpy() / M2_PER_WAN,
                t("已分配", "Allocated"): s["allocated_m2"].to_numpy() / M2_PER_WAN,
            },
            index=s[label_col],
        ),
        stack=False,
        y_label="万㎡",
    )
with right:
    st.subheader(t("按专业方向 (万㎡)", "By specialisation (万㎡)"))
    sp = report.by_specialisation
    st.bar_chart(
        pd.DataFrame(
            {
                t("计入", "Counted"): sp["counted_m2"].to_numpy() / M2_PER_WAN,
                t("已分配", "Allocated"): sp["allocated_m2"].to_numpy() / M2_PER_WAN,
            },
            index=sp[label_col],
        ),
        stack=False,
        horizontal=True,
        x_label="万㎡",
    )

st.subheader(t("检查结果", "Findings"))
findings = pd.concat(  # the early warnings as of the date, then the register's findings
    [mon.warnings_table, check_findings(plan, register)], ignore_index=True
)
f1, f2, f3 = st.columns([1, 2, 2])
severities = f1.multiselect(
    t("级别", "Severity"),
    list(SEVERITIES),
    default=["error", "warning"],
    format_func=options("severity", lang).get,
    placeholder=t("选择级别", "Choose severities"),
    key="f_sev",
)
codes = f2.multiselect(
    t("类别", "Kind"),
    sorted(findings["code"].unique()),
    format_func=lambda c: label("finding", c, lang),
    placeholder=t("全部类别", "All kinds"),
    key="f_code",
)
text = f3.text_input(t("搜索 (名称、编号或说明)", "Search (name, id or message)"), key="f_text")
table = findings_table(plan, register, findings, lang)
keep = findings["severity"].isin(severities)
if codes:
    keep &= findings["code"].isin(codes)
if text:
    hay = (
        table.iloc[:, 1] + " " + findings["id"] + " " + findings["message_zh"] + " " + findings["message_en"]
    )
    keep &= hay.str.contains(text, case=False, regex=False)
shown = findings[keep]
st.caption(
    t(
        f"显示 {len(shown)} / {len(findings)} 条; 选中一行查看其园区。",
        f"{len(shown)} of {len(findings)} shown; select a row to see its park.",
    )
)
event = st.dataframe(
    table[keep].reset_index(drop=True),
    hide_index=True,
    placeholder="—",
    on_select="rerun",
    selection_mode="single-row",
    key="findings_table",
)
rows = event.selection.rows if event is not None else []
if rows:
    park_id = park_of_item(register, shown["id"].iloc[rows[0]])
    if park_id is not None:
        park = register.parks[register.parks["id"] == park_id].iloc[0]
        st.markdown(f"**{md(park['name_zh'])}** / {md(park['name_en'] or '—')} ({md(park_id)})")
        if st.button(t("在地图上查看该园区", "Show this park on the map"), key="goto_park"):
            st.session_state.selected_park = park_id
            st.switch_page("pages/map.py")
    else:
        st.caption(t("该条检查结果不对应单个园区。", "This finding is not about a single park."))
