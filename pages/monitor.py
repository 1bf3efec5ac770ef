"""Monitoring & evaluation page: the figures as of a date (the result after the deadline), what
slipped, the early warnings, the other targets' recorded values (city planners record them, on
the page or from a CSV), the evaluation report download, and starting the successor plan."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from pages import as_of_picker, frame, show_refusal
from planner.app.labels import findings_table
from planner.app.monitoring import (
    record_indicator_file,
    record_indicator_rows,
    session_monitor,
    session_report,
    start_successor,
)
from planner.app.session import current_user, fmt_wan, state_store
from planner.core.access import may
from planner.core.geo import fmt_m2
from planner.core.indicators import CONFIDENCE, INDICATOR_COLUMNS, INDICATOR_LABELS, indicator_targets
from planner.core.register import STATUS_LABELS
from planner.core.successor import TargetInput, parse_period
from planner.errors import PlannerError
from planner.i18n import translator

plan, register, lang = frame()
as_of = as_of_picker(lang)
t = translator(lang)  # the one translator (planner.i18n)


mon = session_monitor(st.session_state, plan, register)
st.title(t("监测评估", "Monitoring & evaluation"))
st.caption(
    t(
        f"截至 {as_of} ({mon.phase_text()}); 规划期 {plan.period_start}-{plan.deadline_year}, 截止 {plan.deadline}。"
        "日期可在侧栏更改。",
        f"As of {as_of} ({mon.phase_text('en')}); plan period {plan.period_start}-{plan.deadline_year}, deadline "
        f"{plan.deadline}. Change the date in the sidebar.",
    )
)
c1, c2, c3, c4 = st.columns(4)
c1.metric(t("目标", "Target"), fmt_wan(mon.target_m2), help=fmt_m2(mon.target_m2))
if mon.phase == "ended":
    c2.metric(
        t("截止时已交付 (结果)", "Delivered by the deadline (result)"),
        fmt_wan(mon.result_delivered_m2),
        help=fmt_m2(mon.result_delivered_m2),
    )
    c3.metric(t("结果", "Result"), t("达成", "met") if mon.result_met else t("未达成", "not met"))
else:
    c2.metric(t("已计入", "Counted"), fmt_wan(mon.counted_m2), f"{mon.progress:.1%}", delta_color="off")
    c3.metric(t("规划期已过", "Period elapsed"), f"{mon.elapsed_share:.0%}")
c4.metric(t("逾期未交付", "Slipped"), fmt_wan(mon.slipped_m2), help=fmt_m2(mon.slipped_m2))

st.subheader(t("逾期未交付 (规划期内应交付)", "Slipped: due in the period, not delivered"))
slipped = mon.slipped
st.dataframe(
    pd.DataFrame(
        {
            t("分配", "Allocation"): slipped["allocation_id"],
            t("园区", "Park"): slipped["park_name"],
            t("面积 (万㎡)", "Area (万㎡)"): slipped["area_m2"] / 10_000,
            t("应交付年份", "Due year"): slipped["delivery_year"],
            t("状态", "Status"): slipped["status"].map(lambda s: STATUS_LABELS[s][0 if lang == "zh" else 1]),
            t("逾期天数", "Days late"): slipped["days_late"],
            t("记为已交付日期", "Recorded delivered on"): slipped["recorded_delivered_on"],
        }
    ),
    hide_index=True,
    placeholder="—",
    column_config={t("面积 (万㎡)", "Area (万㎡)"): st.column_config.NumberColumn(format="%.1f")},
)

st.subheader(t("预警", "Early warnings"))
st.dataframe(  # severity, item and kind as labels (planner.app.labels), never codes
    findings_table(plan, register, mon.warnings_table, lang), hide_index=True, placeholder="—"
)

st.subheader(t("评估报告", "Evaluation report"))
kind = t("终期评估", "final evaluation") if mon.phase == "ended" else t("中期评估", "mid-term evaluation")
MIME = {
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "pdf": "application/pdf",
}
b1, b2 = st.columns(2)
if b1.button(t(f"生成{kind}报告 (Word)", f"Make the {kind} report (Word)"), key="make_report"):
    st.session_state.report_file = session_report(st.session_state, plan, register)
if b2.button(t(f"生成{kind}报告 (PDF)", f"Make the {kind} report (PDF)"), key="make_report_pdf"):
    try:
        st.session_state.report_file = session_report(st.session_state, plan, register, "pdf")
    except PlannerError as err:
        show_refusal(err, lang, key="report_pdf")
if "report_file" in st.session_state:
    name, data = st.session_state.report_file
    st.download_button(
        t(f"下载 {name}", f"Download {name}"),
        data,
        file_name=name,
        mime=MIME["pdf" if name.endswith(".pdf") else "docx"],
        key="report_download",
    )

st.subheader(t("其他目标的实际值", "The other targets' actual values"))
store = state_store(st.session_state)
stored = store.indicators()
labels = {tg.key: (tg.label_zh if lang == "zh" else tg.label_en) for tg in indicator_targets(plan)}
shown = stored.assign(
    indicator=stored["indicator"].map(lambda k: labels.get(k, k)),
    confidence=stored["confidence"].map(lambda c: CONFIDENCE.get(c, (c, c))[0 if lang == "zh" else 1]),
)
if shown.empty:
    st.info(t("尚无录入的实际值。", "No actual values recorded yet."))
else:
    st.dataframe(
        shown,
        hide_index=True,
        placeholder="—",
        column_config={c: INDICATOR_LABELS[c][0 if lang == "zh" else 1] for c in INDICATOR_COLUMNS}
        | {
            "recorded_by": t("录入人", "Recorded by"),
            "recorded_at": t("录入时间 (UTC)", "Recorded at (UTC)"),
        },
    )
st.caption(
    t(
        "每条录入都保留 (谁、何时); 同一指标、年份、区的最新录入有效。只有“已核实”的数值是官方数值。",
        "Every recording is kept (who, when); the latest one of an indicator, year and district counts. "
        "Only confirmed values are official.",
    )
)
user = current_user(st.session_state)
if "flash_indicators" in st.session_state:
    st.success(st.session_state.pop("flash_indicators"))
if not may(user, "indicators"):
    st.caption(
        t(
            "市级规划人员登录后可录入实际值和新建后续规划。",
            "A city planner, signed in, records actual values and starts the next plan here.",
        )
    )
else:
    with st.expander(t("录入实际值 (市级规划人员)", "Record actual values (city planners)"), expanded=False):
        blank = pd.DataFrame(
            [{"indicator": "", "year": plan.deadline_year, "district_code": "", "value": None, "source": "",
              "confidence": "confirmed", "note": ""}]
        )  # fmt: skip
        rows = st.data_editor(
            blank,
            key="indicator_editor",
            num_rows="dynamic",
            placeholder="—",
            hide_index=True,
            column_config={
                "indicator": st.column_config.SelectboxColumn(
                    INDICATOR_LABELS["indicator"][0 if lang == "zh" else 1], options=list(labels)
                ),
                "confidence": st.column_config.SelectboxColumn(
                    INDICATOR_LABELS["confidence"][0 if lang == "zh" else 1], options=list(CONFIDENCE)
                ),
                **{
                    c: INDICATOR_LABELS[c][0 if lang == "zh" else 1]
                    for c in ("year", "district_code", "value", "source", "note")
                },
            },
        )
        if st.button(t("保存", "Save"), key="save_indicators", type="primary"):
            try:
                n = record_indicator_rows(st.session_state, rows)
            except PlannerError as err:
                show_refusal(err, lang, key="indicators")
            else:
                st.session_state.pop("indicator_editor", None)
                st.session_state.flash_indicators = t(f"已录入 {n} 条。", f"{n} value(s) recorded.")
                st.rerun()
        st.markdown(t("**或导入 CSV**", "**Or import a CSV**"))
        st.caption(
            t(
                "UTF-8 编码, 首行为以下列名 (可信度一列填 confirmed 已确认 / estimate 估计 / unconfirmed 未确认); "
                "有一行出错则整份拒绝, 并列出行号和字段。",
                "UTF-8, with this header row (confidence: confirmed / estimate / unconfirmed); one bad row "
                "refuses the file, naming each row and field.",
            )
        )
        st.code(",".join(INDICATOR_COLUMNS), language=None)  # the exact header a file needs
        upload = st.file_uploader(t("指标 CSV", "Indicators CSV"), type=["csv"], key="indicator_csv")
        if upload is not None and st.button(t("导入", "Import"), key="import_indicators"):
            try:
                n = record_indicator_file(st.session_state, plan, upload.getvalue(), upload.name)
            except PlannerError as err:
                show_refusal(err, lang, key="indicators_csv")
            else:
                st.session_state.flash_indicators = t(
                    f"已从 {upload.name} 录入 {n} 条。", f"{n} value(s) recorded from {upload.name}."
                )
                st.rerun()

    st.subheader(t("新建后续规划", "Start the next plan"))
    with st.form("successor"):
        end = plan.deadline_year
        s1, s2 = st.columns(2)
        period = s1.text_input(t("规划期", "Period"), value=f"{end + 1}-{end + 5}")
        folder = s2.text_input(
            t("文件夹名 (写入规划目录 data/plans/)", "Folder name (in the plans directory, data/plans/)"),
            value=f"{plan.folder.name}-{end + 1}-{end + 5}",
        )
        plan_id = s1.text_input(
            t("规划编号", "Plan id"), value=f"{plan.id.rsplit('-', 2)[0]}-{end + 1}-{end + 5}"
        )
        title = s2.text_input(
            t("规划名称", "Title"), value=f"{plan.title_zh.split('(')[0]} ({end + 1}-{end + 5}年)"
        )
        new_space = st.number_input(
            t("新增产业空间目标 (m²)", "New industrial space target (m²)"),
            min_value=0.0,
            value=0.0,
            step=100_000.0,
        )
        others = st.data_editor(
            pd.DataFrame({"key": [tg.key for tg in indicator_targets(plan)], "value": [None] * len(labels)}),
            key="successor_targets",
            placeholder="—",
            hide_index=True,
            disabled=["key"],
            column_config={
                "key": t("目标", "Target"),
                "value": t("目标值 (留空 = 不设)", "Value (blank = none)"),
            },
        )
        source_title = st.text_input(
            t("目标来源文件 (留空则为草案)", "Source document of the targets (blank: draft)"), value=""
        )
        submitted = st.form_submit_button(t("新建", "Start"), type="primary")
    if submitted:
        try:
            targets = [TargetInput("new_space", float(new_space))] if new_space > 0 else []
            targets += [
                TargetInput(r["key"], float(r["value"]))
                for r in others.to_dict("records")
                if pd.notna(r["value"])
            ]
            nxt = start_successor(
                st.session_state,
                plan,
                register,
                folder_name=folder,
                period=parse_period(period),
                plan_id=plan_id,
                title_zh=title,
                targets=targets,
                source_title=source_title,
            )
        except PlannerError as err:
            show_refusal(err, lang, key="successor")
        else:
            st.success(
                t(
                    f"已新建 {nxt.id} ({nxt.period_start}-{nxt.deadline_year}) 于规划目录 {folder}; 可在侧栏的规划选择中切换"
                    f" (命令行: --plan {folder})。目标在注明来源前为草案。",
                    f"Started {nxt.id} ({nxt.period_start}-{nxt.deadline_year}) in the plans directory as {folder}; switch plans with "
                    f"the sidebar's plan choice (command line: --plan {folder}). Targets are drafts until a source "
                    "is named.",
                )
            )
