"""The evaluation report (评估报告) as a Word file (and the same content as a PDF,
``planner.io.report_pdf``): 终期评估 after the deadline, 中期评估 before.

In Chinese: the target and the result, a static map of districts and parks drawn offline
(matplotlib, a CJK font found on the machine; without one the drawings' labels fall back to
English), the by-district, by-year and by-specialisation tables and charts, the early warnings,
the other targets, every figure's source and confidence, and the method. Every figure comes from
``planner.core.monitor.monitor`` / ``capacity_report`` for the same date, so the report and
``python -m planner check --as-of DATE --json`` agree.
"""

from __future__ import annotations

import datetime as dt
import io
from functools import lru_cache
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd

from planner.core.capacity import CapacityReport, capacity_report
from planner.core.geo import WGS84, fmt_m2
from planner.core.indicators import CONFIDENCE, met_text, target_status
from planner.core.monitor import Monitor
from planner.core.plan import Plan
from planner.core.register import STATUS_LABELS, Register
from planner.errors import PlannerError

CJK_FAMILIES = (
    "Noto Sans CJK SC",
    "Noto Sans CJK JP",
    "Noto Serif CJK SC",
    "WenQuanYi Zen Hei",
    "Source Han Sans SC",
)


def report_kind(mon: Monitor) -> tuple[str, str]:
    """('终期评估', 'final evaluation') after the deadline, ('中期评估', 'mid-term evaluation') before."""
    return ("终期评估", "final evaluation") if mon.phase == "ended" else ("中期评估", "mid-term evaluation")


@lru_cache(maxsize=1)
def cjk_font() -> str | None:
    """The path of a CJK font matplotlib can use (Noto CJK from fonts-noto-cjk, or another), or None."""
    from matplotlib import font_manager

    for family in CJK_FAMILIES:
        try:
            path = font_manager.findfont(
                font_manager.FontProperties(family=family), fallback_to_default=False
            )
        except ValueError:
            continue
        if path:
            return str(path)
    for system_font in font_manager.findSystemFonts():
        if any(k in Path(system_font).name for k in ("CJK", "wqy", "SourceHan", "Droid Sans Fallback")):
            return system_font
    return None


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import font_manager
    from matplotlib import pyplot as plt

    font = cjk_font()
    if font:
        font_manager.fontManager.addfont(font)
        plt.rcParams["font.family"] = font_manager.FontProperties(fname=font).get_name()
    plt.rcParams["axes.unicode_minus"] = False
    return plt, font is not None


def _png(fig) -> io.BytesIO:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=150, bbox_inches="tight")
    buf.seek(0)
    return buf


def draw_map(plan: Plan, register: Register) -> io.BytesIO:
    """A static map of the districts (by role) and the parks (delivered / under construction / planned)."""
    plt, zh = _pyplot()
    districts = plan.to_metric(plan.district_polygons)  # drawn in the plan's metric CRS
    colors = {r.key: r.extra.get("color", "#999999") for r in plan.roles}
    fig, ax = plt.subplots(figsize=(8, 5))
    districts.plot(
        ax=ax, color=districts["role"].map(colors).fillna("#dddddd"), alpha=0.25, edgecolor="#555555"
    )
    for r in districts.itertuples():
        pt = r.geometry.representative_point()
        ax.annotate(r.name_zh if zh else r.name_en, (pt.x, pt.y), ha="center", fontsize=7)
    parks = register.parks[register.parks.geometry.notna() & ~register.parks.geometry.is_empty]
    if len(parks):
        pts = plan.to_metric(gpd.GeoSeries(parks.geometry.values, crs=WGS84)).representative_point()
        status_colors = {"delivered": "#1e8449", "under_construction": "#d68910", "planned": "#2e86c1"}
        for status, color in status_colors.items():
            mask = (parks["status"] == status).to_numpy()
            if mask.any():
                label = STATUS_LABELS[status][0 if zh else 1]
                ax.scatter(pts.x[mask], pts.y[mask], s=12, color=color, label=label, zorder=3)
        other = ~parks["status"].isin(list(status_colors)).to_numpy()
        if other.any():
            ax.scatter(pts.x[other], pts.y[other], s=10, color="#7f8c8d", label="未知" if zh else "unknown")
        ax.legend(loc="lower right", fontsize=7)
    ax.set_axis_off()
    ax.set_title(f"{plan.city_zh if zh else plan.city_en} {'各区与园区' if zh else 'districts and parks'}")
    buf = _png(fig)
    plt.close(fig)
    return buf


