"""Scenarios and history page (方案与历史): open, save as (copy) and delete named scenarios;
compare two of them (any version each) side by side and on a map; every version of the current
scenario with its author, time and comment, viewable and restorable as a new version.

All rules (who may, conflicts, validation, 留痕) are the store's (``planner.store.service``); this page
only shows them. Every action goes through the store, never around it.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st
from streamlit_folium import st_folium

from pages import frame, show_refusal
from planner.app.labels import district_names
from planner.app.mapview import compare_map
from planner.app.session import (
    acting_user,
    current_user,
    fmt_wan,
    load_scenario,
    state_store,
)
from planner.app.text import md
from planner.core.access import may
from planner.core.capacity import capacity_report
from planner.core.changes import register_changes
from planner.core.geo import M2_PER_WAN, fmt_m2
from planner.errors import PlannerError
from planner.i18n import field_label, labels, translator
from planner.store import MAIN, compare

plan, register, lang = frame()
t = translator(lang)  # the one translator (planner.i18n)


def when(text: str) -> str:
    """'2026-11-25 21:40:12' from an ISO time (UTC)."""
    return str(text)[:19].replace("T", " ")


store = state_store(st.session_state)
user = current_user(st.session_state)
scenario: str = st.session_state.scenario
version = st.session_state.version
can_manage = may(user, "copy") and may(user, "delete")  # the policy (planner.core.access) decides
can_write = may(user, "restore")

st.title(t("方案与历史", "Scenarios and history"))
st.markdown(
    t(
        f"**当前方案**: {md(scenario)} · v{version.version} · {md(version.author)} · "
        f"{when(version.created_at)} UTC · {md(version.comment or '—')}",
        f"**Current scenario**: {md(scenario)} · v{version.version} · {md(version.author)} · "
        f"{when(version.created_at)} UTC · {md(version.comment or '—')}",
    )
)
st.caption(t(f"存储: {md(store.location)}", f"Store: {md(store.location)}"))
if "flash_scenario" in st.session_state:
    st.success(md(st.session_state.pop("flash_scenario")))

scenarios = store.scenarios()
names = list(scenarios["scenario"])
VIEWS = {
    "list": ("方案", "Scenarios"),
    "compare": ("方案对比", "Compare"),
    "history": ("历史版本", "History"),
}
# one view at a time (not tabs): only the chosen one runs, and its map is drawn at its real size
view = st.radio(
    t("查看", "View"), list(VIEWS), format_func=lambda k: t(*VIEWS[k]), horizontal=True, key="scenario_view"
)

# ---- scenarios ---------------------------------------------------------------------------
if view == "list":
    st.dataframe(
        scenarios.assign(created_at=scenarios["created_at"].map(when)),
        hide_index=True,
        placeholder="—",
        key="scenario_table",
        column_config={
            "scenario": t("方案", "Scenario"),
            "version": t("最新版本", "Latest version"),
            "author": t("作者", "Author"),
            "created_at": t("时间 (UTC)", "Time (UTC)"),
            "comment": t("说明", "Comment"),
            "n_parks": t("园区数", "Parks"),
            "n_allocations": t("分配数", "Allocations"),
        },
    )
    c1, c2 = st.columns([3, 1])
    pick = c1.selectbox(
        t("打开方案", "Open a scenario"),
        names,
        index=names.index(scenario) if scenario in names else 0,
        key=f"scenario_pick_{scenario}",  # a widget a scenario: it shows the open one
    )
    c2.write("")
    if c2.button(t("打开", "Open"), key="open_scenario", disabled=pick is None):
        try:
            v = load_scenario(st.session_state, pick)
        except PlannerError as err:
            show_refusal(err, lang, key="open")
        else:
            st.session_state.flash_scenario = t(
                f"已打开方案 {pick} (v{v.version})。其他页面现在显示并编辑此方案。",
                f"Opened scenario {pick} (v{v.version}). The other pages now show and edit it.",
            )
            st.rerun()

    if can_manage:
        st.subheader(t("另存为新方案", "Save as a new scenario"))
        st.caption(
            t(
                f"复制方案 {md(scenario)} 的最新版本为新方案 (新方案的第 1 版), 然后打开它。",
                f"Copies the latest version of {md(scenario)} into a new scenario (its version 1) and opens it.",
            )
        )
        n1, n2 = st.columns(2)
        new_name = n1.text_input(
            t("新方案名称", "New scenario's name"), key=f"save_as_name_{scenario}"
        ).strip()
        note = n2.text_input(t("说明", "Comment"), key=f"save_as_comment_{scenario}")
        if st.button(t("另存为", "Save as"), key="save_as", disabled=not new_name):
            try:
                copied = store.copy(
                    scenario, new_name, user=acting_user(st.session_state, "copy"), comment=note
                )
                v = load_scenario(st.session_state, copied.scenario)  # the name as stored (NFKC)
            except PlannerError as err:
                show_refusal(err, lang, key="save_as")
            else:
                st.session_state.flash_scenario = t(
                    f"已另存为方案 {v.scenario} (v{v.version}) 并打开。",
                    f"Saved as scenario {v.scenario} (v{v.version}) and opened it.",
                )
                st.rerun()

        st.subheader(t("删除方案", "Delete a scenario"))
        others = [n for n in names if n != MAIN]
        if not others:
            st.caption(
                t(
                    f"没有可删除的方案 (主方案 {MAIN} 不能删除)。",
                    f"Nothing to delete ({MAIN} cannot be deleted).",
                )
            )
        else:
            d1, d2 = st.columns(2)
            doomed = d1.selectbox(t("要删除的方案", "Scenario to delete"), others, key="delete_pick")
            confirm = d2.text_input(
                t(f"请输入方案名 {md(doomed)} 以确认", f"Type its name {md(doomed)} to confirm"),
                key=f"delete_confirm_{doomed}",
            )
            st.caption(
                t(
                    "删除后该方案不再列出, 但其全部历史版本仍保留, 可查看、可恢复 (全过程留痕)。",
                    "A deleted scenario leaves the list; every version stays in the history, viewable and "
                    "restorable.",
                )
            )
            if st.button(
                t("删除", "Delete"), key="delete_scenario", type="primary", disabled=confirm != doomed
            ):
                try:
                    store.delete(doomed, user=acting_user(st.session_state, "delete"), confirm=confirm)
                    if doomed == scenario:
                        load_scenario(st.session_state, MAIN)
                except PlannerError as err:
                    show_refusal(err, lang, key="delete")
                else:
                    st.session_state.flash_scenario = t(
                        f"已删除方案 {doomed}。", f"Deleted scenario {doomed}."
                    )
                    st.rerun()
    else:
        st.info(
            t(
                "只有市级规划人员可以另存为新方案或删除方案。",
                "Only city planners may save as a new scenario or delete one.",
            )
        )


# ---- compare -----------------------------------------------------------------------------
def pick_version(label: str, key: str, default: str) -> tuple[str, int]:
    """A scenario and one of its versions (the latest by default)."""
    c1, c2 = st.columns(2)
    name = c1.selectbox(f"{label}: {t('方案', 'scenario')}", names, index=names.index(default), key=key)
    versions = [int(v) for v in store.history(name).query("action != 'delete'")["version"]]
    chosen = c2.selectbox(
        f"{label}: {t('版本', 'version')}",
        versions,
        format_func=lambda v: f"v{v}" + (t(" (最新)", " (latest)") if v == versions[0] else ""),
        key=f"{key}_version_{name}",
    )
    return name, int(chosen)


def comparison(a: tuple[str, int], b: tuple[str, int]):
    """The comparison of two stored versions, held in the session (versions never change)."""
    key = (store.location, a, b)
    held = st.session_state.get("held_comparison")
    if held is None or held[0] != key:
        ra, _ = store.load(*a)
        rb, _ = store.load(*b)
        held = (key, compare(plan, ra, rb))
        st.session_state.held_comparison = held
    return held[1]


def held_version(name: str, number: int):
    """A stored version with its capacity report, held in the session (versions never change)."""
    key = (store.location, name, number)
    held = st.session_state.get("held_version")
    if held is None or held[0] != key:
        reg, v = store.load(name, number)
        held = (key, reg, v, capacity_report(plan, reg))
        st.session_state.held_version = held
    return held[1:]


def m2_table(frame: pd.DataFrame, label: str, cols: dict[str, str]) -> pd.DataFrame:
    """A/B/Δ figures in 万㎡ and m² side by side."""
    out = pd.DataFrame({label: frame["label"]})
    for col, head in cols.items():
        out[f"{head} (万㎡)"] = (frame[col] / M2_PER_WAN).round(2)
    for col, head in cols.items():
        out[f"{head} (m²)"] = frame[col].round(0)
    return out


PARK_COLS = ["id", "name_zh", "name_en", "district_code", "status", "delivery_year", "new_gfa_m2"]
PARK_HEADS = {
    "id": t("编号", "ID"),
    "name_zh": "名称",
    "name_en": "Name",
    "district_code": t("区", "District"),
    "status": t("状态", "Status"),
    "delivery_year": t("交付年份", "Delivery year"),
    "new_gfa_m2": t("新增建筑面积 (m²)", "New floor area (m²)"),
    "changed_columns": t("改动的字段", "Changed columns"),
}

AUDIT_HEADS = {
    "time": t("时间 (UTC)", "Time (UTC)"),
    "user": t("用户", "User"),
    "role": t("角色", "Role"),
    "action": t("操作", "Action"),
    "scenario": t("方案", "Scenario"),
    "version": t("版本", "Version"),
    "outcome": t("结果", "Outcome"),
    "detail": t("详情", "Detail"),
}

if view == "compare":
    st.caption(
        t("A 为基准, B 与之对比 (Δ = B − A)。", "A is the baseline; B is compared with it (Δ = B − A).")
    )
    other = next((n for n in names if n != scenario), scenario)
    a = pick_version("A", "cmp_a", scenario if scenario in names else names[0])
    b = pick_version("B", "cmp_b", other)
    cmp = comparison(a, b)
    st.markdown(f"**A** = {md(a[0])} v{a[1]} · **B** = {md(b[0])} v{b[1]}")
    ab = {"a": f"A {a[0]} v{a[1]}", "b": f"B {b[0]} v{b[1]}", "delta": "Δ"}
    M2_FORMAT = {f"{h} (m²)": st.column_config.NumberColumn(format="localized") for h in ab.values()}
    totals = cmp.totals.assign(label=cmp.totals["label_zh" if lang == "zh" else "label_en"])
    st.subheader(t("合计", "Totals"))
    st.dataframe(
        m2_table(totals, t("指标", "Figure"), ab),
        hide_index=True,
        placeholder="—",
        key="cmp_totals",
        column_config=M2_FORMAT,
    )
    st.subheader(t("各区计入面积", "Counted space by district"))
    by = cmp.by_district.assign(label=cmp.by_district["name_zh" if lang == "zh" else "name_en"])
    by = by.rename(columns={"a_m2": "a", "b_m2": "b", "delta_m2": "delta"})
    st.dataframe(
        m2_table(by, t("区", "District"), ab),
        hide_index=True,
        placeholder="—",
        key="cmp_districts",
        column_config=M2_FORMAT,
    )

    for kind, frame, head in (
        ("added", cmp.parks_added, t("新增园区 (B 有, A 无)", "Parks added (in B, not in A)")),
        ("removed", cmp.parks_removed, t("删除园区 (A 有, B 无)", "Parks removed (in A, not in B)")),
        ("changed", cmp.parks_changed, t("修改园区 (B 的数据)", "Parks changed (B's figures)")),
    ):
        st.subheader(f"{head}: {len(frame)}")
        if len(frame):
            cols = PARK_COLS + (["changed_columns"] if kind == "changed" else [])
            shown = pd.DataFrame(frame[cols]).assign(
                status=labels("status", frame["status"], lang),
                district_code=frame["district_code"].map(district_names(plan, lang)),
            )
            if kind == "changed":
                shown["changed_columns"] = frame["changed_columns"].map(
                    lambda cs: "、".join(
                        field_label(c.strip(), lang)
                        for c in str(cs).replace(";", ",").split(",")
                        if c.strip()
                    )
                )
            st.dataframe(
                shown.rename(columns=PARK_HEADS),
                hide_index=True,
                placeholder="—",
                key=f"cmp_parks_{kind}",
            )
    if cmp.changes is not None:
        for zh, en, ch in (
            ("分配", "Allocations", cmp.changes.allocations),
            ("指标", "Quotas", cmp.changes.quotas),
        ):
            if ch:
                st.markdown(
                    t(
                        f"**{zh}**: 新增 {md(', '.join(ch.added) or '—')}; 删除 {md(', '.join(ch.removed) or '—')}; "
                        f"修改 {md(', '.join(ch.changed) or '—')}",
                        f"**{en}**: added {md(', '.join(ch.added) or '—')}; "
                        f"removed {md(', '.join(ch.removed) or '—')}; changed {md(', '.join(ch.changed) or '—')}",
                    )
                )
    st.subheader(
        t("地图: 新增 (绿) / 删除 (红) / 修改 (橙)", "Map: added (green) / removed (red) / changed (orange)")
    )
    st_folium(
        compare_map(plan, cmp, lang=lang),
        key="compare_map",
        height=520,
        use_container_width=True,
        returned_objects=[],
    )

# ---- history -----------------------------------------------------------------------------
if view == "history":
    history = store.history(scenario)
    st.caption(
        t(
            f"方案 {md(scenario)} 的每次修改都是一个新版本 (作者、时间、说明), 不覆盖旧版本 (全过程留痕)。",
            f"Every change to {md(scenario)} is a new version (author, time, comment); nothing is overwritten.",
        )
    )
    st.dataframe(
        history.assign(
            action=labels("action", history["action"], lang),
            role=labels("role", history["role"], lang),
            created_at=history["created_at"].map(when),
            restored_from=history["restored_from"].map(lambda v: f"v{v}" if pd.notna(v) else ""),
        ),
        hide_index=True,
        placeholder="—",
        key="history_table",
        column_config={
            "version": t("版本", "Version"),
            "action": t("操作", "Action"),
            "author": t("作者", "Author"),
            "role": t("角色", "Role"),
            "created_at": t("时间 (UTC)", "Time (UTC)"),
            "comment": t("说明", "Comment"),
            "changes": t("改动", "Changes"),
            "restored_from": t("恢复自", "Restored from"),
            "n_parks": t("园区数", "Parks"),
            "n_allocations": t("分配数", "Allocations"),
        },
    )
    viewable = [int(v) for v in history.query("action != 'delete'")["version"]]
    seen = st.selectbox(
        t("查看版本", "View a version"),
        viewable,
        format_func=lambda v: f"v{v}" + (t(" (当前)", " (current)") if v == version.version else ""),
        key=f"history_version_{scenario}",
    )
    old, old_v, old_report = held_version(scenario, seen)
    h1, h2, h3, h4 = st.columns(4)
    h1.metric(t("已计入", "Counted"), fmt_wan(old_report.counted_m2), help=fmt_m2(old_report.counted_m2))
    h2.metric(t("已落实", "Secured"), fmt_wan(old_report.secured_m2), help=fmt_m2(old_report.secured_m2))
    h3.metric(t("缺口", "Gap"), fmt_wan(old_report.gap_m2), help=fmt_m2(old_report.gap_m2))
    h4.metric(t("园区 / 分配", "Parks / allocations"), f"{len(old.parks)} / {len(old.allocations)}")
    st.caption(
        t(
            f"v{seen}: {md(old_v.author)} · {when(old_v.created_at)} UTC · {md(old_v.comment or '—')}。"
            f"与当前工作版本 v{version.version} 相比: {register_changes(old, register).summary()}",
            f"v{seen}: {md(old_v.author)} · {when(old_v.created_at)} UTC · {md(old_v.comment or '—')}. "
            f"Against the working version v{version.version}: {register_changes(old, register).summary()}",
        )
    )
    if can_write and seen != version.version:
        st.subheader(t(f"恢复 v{seen}", f"Restore v{seen}"))
        st.caption(
            t(
                f"以 v{seen} 的内容保存为新版本 (v{version.version + 1}); 之后的版本仍保留在历史中。",
                f"Saves v{seen}'s content as a new version (v{version.version + 1}); later versions stay "
                "in the history.",
            )
        )
        restore_note = st.text_input(
            t("说明", "Comment"), key=f"restore_comment_{scenario}_{version.version}"
        )
        if st.button(t(f"恢复 v{seen} 为新版本", f"Restore v{seen} as a new version"), key="restore_version"):
            try:
                new_v = store.restore(
                    scenario,
                    seen,
                    user=acting_user(st.session_state, "restore"),
                    comment=restore_note.strip(),
                    expected_version=version.version,
                )
                load_scenario(st.session_state, scenario)
            except PlannerError as err:
                show_refusal(err, lang, key="restore")
            else:
                st.session_state.flash_scenario = t(
                    f"已将 v{seen} 恢复为新版本 v{new_v.version}。",
                    f"Restored v{seen} as the new version v{new_v.version}.",
                )
                st.rerun()
    elif not can_write:
        st.info(
            t("只读: 登录后可恢复旧版本。", "Read-only: sign in with a writing account to restore a version.")
        )

    if may(user, "audit"):
        with st.expander(t("审计日志 (最近 200 条)", "Audit log (latest 200)")):
            log = store.audit_log(200)
            st.dataframe(
                log.assign(
                    time=log["time"].map(when),
                    role=labels("role", log["role"], lang),
                    action=labels("action", log["action"], lang),
                    outcome=labels("outcome", log["outcome"], lang),
                ),
                hide_index=True,
                placeholder="—",
                key="audit_table",
                column_config=AUDIT_HEADS,
            )
