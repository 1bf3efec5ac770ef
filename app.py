"""Shenzhen Park Planner: the Streamlit entry script and its Overview page.

Run with ``streamlit run app.py`` (or ``bash run.sh app``); the other pages are in ``pages/``.
Every page, this one included, starts with ``pages.frame()``: the plan (``st.cache_resource``)
and the store (``planner.app.session.shared_store``, the one store cache), the session's working register (``planner.app.session.ensure_state``), the shared sidebar;
so a deep link works. Pages are thin: they call ``planner`` and draw the result.
"""

from __future__ import annotations

import streamlit as st
from streamlit_folium import st_folium

from pages import frame
from planner.app.labels import counted_source, findings_table
from planner.app.mapview import build_map
from planner.app.session import fmt_wan, targets_frame
from planner.core.capacity import capacity_report, target_table
from planner.core.findings import findings_frame, run_checks
from planner.core.geo import fmt_m2
from planner.i18n import translator

plan, register, lang = frame()
t = translator(lang)  # the one translator (planner.i18n)


# Overview: the plan at a glance: progress toward the target, a small map, the most serious findings.
report = capacity_report(plan, register)
st.title(plan.title_zh if lang == "zh" else plan.title_en)
target = plan.new_space
if (
    target is None
):  # a plan with no new-space target (e.g. Zhejiang's): its other targets, counted where possible
    st.dataframe(
        targets_frame(target_table(plan, register, report), lang),
        hide_index=True,
        placeholder="—",
        key="targets",
    )
else:
    st.markdown(
        t(
            f"**目标**: {target.label_zh} {fmt_m2(report.target_m2)}, 截止 {report.deadline.isoformat()}"
            f" (《{plan.sources[target.source]['title_zh']}》{target.section}: “{target.quote}”)",
            f"**Target**: {target.label_en} {fmt_m2(report.target_m2)} by {report.deadline.isoformat()}"
            f" (action plan, section {target.section}: “{target.quote}”)",
        )
    )
    c1, c2, c3, c4 = st.columns(4)
    c1.metric(t("目标", "Target"), fmt_wan(report.target_m2), help=fmt_m2(report.target_m2))
    c2.metric(t("已计入", "Counted"), fmt_wan(report.counted_m2), help=fmt_m2(report.counted_m2))
    c3.metric(
        t("其中已落实 (在建/已交付)", "of which secured"),
        fmt_wan(report.secured_m2),
        help=fmt_m2(report.secured_m2),
    )
    c4.metric(t("缺口", "Gap"), fmt_wan(report.gap_m2), help=fmt_m2(report.gap_m2))
    st.progress(
        min(1.0, report.progress),
        text=t(
            f"进度 {report.progress:.1%} (计入 = 交付年份在 {plan.period_start}-{plan.deadline_year} 内)",
            f"Progress {report.progress:.1%} (counted = delivery year within {plan.period_start}-{plan.deadline_year})",
        ),
    )
    st.caption(counted_source(plan, report, lang))
    if report.counted_unconfirmed_m2 > 0:
        st.warning(
            t(
                f"计入面积中 {fmt_m2(report.counted_unconfirmed_m2)} 所依据的园区数据未核实。",
                f"{fmt_m2(report.counted_unconfirmed_m2)} of the counted space rests on unconfirmed park figures.",
            )
        )
    if report.not_counted_m2 > 0:
        st.info(
            t(
                f"另有 {fmt_m2(report.not_counted_m2)} 已分配但无规划期内交付年份, 不计入目标。",
                f"A further {fmt_m2(report.not_counted_m2)} is allocated but has no delivery year in the plan: not counted.",
            )
        )

left, right = st.columns([3, 2])
with left:
    st.subheader(t("园区分布", "Parks"))
    st_folium(
        build_map(plan, register, lang=lang),
        key="overview_map",
        height=420,
        use_container_width=True,
        returned_objects=[],
    )
with right:
    st.subheader(t("主要问题", "Most serious findings"))
    findings = findings_frame(run_checks(plan, register))
    serious = findings[findings["severity"].isin(["error", "warning"])].head(8)
    st.dataframe(findings_table(plan, register, serious, lang), hide_index=True, placeholder="—")
    counts = findings["severity"].value_counts()
    st.caption(
        t(
            f"共 {len(findings)} 条: 错误 {counts.get('error', 0)}, 警告 {counts.get('warning', 0)}, "
            f"提示 {counts.get('info', 0)}。详见「容量」页。",
            f"{len(findings)} findings: {counts.get('error', 0)} errors, {counts.get('warning', 0)} warnings, "
            f"{counts.get('info', 0)} notes. See the Capacity page.",
        )
    )