def _bar(labels: list[str], series: dict[str, list[float]], title: str, ylabel: str) -> io.BytesIO:
    plt, _ = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 3.2))
    frame = pd.DataFrame(series, index=labels)
    frame.plot.bar(ax=ax, rot=0 if len(labels) < 8 else 45)
    ax.set_title(title)
    ax.set_ylabel(ylabel)
    buf = _png(fig)
    plt.close(fig)
    return buf


def _table(doc, header: list[str], rows: list[list[str]]) -> None:
    table = doc.add_table(rows=1, cols=len(header))
    table.style = "Table Grid"
    for cell, text in zip(table.rows[0].cells, header, strict=True):
        cell.text = text
    for row in rows:
        cells = table.add_row().cells
        for cell, text in zip(cells, row, strict=True):
            cell.text = text


def _wan(v: float | None) -> str:
    return "—" if v is None or v != v else f"{v / 10_000:,.1f}"


def _result_section(doc: Any, plan: Plan, register: Register, mon: Monitor) -> None:
    """一、目标与结果: the target with its source, the result or progress, the map."""
    from docx.shared import Cm

    assert plan.new_space is not None  # build_report refuses a plan without it
    target = plan.new_space
    src = plan.sources.get(target.source, {})
    doc.add_heading("一、目标与结果", level=1)
    doc.add_paragraph(
        f"目标: {target.label_zh} {fmt_m2(mon.target_m2)} (《{src.get('title_zh', target.source)}》{target.section}: "
        f"“{target.quote}”)。"
    )
    lines = [
        ["计入 (交付年份在规划期内)", fmt_m2(mon.counted_m2), f"{mon.progress:.1%}"],
        ["已落实 (在建或已交付)", fmt_m2(mon.secured_m2), ""],
        [f"截至 {mon.as_of.isoformat()} 已交付", fmt_m2(mon.delivered_m2), ""],
        ["逾期未交付 (已过交付年份)", fmt_m2(mon.slipped_m2), ""],
    ]
    if mon.result_delivered_m2 is not None:
        lines.insert(
            0,
            [
                f"结果: 截至 {plan.deadline.isoformat()} 已交付",
                fmt_m2(mon.result_delivered_m2),
                "达成" if mon.result_met else "未达成",
            ],
        )
    _table(doc, ["项目", "面积", "说明"], lines)
    if mon.phase == "ended":
        doc.add_paragraph(
            f"规划期已结束。截至截止日已交付 {fmt_m2(mon.result_delivered_m2)}, 目标 {fmt_m2(mon.target_m2)}, "
            f"{'已达成' if mon.result_met else '未达成'}。规划期内应交付但未交付 {fmt_m2(mon.slipped_m2)}。"
        )
    else:
        doc.add_paragraph(f"规划期已过 {mon.elapsed_share:.0%}; 计入进度 {mon.progress:.1%}。")
    doc.add_picture(draw_map(plan, register), width=Cm(15))
    doc.add_paragraph("图1 各区与园区 (底图: 区界; 点: 园区, 按状态着色; 离线绘制)")


def _district_section(doc: Any, plan: Plan, report: CapacityReport, mon: Monitor) -> None:
    """二、分区情况: each district's counted, secured and delivered space against its quota."""
    from docx.shared import Cm

    doc.add_heading("二、分区情况", level=1)
    d = report.by_district.merge(
        mon.by_district[["key", "delivered_m2", "expected_m2"]], on="key", how="left"
    )
    _table(
        doc,
        ["区", "角色", "计入 (万㎡)", "已落实 (万㎡)", "已交付 (万㎡)", "指标 (万㎡)", "进度要求 (万㎡)"],
        [
            [
                r["name_zh"],
                plan.label("roles", r["role"]) if r["role"] else "",
                _wan(r["counted_m2"]),
                _wan(r["secured_m2"]),
                _wan(r["delivered_m2"]),
                _wan(r["quota_m2"]),
                _wan(r["expected_m2"]),
            ]
            for r in d.to_dict("records")
        ],
    )
    doc.add_picture(
        _bar(
            list(d["name_zh"]),
            {"计入": list(d["counted_m2"] / 1e4), "已落实": list(d["secured_m2"] / 1e4)},
            "各区计入与已落实空间",
            "万㎡",
        ),
        width=Cm(15),
    )


