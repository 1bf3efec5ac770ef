"""方案生成 Proposals: where the missing space can come from, by when, in which district.

Parameters -> ``planner.core.propose.propose`` (a MILP over the site capacities) -> figures, what
binds, the allocations, a map; a city planner can save the result as a new scenario.
"""

from __future__ import annotations

import streamlit as st
from streamlit_folium import st_folium

from pages import frame, show_refusal
from planner.app.downloads import layer_bytes
from planner.app.mapview import proposal_map
from planner.app.proposals import (
    RESULT_KEY,
    allocations_frame,
    binding_frame,
    by_district_frame,
    may_save,
    params_from_widgets,
    quota_editor_frame,
    quotas_from_editor,
    save_proposal,
    sites_frame,
)
from planner.app.session import fmt_wan
from planner.core.geo import M2_PER_WAN, fmt_m2
from planner.core.propose import Weights, propose
from planner.core.sites import default_as_of, proposal_settings, site_capacity
from planner.errors import PlannerError
from planner.i18n import translator

plan, register, lang = frame()
t = translator(lang)  # the one translator (planner.i18n)


settings = proposal_settings(plan)
version = st.session_state["version"]
st.title(t("方案生成", "Proposals"))
st.caption(
    t(
        "在现有园区和地块上, 如何在截止日期前按一核多中心布局补足目标缺口: 按各场地剩余容量 (占地面积 x 容积率上限 - 现有建筑面积 - 已分配) "
        "和最早交付年份, 用混合整数规划 (scipy.optimize.milp / HiGHS) 求出缺口最小的分配方案。",
        "How the gap to the target can be closed by the deadline on the sites we have, in line with the "
        "one-core-several-centres layout: from each site's remaining capacity (land area x allowed plot ratio - "
        "existing floor area - already allocated) and earliest delivery year, a mixed-integer program "
        "(scipy.optimize.milp / HiGHS) finds the allocation with the least shortfall.",
    )
)
st.caption(
    t(
        f"建设周期假设 (plan.toml [proposals], {settings.note_zh}): 规划中 {settings.lead_time_planned_years} 年, "
        f"在建 {settings.lead_time_under_construction_years} 年。容积率上限{'已核实' if plan.plot_ratio_confirmed else '未核实 (占位值)'}。",
        f"Lead-time assumptions (plan.toml [proposals], {settings.note_en}): planned "
        f"{settings.lead_time_planned_years} years, under construction {settings.lead_time_under_construction_years}. "
        f"Plot-ratio limits {'confirmed' if plan.plot_ratio_confirmed else 'unconfirmed (placeholders)'}.",
    )
)

target_default = plan.new_space.value if plan.new_space else 0.0
deadline_default = plan.new_space.deadline if plan.new_space and plan.new_space.deadline else plan.deadline
with st.form("proposal_params"):
    c1, c2, c3, c4 = st.columns(4)
    target_wan = c1.number_input(
        t("目标 (万㎡)", "Target (万㎡)"),
        min_value=0.0,
        value=target_default / M2_PER_WAN,
        step=10.0,
        key="proposal_target",
    )
    deadline = c2.date_input(t("截止日期", "Deadline"), value=deadline_default)
    as_of = c3.number_input(
        t("评估年份 (已交付场地从此年起可用)", "As-of year (delivered sites count from)"),
        min_value=plan.period_start,
        max_value=2100,
        value=default_as_of(plan),
        step=1,
        key="proposal_as_of",
        help=t(
            "默认为今年, 但不晚于规划截止年份", "Default: this year, but not after the plan's deadline year"
        ),
    )
    min_wan = c4.number_input(
        t("最小分配面积 (万㎡)", "Minimum allocation (万㎡)"),
        min_value=0.0,
        value=settings.min_allocation_m2 / M2_PER_WAN,
        step=0.5,
    )
    c5, c6 = st.columns(2)
    core_pct = c5.slider(
        t("为核心区 (南山) 保留的份额 (%)", "Share kept for the core (Nanshan, %)"),
        0,
        90,
        int(settings.core_share * 100),
    )
    aligned_only = c6.checkbox(
        t("只用符合区定位专业方向的场地", "Only sites aligned with their district's specialisation")
    )
    with st.expander(t("权重 (每㎡的附加代价, 0 = 不在意)", "Weights (extra cost per m², 0 = indifferent)")):
        w = Weights()
        w1, w2, w3 = st.columns(3)
        w_unsecured = w1.number_input(
            t("未落实 (仅规划) 场地", "Planned (not secured) site"), 0.0, 10.0, w.unsecured
        )
        w_misaligned = w2.number_input(
            t("不符合区定位", "Not aligned with district"), 0.0, 10.0, w.misaligned
        )
        w_later = w3.number_input(t("交付较晚", "Delivering later"), 0.0, 10.0, w.later)
    with st.expander(
        t("各区指标 (下限/上限, 万㎡; 空 = 不限)", "District quotas (min/max, 万㎡; empty = none)")
    ):
        quota_table = st.data_editor(
            quota_editor_frame(plan, register, lang),
            hide_index=True,
            disabled=["key", t("区", "District")],
            column_config={"key": None},
            placeholder=t("不限", "none"),
            key="proposal_quotas",
        )
    submitted = st.form_submit_button(t("生成方案", "Generate proposal"), type="primary")

