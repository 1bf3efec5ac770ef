"""The 方案生成 Proposals page's helpers (no streamlit): parameters from widgets, tables to show, and
saving a proposal as a new scenario through the store's write path.

The model and its rules live in :mod:`planner.core.propose` and :mod:`planner.core.sites`; this
module only turns widget values into :class:`~planner.core.propose.Params` and results into
bilingual tables with units.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import MutableMapping
from typing import Any

import pandas as pd

from planner.app.session import acting_user, current_user, state_store
from planner.core.geo import M2_PER_WAN
from planner.core.plan import Plan
from planner.core.propose import (
    BINDING_KINDS,
    Params,
    Proposal,
    Quota,
    Weights,
    proposal_comment,
    proposal_register,
)
from planner.core.register import STATUS_LABELS, Register
from planner.core.sites import RATIO_BASIS_LABELS, SITE_LABELS, YEAR_BASIS_LABELS, district_names
from planner.errors import PlannerError
from planner.i18n import plan_label
from planner.store import MAIN, Version

RESULT_KEY = "proposal_result"


def _t(lang: str, zh: str, en: str) -> str:
    return zh if lang == "zh" else en


def may_save(state: MutableMapping[str, Any]) -> bool:
    """Whether to offer "save as scenario": creating scenarios is a city-wide right (the store
    checks it again on save, and records a refusal)."""
    user = current_user(state)
    return user is not None and user.can_set_quotas


def quota_editor_frame(plan: Plan, register: Register, lang: str = "zh") -> pd.DataFrame:
    """One row a district (and parentless functional area): key, name, min and max in 万㎡ (the
    register's quotas as minimums; empty = no bound)."""
    names = district_names(plan, lang)
    keys = list(names)
    quotas = register.quotas.set_index("district_code")["quota_m2"]
    return pd.DataFrame(
        {
            "key": keys,
            _t(lang, "区", "District"): [names[k] for k in keys],
            _t(lang, "下限 (万㎡)", "Minimum (万㎡)"): [
                float(quotas[k]) / M2_PER_WAN if k in quotas.index else None for k in keys
            ],
            _t(lang, "上限 (万㎡)", "Maximum (万㎡)"): [None] * len(keys),
        }
    )


def quotas_from_editor(frame: pd.DataFrame) -> tuple[Quota, ...]:
    """Quotas from the editor's table (columns: key, name, min 万㎡, max 万㎡)."""
    lo_col, hi_col = frame.columns[2], frame.columns[3]
    out = []
    for r in frame.to_dict("records"):
        lo = pd.to_numeric(pd.Series([r[lo_col]]), errors="coerce").iloc[0]
        hi = pd.to_numeric(pd.Series([r[hi_col]]), errors="coerce").iloc[0]
        if pd.notna(lo) or pd.notna(hi):
            out.append(
                Quota(
                    str(r["key"]),
                    float(lo) * M2_PER_WAN if pd.notna(lo) else None,
                    float(hi) * M2_PER_WAN if pd.notna(hi) else None,
                )
            )
    return tuple(out)


def params_from_widgets(
    *,
    target_wan: float,
    deadline: dt.date,
    as_of: int,
    min_wan: float,
    core_share_pct: float,
    aligned_only: bool,
    weights: dict[str, float],
    quotas: tuple[Quota, ...],
) -> Params:
    """The page's widget values (万㎡, %) as proposal parameters (m², shares)."""
    return Params(
        target_m2=float(target_wan) * M2_PER_WAN,
        deadline=deadline,
        as_of=int(as_of),
        quotas=quotas,
        weights=Weights(**{k: float(v) for k, v in weights.items()}),
        min_allocation_m2=float(min_wan) * M2_PER_WAN,
        core_share=float(core_share_pct) / 100.0,
        aligned_only=bool(aligned_only),
    )


def allocations_frame(plan: Plan, proposal: Proposal, lang: str = "zh") -> pd.DataFrame:
    """The proposed allocations for display: site, district, specialisation, m², 万㎡, year, status."""
    a = proposal.allocations
    return pd.DataFrame(
        {
            _t(lang, "场地", "Site"): a["name_zh"] + " (" + a["site_id"] + ")",
            _t(lang, "区", "District"): a["district"].map(district_names(plan, lang)).fillna(a["district"]),
            _t(lang, "专业方向", "Specialisation"): a["specialisation"].map(
                lambda k: plan.label("specialisations", k, lang) if k else "—"
            ),
            _t(lang, "建议分配 (m²)", "Proposed (m²)"): a["m2"].round(0),
            "万㎡": (a["m2"] / M2_PER_WAN).round(2),
            _t(lang, "交付年份", "Year"): a["year"].astype(int),
            _t(lang, "状态", "Status"): a["status"].map(lambda s: _t(lang, *STATUS_LABELS.get(s, (s, s)))),
            _t(lang, "剩余容量 (m²)", "Capacity (m²)"): a["capacity_m2"].round(0),
        }
    )


def by_district_frame(proposal: Proposal, lang: str = "zh") -> pd.DataFrame:
    """Per district: already counted, proposed, total and the quotas, in 万㎡."""
    d = proposal.by_district
    return pd.DataFrame(
        {
            _t(lang, "区", "District"): d["name"],
            _t(lang, "已计入 (万㎡)", "Counted (万㎡)"): (d["counted_m2"] / M2_PER_WAN).round(2),
            _t(lang, "建议新增 (万㎡)", "Proposed (万㎡)"): (d["proposed_m2"] / M2_PER_WAN).round(2),
            _t(lang, "合计 (万㎡)", "Total (万㎡)"): (d["total_m2"] / M2_PER_WAN).round(2),
            _t(lang, "下限 (万㎡)", "Minimum (万㎡)"): pd.to_numeric(d["quota_min_m2"]) / M2_PER_WAN,
            _t(lang, "上限 (万㎡)", "Maximum (万㎡)"): pd.to_numeric(d["quota_max_m2"]) / M2_PER_WAN,
        }
    )


def binding_frame(proposal: Proposal, lang: str = "zh") -> pd.DataFrame:
    """What keeps the target out of reach: the constraint group, what relaxing it adds, where."""
    rows = [
        {
            _t(lang, "约束", "Constraint"): _t(lang, *BINDING_KINDS.get(b.kind, (b.kind, b.kind))),
            _t(lang, "放开后可多提供 (m²)", "Relaxing it adds (m²)"): round(b.gain_m2) if b.gain_m2 else None,
            _t(lang, "说明", "Explanation"): b.message_zh if lang == "zh" else b.message_en,
            _t(lang, "涉及场地/区", "Sites / districts"): ", ".join(b.items),
        }
        for b in proposal.binding
    ]
    return pd.DataFrame(rows)


def sites_frame(sites: pd.DataFrame, lang: str = "zh", plan: Plan | None = None) -> pd.DataFrame:
    """The site capacity table for display, with bilingual headers and labels (specialisations by
    the plan's labels when ``plan`` is given)."""
    cols = [c for c in SITE_LABELS if c in sites.columns and c not in ("reason_zh",)]
    out = pd.DataFrame(sites[cols]).copy()
    if plan is not None and "specialisation" in out:
        out["specialisation"] = out["specialisation"].map(
            lambda k: plan_label(plan, "specialisations", k, lang)
        )
    out["status"] = out["status"].map(lambda s: _t(lang, *STATUS_LABELS.get(s, (s, s))))
    out["plot_ratio_basis"] = out["plot_ratio_basis"].map(
        lambda k: _t(lang, *RATIO_BASIS_LABELS.get(k, (k, k)))
    )
    out["year_basis"] = out["year_basis"].map(lambda k: _t(lang, *YEAR_BASIS_LABELS.get(k, (k, k))))
    out["aligned"] = out["aligned"].map(
        lambda v: "—" if v is None or v is pd.NA else _t(lang, "是", "yes") if v else _t(lang, "否", "no")
    )
    out["reason"] = sites["reason_zh" if lang == "zh" else "reason_en"].to_numpy()
    labels = {c: _t(lang, *SITE_LABELS[c]) for c in cols} | {
        "reason": _t(lang, "不可用原因", "Why not usable")
    }
    return out.rename(columns=labels)


def save_proposal(state: MutableMapping[str, Any], plan: Plan, proposal: Proposal, name: str) -> Version:
    """Save the proposal as the NEW scenario ``name``: the working register plus the proposed
    allocations, by the signed-in user, with a comment naming it a proposal and its parameters.

    The session's scenario and working register are not changed. The store checks the rights
    (creating a scenario: city planners) and validity, and records a refusal; an existing name
    is refused before anything is asked of the store.
    """
    name = name.strip()
    store = state_store(state)
    if store.exists(name):
        raise PlannerError(
            f"方案 {name} 已存在, 请换一个名称 / scenario {name!r} already exists: choose another name"
        )
    new_register = proposal_register(plan, state["register"], proposal)
    source = state.get("scenario", MAIN)
    return store.save(
        new_register,
        user=acting_user(state, "save"),
        comment=proposal_comment(proposal, source, state["version"].version),
        scenario=name,
        expected_version=None,
    )