def build_report(
    plan: Plan,
    register: Register,
    mon: Monitor,
    indicators: pd.DataFrame,
    *,
    scenario_line: str = "",
):
    """The evaluation report as a python-docx ``Document``."""
    from docx import Document
    from docx.oxml.ns import qn
    from docx.shared import Cm

    if plan.new_space is None:
        raise PlannerError(
            f"规划 {plan.id} 未设新增空间目标, 评估报告以该目标为主线, 暂不支持 / plan {plan.id} sets no new-space "
            "target; the evaluation report is built around it: not supported for this plan yet"
        )
    report: CapacityReport = capacity_report(plan, register)
    kind_zh, _ = report_kind(mon)
    doc = Document()
    normal = doc.styles["Normal"]
    normal.font.name = "Noto Sans CJK SC"
    normal.element.rPr.rFonts.set(qn("w:eastAsia"), "宋体")
    doc.add_heading(f"{plan.title_zh} {kind_zh}报告", level=0)
    doc.add_paragraph(
        f"评估基准日: {mon.as_of.isoformat()}; 规划期 {plan.period_start}-{plan.deadline_year} 年, 截止 "
        f"{plan.deadline.isoformat()}; 状态: {mon.phase_text()}。{scenario_line}"
    )

    _result_section(doc, plan, register, mon)
    _district_section(doc, plan, report, mon)
    doc.add_heading("三、分年度情况", level=1)
    y = report.by_year.merge(mon.delivered_by_year, on="year")
    _table(
        doc,
        ["年份", "新增计入 (万㎡)", "累计计入 (万㎡)", "累计已落实 (万㎡)", "累计已交付 (万㎡)"],
        [
            [
                str(r["year"]),
                _wan(r["added_m2"]),
                _wan(r["cumulative_m2"]),
                _wan(r["secured_cumulative_m2"]),
                _wan(r["delivered_cumulative_m2"]),
            ]
            for r in y.to_dict("records")
        ],
    )
    doc.add_picture(
        _bar(
            [str(v) for v in y["year"]],
            {
                "累计计入": list(y["cumulative_m2"] / 1e4),
                "累计已落实": list(y["secured_cumulative_m2"] / 1e4),
                "累计已交付": list(y["delivered_cumulative_m2"] / 1e4),
            },
            "逐年累计",
            "万㎡",
        ),
        width=Cm(15),
    )

    doc.add_heading("四、分专业方向情况", level=1)
    s = report.by_specialisation
    _table(
        doc,
        ["专业方向", "计入 (万㎡)", "已分配 (万㎡)"],
        [[r["label_zh"], _wan(r["counted_m2"]), _wan(r["allocated_m2"])] for r in s.to_dict("records")],
    )
    doc.add_picture(
        _bar(list(s["label_zh"]), {"计入": list(s["counted_m2"] / 1e4)}, "各专业方向计入空间", "万㎡"),
        width=Cm(15),
    )

    doc.add_heading("五、预警", level=1)
    sev = {"error": "严重", "warning": "警告", "info": "提示"}
    if mon.warnings:
        _table(
            doc,
            ["级别", "代码", "对象", "说明"],
            [[sev[f.severity], f.code, f.id, f.message_zh] for f in mon.warnings],
        )
    else:
        doc.add_paragraph("无预警。")
    if len(mon.slipped):
        doc.add_paragraph("规划期内应交付但未交付 (逾期):")
        _table(
            doc,
            ["分配", "园区", "面积", "应交付年份", "状态", "逾期天数", "记为已交付日期"],
            [
                [
                    r["allocation_id"],
                    r["park_name"] or r["park_id"],
                    fmt_m2(r["area_m2"]),
                    str(r["delivery_year"]),
                    STATUS_LABELS.get(r["status"], (r["status"],))[0],
                    str(r["days_late"]),
                    r["recorded_delivered_on"] if isinstance(r["recorded_delivered_on"], str) else "—",
                ]
                for r in mon.slipped.to_dict("records")
            ],
        )

    doc.add_heading("六、其他目标", level=1)
    ts = target_status(plan, indicators, register, mon.as_of)
    _table(
        doc,
        ["目标", "目标值", "最新官方值 (已核实)", "未核实值", "来源", "可信度", "是否达成"],
        [
            [
                r["label_zh"],
                "—"
                if r["target"] is None or r["target"] != r["target"]
                else f"{r['comparison']} {r['target']:,.0f} {r['unit']} ({r['year']})",
                "—"
                if r["official_value"] is None or r["official_value"] != r["official_value"]
                else f"{r['official_value']:,.0f} {r['unit']}",
                "—"
                if r["unconfirmed_value"] is None or r["unconfirmed_value"] != r["unconfirmed_value"]
                else f"{r['unconfirmed_value']:,.0f} {r['unit']} (未核实, 非官方)",
                r["source"] or "—",
                CONFIDENCE.get(r["confidence"], (r["confidence"] or "—",))[0],
                met_text(r),
            ]
            for r in ts.to_dict("records")
        ],
    )

    doc.add_heading("七、数据来源与可信度", level=1)
    for key, source in plan.sources.items():
        doc.add_paragraph(
            f"{key}: {source.get('title_zh', '')} ({source.get('publisher', '')})", style="List Bullet"
        )
    basis = "; ".join(f"{k}: {fmt_m2(v)}" for k, v in report.counted_by_basis.items()) or "—"
    doc.add_paragraph(f"计入面积按依据: {basis}。baseline = 基线估算, 非官方数据。")
    doc.add_paragraph(f"计入面积中依据未核实园区数据的: {fmt_m2(report.counted_unconfirmed_m2)}。")
    doc.add_paragraph(f"已分配但不计入 (无规划期内交付年份): {fmt_m2(report.not_counted_m2)}。")

    doc.add_heading("八、方法", level=1)
    baseline = plan.raw.get("baseline", {})
    for text in (
        f"计入: 分配的交付年份在 {plan.period_start}-{plan.deadline_year} 年内; 已落实: 其中状态为在建或已交付; "
        f"已交付: 状态为已交付, 交付年份不晚于评估基准日所在年份, 且在基准日当天或之前保存的版本中已记为已交付 "
        "(状态按当时的记录, 而非事后补记)。",
        "结果 (规划期结束后): 截止日当天或之前已记为已交付的计入面积与目标之比 (截止后才交付并补记的不计入); "
        "逾期: 计入但截至截止日 (规划期内为基准日) 未交付, 逾期天数自交付年份年末起算, 至记为已交付之日, 仍未交付则至基准日。",
        f"进度要求: 各区指标 × 规划期已过比例 ({'线性' if mon.pace_rule == 'linear' else '规划人员设定的里程碑'})。",
        f"基线规则: {baseline.get('label_zh', '')}; 分配面积 = 来源中的新增建筑面积 × {plan.baseline_share:g}; "
        "交付年份仅在来源给出时填写。",
        "其他目标: 仅“已核实”的数值作为官方数值并用于判定是否达成; 估算和未核实数值单列, 不作判定。",
    ):
        doc.add_paragraph(text, style="List Number")
    return doc