if submitted:
    params = params_from_widgets(
        target_wan=target_wan,
        deadline=deadline,
        as_of=int(as_of),
        min_wan=min_wan,
        core_share_pct=core_pct,
        aligned_only=aligned_only,
        weights={"unsecured": w_unsecured, "misaligned": w_misaligned, "later": w_later},
        quotas=quotas_from_editor(quota_table),
    )
    try:
        with st.spinner(t("求解中…", "Solving…")):
            result = propose(plan, register, params)
        st.session_state[RESULT_KEY] = (plan.id, version.scenario, version.version, result)
    except PlannerError as err:
        st.error(str(err))


def draw_map(sites) -> None:
    """The sites on the map: proposed (green), remaining capacity (blue), no data (grey)."""
    st.subheader(t("地图", "Map"))
    st_folium(
        proposal_map(plan, sites, lang=lang),
        key="proposal_map",
        height=520,
        use_container_width=True,
        returned_objects=[],
    )


held = st.session_state.get(RESULT_KEY)
if held is not None and held[:3] != (plan.id, version.scenario, version.version):
    held = None  # another plan, or the working register changed since: the result no longer applies
if held is None:
    sites = site_capacity(plan, register, as_of=int(as_of))
    st.info(t("设定参数后点击「生成方案」。", "Set the parameters and press Generate proposal."))
    draw_map(sites)
else:
    result = held[3]
    sites = result.sites
    m1, m2, m3, m4 = st.columns(4)
    m1.metric(t("目标", "Target"), fmt_wan(result.target_m2), help=fmt_m2(result.target_m2))
    m2.metric(t("已计入", "Counted"), fmt_wan(result.counted_m2), help=fmt_m2(result.counted_m2))
    m3.metric(
        t("建议新增", "Proposed"),
        fmt_wan(result.proposed_m2),
        f"{len(result.allocations)} {t('处', 'sites')}",
        delta_color="off",
        help=fmt_m2(result.proposed_m2),
    )
    m4.metric(t("缺口", "Shortfall"), fmt_wan(result.shortfall_m2), help=fmt_m2(result.shortfall_m2))
    if result.feasible:
        st.success(result.summary(lang))
    else:
        st.warning(result.summary(lang))
    draw_map(sites)
    if result.binding:
        st.subheader(t("起约束作用的条件", "What binds"))
        st.dataframe(binding_frame(result, lang), hide_index=True, placeholder="—", key="proposal_binding")
    st.subheader(t("建议分配", "Proposed allocations"))
    st.dataframe(allocations_frame(plan, result, lang), hide_index=True, key="proposal_allocations")
    st.subheader(t("各区", "By district"))
    st.dataframe(by_district_frame(result, lang), hide_index=True, placeholder="—", key="proposal_districts")

    st.subheader(t("另存为方案", "Save as scenario"))
    if may_save(st.session_state):
        s1, s2 = st.columns([3, 1])
        name = s1.text_input(t("新方案名称", "New scenario's name"), key="proposal_name")
        if s2.button(
            t("保存为新方案", "Save as new scenario"), key="proposal_save", disabled=not name.strip()
        ):
            try:
                saved = save_proposal(st.session_state, plan, result, name)
                st.success(
                    t(
                        f"已保存为方案 {saved.scenario} v{saved.version}; 可在「方案与历史」中与当前方案对比。原方案未改动。",
                        f"Saved as scenario {saved.scenario} v{saved.version}; compare it with the current one on "
                        "Scenarios & history. The source scenario is unchanged.",
                    )
                )
            except PlannerError as err:
                show_refusal(err, lang, key="proposal_save")
    else:
        st.caption(
            t(
                "只有市级规划人员可以把方案保存为新方案 (请登录)。",
                "Only city planners can save a proposal as a scenario (sign in).",
            )
        )

st.subheader(t("各场地剩余容量", "Remaining capacity of each site"))
usable = sites[sites["usable"].astype(bool)]
st.caption(
    t(
        f"{len(sites)} 处场地, {len(usable)} 处可核算, 剩余容量共 {fmt_m2(float(usable['capacity_m2'].sum()))}; "
        f"{len(sites) - len(usable)} 处缺少数据, 列出而不估算。",
        f"{len(sites)} sites, {len(usable)} with usable data, remaining capacity {fmt_m2(float(usable['capacity_m2'].sum()))}; "
        f"{len(sites) - len(usable)} lack data: listed, not guessed.",
    )
)
st.dataframe(sites_frame(sites, lang, plan), hide_index=True, placeholder="—", key="proposal_sites")
d1, d2 = st.columns(2)
d1.download_button(
    t("下载场地容量 CSV", "Download site capacity (CSV)"),
    layer_bytes(sites, "csv", layer="sites"),
    file_name=f"{plan.id}_sites.csv",
    mime="text/csv",
)
d2.download_button(
    t("下载场地容量 GeoJSON", "Download site capacity (GeoJSON)"),
    layer_bytes(sites, "geojson", layer="sites"),
    file_name=f"{plan.id}_sites.geojson",
    mime="application/geo+json",
)
