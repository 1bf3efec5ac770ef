"""Shenzhen Park Planner: the Streamlit entry script and its Overview page.

Run with ``streamlit run app.py`` (or ``bash run.sh app``); the other pages are in ``pages/``.
Every page, this one included, starts with ``pages.frame()``: the plan (``st.cache_resource``)
and the store (``planner.app.session.shared_store``, the one store cache), the session's working register (``planner.app.session.ensure_state``), the shared sidebar;
so a deep link works. Pages are thin: they call ``planner`` and draw the result.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st
from streamlit_folium import st_folium

from pages import as_of_picker, frame
from planner.app.labels import counted_source, findings_table
from planner.app.mapview import overview_map
from planner.app.monitoring import session_monitor, session_targets
from planner.app.session import fmt_wan, targets_frame
from planner.core.capacity import capacity_report, target_table
from planner.core.findings import check_findings, findings_frame
from planner.core.geo import fmt_m2
from planner.core.indicators import CONFIDENCE, met_text
from planner.i18n import translator

plan, register, lang = frame()
as_of = as_of_picker(lang)
t = translator(lang)  # the one translator (planner.i18n)


# Overview: the plan at a glance: progress toward the target, a small map, the most serious findings.
st.title(plan.title_zh if lang == "zh" else plan.title_en)
header = st.container()  # the plan's figures: filled after the map is on its way to the browser
left, right = st.columns([3, 2])
with left:
    st.subheader(t("园区分布", "Parks"))
    st_folium(
        overview_map(plan, register, lang=lang),  # aggregates: never the whole register
        key="overview_map",
        height=420,
        use_container_width=True,
        returned_objects=[],
    )
with header:
    report = capacity_report(plan, register)
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
        mon = session_monitor(st.session_state, plan, register)  # every figure as of the sidebar's date
        if mon.phase == "ended":  # after the deadline: the result, not progress
            result = mon.result_delivered_m2 or 0.0
            r1, r2, r3 = st.columns(3)
            r1.metric(
                t("截止时已交付 (结果)", "Delivered by the deadline (result)"),
                fmt_wan(result),
                help=fmt_m2(result),
            )
            r2.metric(
                t("逾期未交付", "Slipped (not delivered)"),
                fmt_wan(mon.slipped_m2),
                help=fmt_m2(mon.slipped_m2),
            )
            r3.metric(t("结果", "Result"), t("达成", "met") if mon.result_met else t("未达成", "not met"))
            st.warning(  # the plan's state, not an error of the app
                t(
                    f"规划期已于 {plan.deadline} 结束 (截至 {as_of})。结果: 截止时已交付 {fmt_m2(result)}, 目标 "
                    f"{fmt_m2(report.target_m2)}, {'已达成' if mon.result_met else '未达成'}; 规划期内应交付但未交付 "
                    f"{fmt_m2(mon.slipped_m2)} (详见「监测评估」页)。",
                    f"The plan period ended on {plan.deadline} (as of {as_of}). Result: {fmt_m2(result)} delivered by "
                    f"the deadline against {fmt_m2(report.target_m2)}: {'met' if mon.result_met else 'not met'}; "
                    f"{fmt_m2(mon.slipped_m2)} due in the period was not delivered (see Monitoring & evaluation).",
                )
            )
        else:
            st.progress(
                min(1.0, report.progress),
                text=t(
                    f"截至 {as_of}: 进度 {report.progress:.1%} (计入 = 交付年份在 {plan.period_start}-"
                    f"{plan.deadline_year} 内); 规划期已过 {mon.elapsed_share:.0%}; {mon.phase_text()}",
                    f"As of {as_of}: progress {report.progress:.1%} (counted = delivery year within "
                    f"{plan.period_start}-{plan.deadline_year}); {mon.elapsed_share:.0%} of the period passed; "
                    f"{mon.phase_text('en')}",
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

with right:
    st.subheader(t("主要问题", "Most serious findings"))
    warnings = (
        mon.warnings_table if target is not None else []
    )  # as of the date (a plan without the space target: none)
    findings = pd.concat(  # the early warnings as of the date first, then the register's findings
        [findings_frame(warnings), check_findings(plan, register)], ignore_index=True
    )
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

st.subheader(t("规划的各项目标", "Every target of the plan"))
targets = session_targets(st.session_state, plan, register)


def _value(v: float | None, unit: str) -> str:
    return "—" if v is None or v != v else f"{v:,.0f} {unit}"


st.dataframe(
    pd.DataFrame(
        {
            t("目标", "Target"): targets["label_zh" if lang == "zh" else "label_en"],
            t("目标值", "Target value"): [
                "—"
                if r["target"] is None or r["target"] != r["target"]
                else f"{r['comparison']} {r['target']:,.0f} {r['unit']} ({r['year']})"
                for r in targets.to_dict("records")
            ],
            t("最新官方值 (已核实)", "Latest official value (confirmed)"): [
                _value(r["official_value"], r["unit"]) for r in targets.to_dict("records")
            ],
            t("未核实值 (非官方)", "Unconfirmed value (not official)"): [
                _value(r["unconfirmed_value"], r["unit"]) for r in targets.to_dict("records")
            ],
            t("来源", "Source"): targets["source"].replace("", "—"),
            t("可信度", "Confidence"): [
                CONFIDENCE[c][0 if lang == "zh" else 1] if c in CONFIDENCE else (c or "—")
                for c in targets["confidence"]
            ],
            t("截止时是否达成", "Met at the deadline"): [
                met_text(r, lang) for r in targets.to_dict("records")
            ],
        }
    ),
    hide_index=True,
    placeholder="—",
    height=35 * (len(targets) + 1) + 3,  # every target, no inner scrolling
)
st.caption(
    t(
        "新增产业空间见上。其他目标的实际值由市级规划人员在「监测评估」页录入; 只有“已核实”的数值是官方数值。"
        "软件名园个数来自园区登记册。",
        "New industrial space is above. City planners record the other targets' actual values on Monitoring & "
        "evaluation; only confirmed values are official. Name-park counts come from the park register.",
    )
)