FORMATS = ("docx", "pdf")


def report_bytes(
    plan: Plan,
    register: Register,
    mon: Monitor,
    indicators: pd.DataFrame,
    *,
    scenario_line: str = "",
    fmt: str = "docx",
) -> bytes:
    """The report as .docx bytes, or with ``fmt="pdf"`` the same content as a PDF
    (``planner.io.report_pdf``; PlannerError without a CJK font)."""
    document = build_report(plan, register, mon, indicators, scenario_line=scenario_line)
    if fmt == "pdf":
        from planner.io.report_pdf import pdf_from_document

        return pdf_from_document(document)
    buf = io.BytesIO()
    document.save(buf)
    return buf.getvalue()


def write_report(
    plan: Plan,
    register: Register,
    mon: Monitor,
    indicators: pd.DataFrame,
    path: str | Path,
    *,
    scenario_line: str = "",
) -> Path:
    """Write the report to ``path``: a PDF when it ends in .pdf, else Word (.docx)."""
    path = Path(path)
    fmt = "pdf" if path.suffix.lower() == ".pdf" else "docx"
    path.write_bytes(report_bytes(plan, register, mon, indicators, scenario_line=scenario_line, fmt=fmt))
    return path


def report_file_name(plan: Plan, as_of: dt.date, mon: Monitor, fmt: str = "docx") -> str:
    """'shenzhen-software-2022-2025-终期评估-2026-11-29.docx' (or .pdf)."""
    return f"{plan.id}-{report_kind(mon)[0]}-{as_of.isoformat()}.{fmt}"
