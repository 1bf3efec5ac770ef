"""What the pages show in place of the library's codes and ids (no streamlit here).

The labels themselves are in :mod:`planner.i18n`; this module applies them to the app's tables
and sentences that need the plan or the register: an item's readable name (a park's name beside
its id, a district's name instead of its code), the findings table, where the counted figures
come from, what a district's polygon includes, the allocation editor's choices.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import geopandas as gpd
import pandas as pd

from planner.core.capacity import CapacityReport
from planner.core.changes import RegisterChanges
from planner.core.editing import drawn_geometry
from planner.core.geo import M2_PER_KM2, M2_PER_MU, WGS84, area_m2, fmt_m2
from planner.core.plan import Plan
from planner.core.register import Register
from planner.i18n import MISSING, label, labels, plan_options, t


def district_names(plan: Plan, lang: str = "zh") -> dict[str, str]:
    """District code -> its name in the language (南山区 / Nanshan)."""
    return {d.code: t(lang, d.name_zh, d.name_en) for d in plan.districts}


def park_names(register: Register, lang: str = "zh") -> dict[str, str]:
    """Park id -> '名称 (id)', the name a person knows beside the id the register keys it by
    (the English name in English where there is one)."""
    p = register.parks
    name = p["name_zh"] if lang == "zh" else p["name_en"].where(p["name_en"].fillna("") != "", p["name_zh"])
    return dict(zip(p["id"], name.fillna("").astype(str) + " (" + p["id"].astype(str) + ")", strict=True))


def item_names(plan: Plan, register: Register, ids: pd.Series, lang: str = "zh") -> pd.Series:
    """What a finding is about, readable: a park by name and id, an allocation by its park's name
    and its id, a district by name, the plan as the city; anything else as it is."""
    parks = park_names(register, lang)
    a = register.allocations
    alloc_park = dict(zip(a["allocation_id"], a["park_id"], strict=True))
    allocs = {
        aid: f"{parks.get(pid, pid)} · {t(lang, '分配', 'allocation')} {aid}"
        for aid, pid in alloc_park.items()
    }
    whole = {plan.id: t(lang, f"全市 ({plan.city_zh})", f"City ({plan.city_en})")}
    names = {**allocs, **parks, **district_names(plan, lang), **whole}
    return ids.map(lambda i: names.get(i, MISSING if i is None or i == "" else str(i))).astype(object)


def findings_table(plan: Plan, register: Register, findings: pd.DataFrame, lang: str = "zh") -> pd.DataFrame:
    """The findings as a person reads them, row for row: severity, item, kind (the code's label)
    and the message, all in the language (``findings_frame``'s codes and ids stay behind)."""
    return pd.DataFrame(
        {
            t(lang, "级别", "Severity"): labels("severity", findings["severity"], lang).to_numpy(),
            t(lang, "对象", "Item"): item_names(plan, register, findings["id"], lang).to_numpy(),
            t(lang, "类别", "Kind"): labels("finding", findings["code"], lang).to_numpy(),
            t(lang, "说明", "Message"): findings[f"message_{'zh' if lang == 'zh' else 'en'}"].to_numpy(),
        }
    )


def counted_source(plan: Plan, report: CapacityReport, lang: str = "zh") -> str:
    """Where the counted figures come from, by basis: the tool's baseline estimate (new floor
    area x the plan's ``[baseline] software_share``, not official), a planner's or an import's."""
    if not report.counted_by_basis:
        return t(lang, "目前没有计入的面积。", "Nothing is counted yet.")
    base = plan.raw.get("baseline", {})
    parts = []
    for basis, m2 in sorted(report.counted_by_basis.items(), key=lambda kv: -kv[1]):
        if basis == "baseline":
            name = t(lang, base.get("label_zh", ""), base.get("label_en", "")) or label("basis", basis, lang)
            parts.append(
                name
                + f" {fmt_m2(m2)} = "
                + t(
                    lang,
                    f"园区来源中的新增建筑面积 × {plan.baseline_share:g} (本工具的假设, 见 "
                    f"{plan.folder.name}/plan.toml [baseline])",
                    f"a park's sourced new floor area x {plan.baseline_share:g} (this tool's assumption, "
                    f"see {plan.folder.name}/plan.toml [baseline])",
                )
            )
        else:
            parts.append(f"{label('basis', basis, lang)} {fmt_m2(m2)}")
    return (
        t(lang, "计入面积的来源: ", "Where the counted space comes from: ")
        + "; ".join(parts)
        + t(lang, "。", ".")
    )


def district_area_note(plan: Plan, code: str, lang: str = "zh") -> str | None:
    """Why a district's computed land area differs from its official one when its polygon holds
    an area with no boundary of its own (龙岗 holds 大鹏新区): the note comes from the plan's
    ``[[functional_areas]]``; None for a district that holds none."""
    inside = [a for a in plan.functional_areas if a.parent == code]
    if not inside:
        return None
    d = plan.district(code)
    row = plan.district_polygons.set_index("code").loc[code]
    held = "、".join(t(lang, a.name_zh, a.name_en) for a in inside)
    notes = "; ".join(t(lang, a.note_zh, a.note_en) for a in inside)
    their = sum(a.official_land_km2 or 0.0 for a in inside)
    return t(
        lang,
        f"{d.name_zh}的多边形含{held}: 计算面积 {row['computed_land_km2']:,.2f} km² 包括其 {their:,.2f} km², "
        f"官方面积 {d.official_land_km2 or 0:,.2f} km² 不含。({notes})",
        f"{d.name_en}'s polygon includes {held}: its computed land area, {row['computed_land_km2']:,.2f} km², "
        f"includes their {their:,.2f} km²; the official {d.official_land_km2 or 0:,.2f} km² does not. ({notes})",
    )


def choice_labels(plan: Plan, register: Register, lang: str = "zh") -> dict[str, Callable[[Any], str]]:
    """``format_func`` for the allocation editor's choice columns: park id -> name and id,
    specialisation, status and basis -> their labels."""
    parks = park_names(register, lang)
    specs = plan_options(plan, "specialisations", lang)
    return {
        "park_id": lambda k: parks.get(k, str(k)),
        "specialisation": lambda k: specs.get(k, str(k)),
        "status": lambda k: label("status", k, lang),
        "basis": lambda k: label("basis", k, lang),
    }


def changes_text(changes: RegisterChanges, lang: str = "zh") -> str:
    """What a save changed, counted per table: '分配: 新增 1, 修改 2。' ('' when nothing changed)."""
    parts = []
    for zh, en, ch in (
        ("园区", "parks", changes.parks),
        ("分配", "allocations", changes.allocations),
        ("指标", "quotas", changes.quotas),
    ):
        counts = [
            t(lang, f"{kzh} {len(ids)}", f"{len(ids)} {ken}")
            for kzh, ken, ids in (
                ("新增", "added", ch.added),
                ("删除", "removed", ch.removed),
                ("修改", "changed", ch.changed),
            )
            if ids
        ]
        if counts:
            parts.append(t(lang, f"{zh}: ", f"{en.capitalize()}: ") + ", ".join(counts))
    return t(lang, "; ".join(parts) + "。", "; ".join(parts) + ".") if parts else ""


def land_area_text(m2: float, lang: str = "zh") -> str:
    """A land area as planners say it: 万㎡ and m², and 亩 (km² too for a large area).

    >>> land_area_text(20_000)
    '2.0万㎡ (20,000 m²) · 30.0 亩'
    """
    text = f"{fmt_m2(m2)} · {m2 / M2_PER_MU:,.1f} {t(lang, '亩', 'mu')}"
    return text + (f" · {m2 / M2_PER_KM2:,.2f} km²" if m2 >= M2_PER_KM2 else "")


def drawn_area_text(geometry: dict[str, Any], plan: Plan, *, datum: str = "wgs84", lang: str = "zh") -> str:
    """The land area of a drawn shape, measured as the register will measure it (in the metric
    CRS, after a GCJ-02 drawing is shifted back to WGS84), for the form before saving."""
    geom = drawn_geometry(geometry, datum=datum)
    m2 = float(area_m2(gpd.GeoSeries([geom], crs=WGS84), plan.metric_crs).iloc[0])
    return t(lang, "**测得占地面积**: ", "**Measured land area**: ") + land_area_text(m2, lang)
