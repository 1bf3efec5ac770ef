"""Monitoring (监测) as of a date, early warnings (预警) and the trend.

Every figure here is computed *as of a date* (today by default) from a register, using the
register's current delivery years and the statuses *as recorded at the date* (the version of the
store's history current at the end of that day, see :func:`with_status_as_of`; without a history,
the current statuses):

- ``phase``: ``before`` the plan period starts, ``in_period`` up to and including the deadline,
  ``ended`` after it.
- counted / secured (as ``planner.core.capacity``): delivery year inside the plan period; secured
  when delivered or under construction.
- delivered as of the date: counted, delivered now and recorded delivered by the date, delivery
  year not after the as-of year.
- after the deadline, the **result**: space delivered by the deadline (counted, delivered now and
  recorded delivered by the deadline day) against the target, and what **slipped**: counted (due
  inside the period) but not delivered by then, with how late (days from the end of its delivery
  year to the day it was recorded delivered, or to the as-of date while it is not).

Warnings are findings (``planner.core.findings.Finding``) with stable codes:

===========================  ========  =============================================================
code                         severity  meaning
===========================  ========  =============================================================
ALLOC_OVERDUE                warning   delivery year before the as-of year, not delivered
ALLOC_AT_RISK                warning   due in the as-of year, not yet under construction
PARK_STALE                   warning   the park's row unchanged in the store's history for N months
DISTRICT_BEHIND_PACE         warning   a district's secured space below its quota x expected share
PLAN_PERIOD_ENDED            info      the as-of date is after the deadline: the result is final
TARGET_MISSED_AT_DEADLINE    error     the plan ended with less delivered than the target
===========================  ========  =============================================================

The expected share of a quota at a date is linear over the period (1 Jan of the start year to the
deadline), or, when the plan folder sets ``[[quota_milestones]]`` (``year``, ``share``, optional
``district``), the share of the last milestone year that has ended.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from planner.core.capacity import CapacityReport, allocation_table, capacity_report
from planner.core.findings import (
    Finding,
    empty_findings,
    finding_rows,
    m2_text,
    sort_findings,
)
from planner.core.geo import fmt_m2
from planner.core.history import TREND_COLUMNS, Recorded, RowHistory, as_history, figures
from planner.core.plan import Plan
from planner.core.register import STATUS_LABELS, Register

PHASES = {
    "before": ("规划期尚未开始", "the plan period has not started"),
    "in_period": ("规划期内", "within the plan period"),
    "ended": ("规划期已结束", "the plan period has ended"),
}
DEFAULT_STALE_MONTHS = 12
WARNING_CODES = (
    "ALLOC_OVERDUE",
    "ALLOC_AT_RISK",
    "PARK_STALE",
    "DISTRICT_BEHIND_PACE",
    "PLAN_PERIOD_ENDED",
    "TARGET_MISSED_AT_DEADLINE",
)
NOT_STARTED = ("planned", "unknown")


def today() -> dt.date:
    """Today's date (the default as-of date)."""
    return dt.date.today()


def parse_date(text: str) -> dt.date:
    """A ``YYYY-MM-DD`` date; ValueError with a bilingual message otherwise."""
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"日期格式应为 YYYY-MM-DD / a date is written YYYY-MM-DD, got {text!r}") from None


def phase_of(plan: Plan, as_of: dt.date) -> str:
    """``before``, ``in_period`` (the deadline day included) or ``ended``."""
    if as_of < dt.date(plan.period_start, 1, 1):
        return "before"
    return "in_period" if as_of <= plan.deadline else "ended"


def elapsed_share(plan: Plan, as_of: dt.date) -> float:
    """The share of the plan period passed at ``as_of`` (0 before it, 1 after the deadline)."""
    start = dt.date(plan.period_start, 1, 1)
    total = (plan.deadline - start).days
    return float(min(max((as_of - start).days / total, 0.0), 1.0)) if total > 0 else 1.0


def expected_shares(plan: Plan, as_of: dt.date) -> tuple[pd.Series, str]:
    """The expected share of each district's quota at ``as_of`` and the rule used
    (``linear`` or ``milestones``). Index: district codes."""
    codes = plan.district_codes()
    milestones = plan.raw.get("quota_milestones", [])
    if not milestones:
        return pd.Series(elapsed_share(plan, as_of), index=codes), "linear"
    m = pd.DataFrame(milestones)
    if "district" not in m:
        m["district"] = ""
    m["district"] = m["district"].fillna("").astype(str)
    passed = m[m["year"].astype(int) < as_of.year].sort_values("year")  # the milestone year has ended
    city = passed.loc[passed["district"] == "", "share"]
    base = float(city.iloc[-1]) if len(city) else 0.0
    own = passed[passed["district"] != ""].groupby("district")["share"].last()
    return pd.Series(base, index=codes).mask(pd.Index(codes).isin(own.index), own), "milestones"


@dataclass(frozen=True)
class Monitor:
    """The plan's figures as of a date. Areas in m²."""

    plan_id: str
    as_of: dt.date
    phase: str
    target_m2: float
    deadline: dt.date
    period_start: int
    counted_m2: float
    secured_m2: float
    delivered_m2: float  # counted, delivered, delivery year <= the as-of year
    elapsed_share: float
    pace_rule: str
    result_delivered_m2: float | None  # after the deadline: delivered by the deadline
    result_met: bool | None
    slipped: pd.DataFrame  # allocations due in the period, not delivered, past their year
    by_district: pd.DataFrame  # key, name_zh, name_en, counted/secured/delivered, quota, expected
    delivered_by_year: pd.DataFrame  # year, delivered_m2, delivered_cumulative_m2 (status dates)
    warnings_table: pd.DataFrame  # the warnings, one row each (planner.core.findings.FINDING_COLUMNS)
    # how many warnings of each code, in the table's order (all of them: also when the table holds
    # only the first rows of each code, ``monitor(first=...)``)
    warnings_by_code: dict[str, int] = field(default_factory=dict)
    # how many allocations slipped and their space, all of them (``monitor(first=...)`` keeps only
    # the first rows in ``slipped``); None: as many as ``slipped`` holds
    slipped_total: int | None = None
    slipped_total_m2: float | None = None

    @property
    def warnings_total(self) -> int:
        """How many warnings there are (all codes; the table may hold only the first of each)."""
        return sum(self.warnings_by_code.values())

    @property
    def warnings(self) -> list[Finding]:
        """The warnings as findings, one object each (for short lists: a report, a page; the
        table is :attr:`warnings_table`)."""
        t = self.warnings_table
        return [
            Finding.of(sev, i, code, zh, en)
            for sev, i, code, zh, en in zip(
                t["severity"], t["id"], t["code"], t["message_zh"], t["message_en"], strict=True
            )
        ]

    @property
    def progress(self) -> float:
        """Counted space as a share of the target."""
        return self.counted_m2 / self.target_m2 if self.target_m2 else float("nan")

    @property
    def slipped_m2(self) -> float:
        """Space due inside the period that was not delivered by the deadline (or is overdue): of
        every slipped allocation, also when ``slipped`` holds only the first rows."""
        if self.slipped_total_m2 is not None:
            return self.slipped_total_m2
        return float(self.slipped["area_m2"].sum())

    @property
    def slipped_count(self) -> int:
        """How many allocations slipped (all, also when ``slipped`` holds only the first rows)."""
        return len(self.slipped) if self.slipped_total is None else self.slipped_total

    def phase_text(self, lang: str = "zh") -> str:
        """'规划期已结束' / 'the plan period has ended'."""
        zh, en = PHASES[self.phase]
        return zh if lang == "zh" else en

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (``check --as-of DATE --json``, key ``monitor``)."""

        def plain(x: Any) -> Any:
            if x is None or x is pd.NA or (isinstance(x, float) and np.isnan(x)):
                return None
            return x.item() if isinstance(x, np.generic) else x

        def records(df: pd.DataFrame) -> list[dict[str, Any]]:
            return [{k: plain(v) for k, v in r.items()} for r in df.to_dict("records")]

        return {
            "as_of": self.as_of.isoformat(),
            "phase": self.phase,
            "phase_zh": PHASES[self.phase][0],
            "phase_en": PHASES[self.phase][1],
            "target_m2": self.target_m2,
            "deadline": self.deadline.isoformat(),
            "counted_m2": self.counted_m2,
            "secured_m2": self.secured_m2,
            "delivered_m2": self.delivered_m2,
            "progress": self.progress,
            "elapsed_share": self.elapsed_share,
            "pace_rule": self.pace_rule,
            "result_delivered_m2": self.result_delivered_m2,
            "result_met": self.result_met,
            "slipped_m2": self.slipped_m2,
            "slipped": records(self.slipped),
            "districts": records(self.by_district),
            "delivered_by_year": records(self.delivered_by_year),
            "warnings": [
                {
                    "severity": s,
                    "id": i,
                    "code": c,
                    "message": f"{zh} / {en}",
                    "message_zh": zh,
                    "message_en": en,
                }
                for s, i, c, zh, en in zip(
                    *(
                        self.warnings_table[k].tolist()
                        for k in ("severity", "id", "code", "message_zh", "message_en")
                    ),
                    strict=True,
                )
            ],
        }


def _isin(index: pd.Index, values: Any) -> np.ndarray:
    """``index.isin(values)`` through one hash table of objects: pandas' Arrow-text ``isin`` converts
    the values one by one (a second for 100,000 park ids, against a twentieth of that)."""
    return pd.Index(np.asarray(index, dtype=object), dtype=object).isin(np.asarray(values, dtype=object))


History = RowHistory | Sequence[Recorded | tuple[Any, Register]]


def with_status_as_of(a: pd.DataFrame, history: History, day: dt.date) -> pd.DataFrame:
    """The allocation table with ``status_as_of`` and ``delivered_as_of``: the status as recorded in
    the version current at ``day`` (:meth:`RowHistory.current_at`).

    Delivered as of a day means delivered now *and* recorded delivered by then: a park delivered and
    recorded after the day is not delivered as of it (whatever its delivery year says), and one
    recorded delivered by mistake and corrected since is not delivered at all. An allocation first
    recorded after the day has no status then (``unknown``). Without a history: the current status.
    """
    ((status, delivered),) = statuses_as_of(a, history, [day])
    return a.assign(status_as_of=status, delivered_as_of=delivered)


def statuses_as_of(
    a: pd.DataFrame, history: History, days: Sequence[dt.date]
) -> list[tuple[pd.Series, pd.Series]]:
    """:func:`with_status_as_of`'s two columns (``status_as_of``, ``delivered_as_of``) for each of
    ``days``, the allocation table joined to the history once for all of them."""
    facts = as_history(history)
    delivered = a["status"] == "delivered"
    ranks = [facts.current_at(day) for day in days]
    if any(k is None for k in ranks):  # no history: the current statuses
        return [(a["status"], delivered) for _ in days]
    ids = a["allocation_id"].astype(str).to_numpy(dtype=object)
    now = a["status"].to_numpy(dtype=object)
    delivered_now = delivered.to_numpy(dtype=bool)
    out = []
    for recorded in facts.statuses_of(ids, [int(k) for k in ranks if k is not None]):
        then = np.where(pd.isna(recorded), "unknown", recorded)
        was = then == "delivered"
        corrected = was & ~delivered_now  # recorded delivered then, not delivered now
        then[corrected] = now[corrected]
        out.append(
            (
                pd.Series(then, index=a.index, dtype=object),
                pd.Series(was & delivered_now, index=a.index, dtype=bool),
            )
        )
    return out


def delivered_since(history: History, as_of: dt.date) -> pd.Series:
    """When each allocation was recorded delivered and stayed so (among the versions saved by the
    end of ``as_of``): allocation id -> Timestamp (naive UTC)."""
    return as_history(history).delivered_since(as_of)


def monitor(
    plan: Plan,
    register: Register,
    as_of: dt.date | None = None,
    *,
    history: History = (),
    stale_months: int = DEFAULT_STALE_MONTHS,
    report: CapacityReport | None = None,
    table: pd.DataFrame | None = None,
    first: int | None = None,
) -> Monitor:
    """The plan's figures and early warnings as of ``as_of`` (today when None).

    ``history`` is the scenario's saved history: a ``planner.core.history.RowHistory``
    (``row_history``: one query per table of the store), or the saved versions, oldest first, as
    ``Recorded`` or ``(created_at ISO text, register)`` pairs. With it, statuses are as recorded at
    the date (:func:`with_status_as_of`) and stale parks are found; without it the current statuses
    are used and there is no staleness warning. ``report`` and ``table``: the register's capacity
    report and allocation table when the caller has them (a check's: ``CheckResult.report`` and
    ``.alloc_table``), else computed here. ``first``: the warnings table keeps only the first rows
    of each code (in the table's order), their texts built for those rows only, and ``slipped`` its
    first rows; ``warnings_by_code``, ``slipped_count`` and ``slipped_m2`` count them all.
    """
    as_of = as_of or today()
    report = report if report is not None else capacity_report(plan, register)
    facts = as_history(history)
    table = table if table is not None else allocation_table(plan, register)
    # delivered by the deadline (after it) or by the as-of date (before it), as recorded then
    ref = min(as_of, plan.deadline)
    at = statuses_as_of(table, facts, [as_of] if ref == as_of else [as_of, ref])
    a = table.assign(status_as_of=at[0][0], delivered_as_of=at[0][1])
    delivered_ref = at[-1][1]
    year = a["delivery_year"]
    counted = a["counted"]
    delivered_now = counted & a["delivered_as_of"] & (year <= as_of.year).fillna(False)
    phase = phase_of(plan, as_of)

    slipped_mask = counted & year.notna() & (year < as_of.year) & ~delivered_ref
    slipped_rows = np.flatnonzero(slipped_mask.to_numpy())
    slipped_total_m2 = float(pd.Series(a["area_m2"].to_numpy(dtype=float)[slipped_rows]).sum())
    s = a.iloc[slipped_rows if first is None else slipped_rows[:first]]  # the rows the table keeps
    s_ids = s["allocation_id"].astype(str).to_numpy(dtype=object)
    year_end = pd.to_datetime(s["delivery_year"].astype(int).astype(str) + "-12-31")
    since = facts.delivered_since(as_of, s_ids if first is not None else None).reindex(s_ids)
    since = pd.Series(since.to_numpy(), index=s.index).where(s["delivered_as_of"])
    until = since.dt.normalize().fillna(pd.Timestamp(as_of))
    slipped = pd.DataFrame(
        {
            "allocation_id": s["allocation_id"].to_numpy(),
            "park_id": s["park_id"].to_numpy(),
            "park_name": _park_names(register.parks, s["park_id"], missing=""),
            "area_key": s["area_key"].to_numpy(),
            "area_m2": s["area_m2"].to_numpy(dtype=float),
            "delivery_year": s["delivery_year"].astype(int).to_numpy(),
            "status": s["status"].to_numpy(),
            "days_late": (until - year_end).dt.days.to_numpy(),
            "recorded_delivered_on": np.where(
                since.notna().to_numpy(), since.dt.strftime("%Y-%m-%d").to_numpy(dtype=object), None
            ),
        }
    )

    shares, rule = expected_shares(plan, as_of)
    d = report.by_district[["key", "name_zh", "name_en", "counted_m2", "secured_m2", "quota_m2"]].copy()
    d["delivered_m2"] = (
        d["key"].map(a[delivered_now].groupby("area_key")["area_m2"].sum()).fillna(0.0).astype(float)
    )
    d["expected_share"] = d["key"].map(shares).astype(float)
    d["expected_m2"] = d["quota_m2"] * d["expected_share"]
    d["behind_pace"] = pd.Series(
        np.where(d["expected_m2"].isna(), None, d["secured_m2"] < d["expected_m2"]),
        index=d.index,
        dtype=object,
    )

    years = pd.Index(plan.years, name="year")
    by_year = (
        a[counted & delivered_ref].groupby("delivery_year")["area_m2"].sum().reindex(years, fill_value=0.0)
    )
    delivered_by_year = pd.DataFrame(
        {
            "year": list(years),
            "delivered_m2": by_year.to_numpy(dtype=float),
            "delivered_cumulative_m2": by_year.cumsum().to_numpy(dtype=float),
        }
    )

    result = float(a.loc[counted & delivered_ref, "area_m2"].sum()) if phase == "ended" else None
    mon = Monitor(
        plan_id=plan.id,
        as_of=as_of,
        phase=phase,
        target_m2=report.target_m2,
        deadline=plan.deadline,
        period_start=plan.period_start,
        counted_m2=report.counted_m2,
        secured_m2=report.secured_m2,
        delivered_m2=float(a.loc[delivered_now, "area_m2"].sum()),
        elapsed_share=elapsed_share(plan, as_of),
        pace_rule=rule,
        result_delivered_m2=result,
        result_met=None
        if result is None or report.target_m2 != report.target_m2
        else result >= report.target_m2,
        slipped=slipped,
        by_district=d,
        delivered_by_year=delivered_by_year,
        warnings_table=empty_findings(),
        slipped_total=len(slipped_rows),
        slipped_total_m2=slipped_total_m2,
    )
    warnings, counts = _warnings(plan, register, a, mon, as_of, facts, stale_months, first)
    return replace(mon, warnings_table=warnings, warnings_by_code=counts)


_emit = finding_rows


def _warnings(
    plan: Plan,
    register: Register,
    a: pd.DataFrame,
    mon: Monitor,
    as_of: dt.date,
    history: RowHistory,
    stale_months: int,
    first: int | None = None,
) -> tuple[pd.DataFrame, dict[str, int]]:
    """The warnings as one findings table, each code's rows built column by column, and how many
    of each code there are. ``first``: only the first rows of each code (by id, the table's order)
    are built, texts included; the counts are of all."""
    out: list[pd.DataFrame] = []
    counts: dict[str, int] = {}

    def head(rows: pd.DataFrame, code: str, ids: pd.Series) -> pd.DataFrame:
        """``rows`` cut to the ones the table keeps (all, or the first by id), counted."""
        counts[code] = len(rows)
        if first is None or len(rows) <= first:
            return rows
        keys = pd.Series(ids, dtype=str).astype(str).to_numpy(dtype=object)
        return rows.iloc[np.sort(np.argsort(keys, kind="stable")[:first])]

    def pick(mask: pd.Series, code: str) -> pd.DataFrame:
        """The rows of ``a`` under ``mask`` the table keeps (all, or the first by allocation id),
        counted; only those rows are taken from the table."""
        rows = np.flatnonzero(mask.to_numpy(dtype=bool, na_value=False))
        counts[code] = len(rows)
        if first is not None and len(rows) > first:
            keys = a["allocation_id"].iloc[rows].astype(str).to_numpy(dtype=object)
            rows = rows[np.sort(np.argsort(keys, kind="stable")[:first])]
        return a.iloc[rows]

    year = a["delivery_year"]

    def park_name(ids: pd.Series) -> pd.Series:
        return pd.Series(_park_names(register.parks, ids), index=ids.index, dtype=object)

    def status_text(keys: pd.Series, lang: int) -> list[str]:
        labels = {k: (v[lang] if lang == 0 else v[lang].lower()) for k, v in STATUS_LABELS.items()}
        codes, uniques = pd.factorize(keys.astype(str))  # a few statuses: each label looked up once
        shown = np.array([labels.get(u, u) for u in uniques] + [""], dtype=object)
        return shown[codes].tolist()

    # One f-string a row and language over plain lists (pandas' string concatenation of many
    # columns takes several times as long for tens of thousands of allocations).
    o = pick(year.notna() & (year < as_of.year) & ~a["delivered_as_of"], "ALLOC_OVERDUE")
    rows = list(
        zip(
            park_name(o["park_id"]).tolist(),
            o["area_m2"].astype(float).tolist(),
            m2_text(o["area_m2"].astype(float)).tolist(),
            o["delivery_year"].astype(int).tolist(),
            status_text(o["status_as_of"], 0),
            status_text(o["status_as_of"], 1),
            strict=True,
        )
    )
    out.append(
        _emit(
            "warning",
            "ALLOC_OVERDUE",
            o["allocation_id"],
            pd.Series(
                [f"{n}: {w} 应于 {y} 年交付, 截至 {as_of} 仍未交付 (状态 {z})" for n, _, w, y, z, _ in rows]
            ),
            pd.Series(
                [
                    f"{n}: {v:,.0f} m² due in {y}, not delivered by {as_of} (status {e})"
                    for n, v, _, y, _, e in rows
                ]
            ),
        )
    )
    r = pick((year == as_of.year).fillna(False) & a["status_as_of"].isin(NOT_STARTED), "ALLOC_AT_RISK")
    at_risk = list(
        zip(
            park_name(r["park_id"]).tolist(),
            r["area_m2"].astype(float).tolist(),
            m2_text(r["area_m2"].astype(float)).tolist(),
            strict=True,
        )
    )
    out.append(
        _emit(
            "warning",
            "ALLOC_AT_RISK",
            r["allocation_id"],
            pd.Series([f"{n}: {w} 应于今年 ({as_of.year}) 交付, 尚未开工" for n, _, w in at_risk]),
            pd.Series(
                [
                    f"{n}: {v:,.0f} m² due this year ({as_of.year}), not yet under construction"
                    for n, v, _ in at_risk
                ]
            ),
        )
    )
    if len(history):
        changed = park_last_changed(history, as_of)
        limit = pd.Timestamp(as_of) - pd.DateOffset(months=stale_months)
        stale = changed[(changed.notna() & (changed < limit)).to_numpy()]
        stale = stale[_isin(stale.index, register.parks["id"])] if len(stale) else stale  # parks still there
        stale = head(stale.to_frame("at"), "PARK_STALE", pd.Series(stale.index))["at"]
        ids = pd.Series(stale.index.astype(str), index=stale.index)
        since = pd.Series(stale.dt.strftime("%Y-%m-%d").to_numpy(), index=stale.index)
        out.append(
            _emit(
                "warning",
                "PARK_STALE",
                ids,
                park_name(ids) + ": 数据自 " + since + f" 起未更新, 已超过 {stale_months} 个月",
                ids + ": figures not updated since " + since + f", more than {stale_months} months",
            )
        )
    if mon.phase == "in_period":
        behind = mon.by_district[mon.by_district["behind_pace"] == True]  # noqa: E712
        for r in behind.to_dict("records"):
            out.append(
                _one(
                    "warning",
                    r["key"],
                    "DISTRICT_BEHIND_PACE",
                    f"{r['name_zh']}: 已落实 {fmt_m2(r['secured_m2'])}, 低于进度要求 {fmt_m2(r['expected_m2'])} "
                    f"(指标的 {r['expected_share']:.0%}, {'线性' if mon.pace_rule == 'linear' else '里程碑'})",
                    f"{r['name_en']}: secured {r['secured_m2']:,.0f} m², behind the pace of "
                    f"{r['expected_m2']:,.0f} m² ({r['expected_share']:.0%} of its quota, {mon.pace_rule})",
                )
            )
    if mon.phase == "ended":
        out.append(
            _one(
                "info",
                plan.id,
                "PLAN_PERIOD_ENDED",
                f"规划期已于 {plan.deadline} 结束: 截止时已交付 {fmt_m2(mon.result_delivered_m2)}, "
                f"目标 {fmt_m2(mon.target_m2)}; 逾期未交付 {fmt_m2(mon.slipped_m2)}",
                f"the plan period ended on {plan.deadline}: {mon.result_delivered_m2:,.0f} m² delivered by the "
                f"deadline against {mon.target_m2:,.0f} m²; {mon.slipped_m2:,.0f} m² slipped",
            )
        )
        if mon.result_met is False:  # a plan without a space target has no result to miss
            short = mon.target_m2 - (mon.result_delivered_m2 or 0.0)
            out.append(
                _one(
                    "error",
                    plan.id,
                    "TARGET_MISSED_AT_DEADLINE",
                    f"截至 {plan.deadline} 已交付 {fmt_m2(mon.result_delivered_m2)}, 未达目标, 差 {fmt_m2(short)}",
                    f"{mon.result_delivered_m2:,.0f} m² delivered by {plan.deadline}: target missed by {short:,.0f} m²",
                )
            )
    out = [block for block in out if len(block)]
    if not out:
        return empty_findings(), {}
    table = sort_findings(pd.concat(out, ignore_index=True))
    codes = table["code"].drop_duplicates().tolist()  # the table's order of codes
    few = table["code"].value_counts(sort=False)  # the codes built whole (a district's, the plan's)
    counted = {str(c): int(counts.get(c, few[c])) for c in codes}
    if first is not None:  # those cut too (a few rows)
        table = table.groupby("code", sort=False).head(first).reset_index(drop=True)
    return table, counted


def _park_names(parks: pd.DataFrame, ids: pd.Series, missing: str | None = None) -> np.ndarray:
    """The name (``name_zh``) of the park of each id in ``ids``, ``missing`` for an id the register
    does not have (None: the id itself). Only the parks with those ids are looked up (a few rows
    of a register of 100,000 parks); a repeated park id names its first row."""
    values = ids.astype(str).to_numpy(dtype=object)
    wanted = pd.unique(values)
    found = (
        parks["id"].isin(wanted).to_numpy(dtype=bool, na_value=False)
        if len(wanted) <= _FEW  # pandas' Arrow-text isin is quick for a few values only
        else _isin(pd.Index(parks["id"]), wanted)
    )
    hit = np.flatnonzero(found)
    known = pd.Index(parks["id"].iloc[hit].astype(str).to_numpy(dtype=object), dtype=object)
    names = parks["name_zh"].iloc[hit].astype(str).to_numpy(dtype=object)
    once = ~known.duplicated()
    at = known[once].get_indexer(values)
    shown = np.append(names[once], np.array([None], dtype=object))  # at -1 (not found): replaced below
    return np.where(at >= 0, shown[at], values if missing is None else missing)


_FEW = 1_000


def _one(severity: str, id: str, code: str, zh: str, en: str) -> pd.DataFrame:
    """One warning as a row of the table."""
    return _emit(severity, code, pd.Series([str(id)]), zh, en)


def park_last_changed(history: History, as_of: dt.date | None = None) -> pd.Series:
    """When each park's row last changed: the time of the version that last added or changed it,
    among the versions saved by the end of ``as_of``. Index park id, values Timestamps (naive UTC)."""
    return as_history(history).park_last_changed(as_of)


def trend(plan: Plan, history: Sequence[tuple[Any, Register]]) -> pd.DataFrame:
    """Counted, secured and delivered space at each saved version, computed afresh from
    ``(version record, register)`` pairs, oldest first (the record needs ``version`` and
    ``created_at``). The app and the CLI use ``planner.core.history.cached_trend``, which computes
    each version once."""
    rows = []
    for v, register in history:
        f = figures(plan, register)
        rows.append(
            {
                "version": int(v.version),
                "created_at": v.created_at,
                "counted_m2": f.counted_m2,
                "secured_m2": f.secured_m2,
                "delivered_m2": f.delivered_m2,
            }
        )
    return pd.DataFrame(rows, columns=TREND_COLUMNS)


def warnings_frame(mon: Monitor) -> pd.DataFrame:
    """The warnings as a table (severity, code, id, ..., message_zh, message_en)."""
    return mon.warnings_table
