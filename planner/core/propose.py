"""Proposals that close the gap: allocate the missing space over the sites, as a mixed-integer program.

Given the site capacities (:mod:`planner.core.sites`), a target and deadline (the plan's by default),
district quotas, the districts' designated specialisations and the planner's weights,
:func:`propose` chooses how much new space to allocate on each site so that the target is met
with the least shortfall, and solves it with ``scipy.optimize.milp`` (HiGHS).

The model (areas in 万㎡ inside the solver, for good numerics)::

    sites i eligible: usable, capacity_i >= m, earliest_year_i <= deadline year
                      (and aligned with its district, if the planner asks for aligned sites only)
    variables   x_i in [0, capacity_i]      space allocated on site i
                z_i in {0, 1}               site i is used (semi-continuous x: 0 or >= m)
                s   >= 0                    shortfall
    minimise    P * s + sum_i c_i * x_i
    subject to  sum_i x_i + s        >= need            need = target - already counted by the deadline
                m * z_i <= x_i <= capacity_i * z_i      minimum allocation size
                lo_d <= sum_{i in d} x_i <= hi_d        district quotas (minus what d already counts)
                sum_{i in core} x_i  >= share * sum_i x_i      space kept for the core (南山)

    c_i = 1 + w_unsecured * [i planned] + w_misaligned * [i not aligned] + w_later * delay_i
    P   = 1000 * max_i c_i      (one m² of shortfall costs more than any allocation: least shortfall first)

So the solver first minimises the shortfall, then prefers secured sites (delivered or under
construction), sites aligned with their district's specialisation and early ones, as weighted; the
positive cost of every m² keeps it from allocating beyond the need. Each allocation is delivered
in the site's earliest year (never before the plan's start). With ``m = 0`` there is no binary.

When the target cannot be met (``shortfall > 0``), :func:`propose` says why: it re-solves with
each group of constraints relaxed in turn (the deadline's years, the maximum quotas, the
specialisation rule, the core share, the minimum size) and names the groups whose relaxation
delivers more, with the gain and the sites or districts concerned; a district whose minimum quota
exceeds what its sites can deliver by the deadline is named too. The result never touches the
register it started from: :func:`proposal_register` returns a new register with the proposed
allocations added (basis ``proposal``), to be saved as a new scenario.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from planner.core.geo import M2_PER_WAN, fmt_m2
from planner.core.plan import Plan
from planner.core.register import Register, conform_allocations, replace_allocations
from planner.core.sites import default_as_of, district_names, proposal_settings, site_capacity
from planner.errors import PlannerError, Problem, ValidationError

BINDING_KINDS: dict[str, tuple[str, str]] = {
    "capacity": ("场地容量", "site capacity"),
    "capacity_by_year": ("截止年份前的容量", "capacity by the deadline year"),
    "quota_max": ("区指标上限", "district quota maximum"),
    "quota_min": ("区指标下限无法满足", "district quota minimum cannot be met"),
    "specialisation": ("专业方向要求", "specialisation rule"),
    "core_share": ("核心区保留份额", "share kept for the core"),
    "min_size": ("最小分配面积", "minimum allocation size"),
}
TOL_M2 = 1.0  # figures within 1 m² are equal
TIE_BREAK = 0.01  # among otherwise equal sites, prefer the larger (fewer, larger allocations)
# HiGHS stops when the objective is proven within 0.1% of the optimum. The objective is P x shortfall
# + the allocation costs, so when the target can be met the shortfall is 0 (to a few m²) and the
# preferences are within 0.1%; when it cannot, the shortfall is within 0.1% of the least one.
MIP_GAP = 1e-3
TIME_LIMIT_S = 30.0  # then the best allocation found is used, and solver_status says so


@dataclass(frozen=True)
class Quota:
    """A district's quota for the total counted space (existing + proposed), m²; None: no bound."""

    district: str
    min_m2: float | None = None
    max_m2: float | None = None


@dataclass(frozen=True)
class Weights:
    """The planner's preferences, as extra cost per m² (0: indifferent)."""

    unsecured: float = 1.0  # a planned (not yet secured) site
    misaligned: float = 1.0  # a site not aligned with its district's designated specialisation
    later: float = 0.5  # a site delivering at the deadline rather than now (scaled by the delay)


@dataclass(frozen=True)
class Params:
    """What a proposal is asked for; None takes the plan's value (target, deadline, [proposals])."""

    target_m2: float | None = None
    deadline: dt.date | None = None
    as_of: int | None = None
    quotas: tuple[Quota, ...] | None = None  # None: the register's quotas, as minimums
    weights: Weights = field(default_factory=Weights)
    min_allocation_m2: float | None = None
    core_share: float | None = None
    aligned_only: bool = False
    overrides: tuple[tuple[str, float], ...] = ()  # (site id, allowed plot ratio)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready parameters (dates as ISO text)."""
        out = asdict(self)
        out["deadline"] = self.deadline.isoformat() if self.deadline else None
        return out


@dataclass(frozen=True)
class Binding:
    """A group of constraints that keeps the target out of reach, with what relaxing it would add."""

    kind: str
    gain_m2: float
    items: tuple[str, ...]
    message_zh: str
    message_en: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "kind": self.kind,
            "gain_m2": self.gain_m2,
            "items": list(self.items),
            "message_zh": self.message_zh,
            "message_en": self.message_en,
        }


@dataclass(frozen=True)
class Proposal:
    """A solved proposal. Areas in m²; ``params`` with every default filled in."""

    params: Params
    target_m2: float
    counted_m2: float  # already counted by the deadline
    needed_m2: float
    proposed_m2: float
    shortfall_m2: float
    feasible: bool
    binding: tuple[Binding, ...]
    allocations: pd.DataFrame  # site_id, name_zh, district, district_name, specialisation, m2, year, ...
    by_district: pd.DataFrame
    sites: gpd.GeoDataFrame  # the site capacity table, with proposed_m2
    solver_status: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: the CLI's ``propose --json``."""
        allocations = [
            {
                "site": r["site_id"],
                "site_name": r["name_zh"],
                "district": r["district_name"],
                "district_key": r["district"],
                "specialisation": r["specialisation"],
                "m2": float(r["m2"]),
                "year": int(r["year"]),
                "secured": bool(r["secured"]),
            }
            for r in self.allocations.to_dict("records")
        ]
        return {
            "target_m2": self.target_m2,
            "deadline": self.params.deadline.isoformat() if self.params.deadline else None,
            "as_of": self.params.as_of,
            "counted_m2": self.counted_m2,
            "needed_m2": self.needed_m2,
            "proposed_m2": self.proposed_m2,
            "shortfall_m2": self.shortfall_m2,
            "feasible": self.feasible,
            "binding": [b.to_dict() for b in self.binding],
            "allocations": allocations,
            "params": self.params.to_dict(),
            "solver_status": self.solver_status,
        }

    def summary(self, lang: str = "zh") -> str:
        """One line: proposed, shortfall, feasible."""
        if lang == "zh":
            verdict = "可以达标" if self.feasible else f"无法达标, 缺口 {fmt_m2(self.shortfall_m2)}"
            return (
                f"目标 {fmt_m2(self.target_m2)}, 已计入 {fmt_m2(self.counted_m2)}, "
                f"建议新增 {fmt_m2(self.proposed_m2)} ({len(self.allocations)} 处): {verdict}"
            )
        verdict = (
            "target met" if self.feasible else f"target out of reach, shortfall {fmt_m2(self.shortfall_m2)}"
        )
        return (
            f"target {fmt_m2(self.target_m2)}, counted {fmt_m2(self.counted_m2)}, "
            f"proposed {fmt_m2(self.proposed_m2)} ({len(self.allocations)} sites): {verdict}"
        )


def quotas_from_frame(frame: pd.DataFrame, plan: Plan, *, place: str = "quotas") -> tuple[Quota, ...]:
    """Quotas from a table with a district column (code or name: 区/district) and min / max columns
    (下限/min_m2, 上限/max_m2, m²; empty = no bound). Raises ValidationError naming every bad row."""
    aliases = {
        "district": ("district", "district_code", "区", "区代码", "区名"),
        "min": ("min_m2", "min", "下限", "最低", "quota_m2"),
        "max": ("max_m2", "max", "上限", "最高"),
    }
    cols: dict[str, str] = {}
    for key, names in aliases.items():
        for c in frame.columns:
            if str(c).strip().lower() in names:
                cols[key] = c
                break
    problems: list[Problem] = []
    if "district" not in cols:
        problems.append(
            Problem(place, "district", "缺少区列 (区 / district)", "no district column (区 / district)")
        )
        raise ValidationError(problems, what=place)
    out: list[Quota] = []
    keys = {d.code for d in plan.districts} | {a.key for a in plan.functional_areas if not a.parent}
    for i, row in enumerate(frame.to_dict("records")):
        where = f"{place} row {i + 2}"
        name = str(row[cols["district"]]).strip()
        code, area = plan.resolve_district(name)
        key = area if area and area in keys else code
        if not key:
            problems.append(
                Problem(where, str(cols["district"]), f"未知的区: {name}", f"unknown district: {name}")
            )
            continue
        bounds: list[float | None] = []
        for k in ("min", "max"):
            raw = row.get(cols[k]) if k in cols else None
            value = pd.to_numeric(pd.Series([raw]), errors="coerce").iloc[0]
            if raw not in (None, "") and not (isinstance(raw, float) and np.isnan(raw)) and pd.isna(value):
                problems.append(Problem(where, str(cols[k]), f"不是数字: {raw!r}", f"not a number: {raw!r}"))
            if pd.notna(value) and value < 0:
                problems.append(
                    Problem(where, str(cols[k]), f"不能为负: {value}", f"must not be negative: {value}")
                )
            bounds.append(float(value) if pd.notna(value) else None)
        lo, hi = bounds
        if lo is not None and hi is not None and lo > hi:
            problems.append(
                Problem(
                    where,
                    str(cols.get("min", "")),
                    f"下限 {lo} 大于上限 {hi}",
                    f"minimum {lo} above maximum {hi}",
                )
            )
        out.append(Quota(key, lo, hi))
    if problems:
        raise ValidationError(problems, what=place)
    return tuple(out)


def register_quotas(register: Register) -> tuple[Quota, ...]:
    """The register's district quotas, as minimums (the Capacity page's 各区指标)."""
    return tuple(
        Quota(str(r["district_code"]), float(r["quota_m2"]), None) for r in register.quotas.to_dict("records")
    )


def resolve_params(plan: Plan, register: Register, params: Params | None = None) -> Params:
    """``params`` with every None replaced by the plan's (or the register's) value."""
    p = params or Params()
    settings = proposal_settings(plan)
    target = p.target_m2 if p.target_m2 is not None else (plan.new_space.value if plan.new_space else 0.0)
    return replace(
        p,
        target_m2=float(target),
        deadline=p.deadline
        or (plan.new_space.deadline if plan.new_space and plan.new_space.deadline else plan.deadline),
        as_of=int(p.as_of) if p.as_of is not None else default_as_of(plan),
        quotas=p.quotas if p.quotas is not None else register_quotas(register),
        min_allocation_m2=float(
            p.min_allocation_m2 if p.min_allocation_m2 is not None else settings.min_allocation_m2
        ),
        core_share=float(p.core_share if p.core_share is not None else settings.core_share),
    )


def _check_params(p: Params) -> None:
    problems = []
    if p.target_m2 is None or not p.target_m2 >= 0:
        problems.append(
            Problem(
                "target_m2",
                "target_m2",
                f"目标须为非负数: {p.target_m2}",
                f"target must be >= 0: {p.target_m2}",
            )
        )
    if p.min_allocation_m2 is None or p.min_allocation_m2 < 0:
        problems.append(
            Problem(
                "min_allocation_m2",
                "min_allocation_m2",
                "最小分配面积须为非负数",
                "minimum allocation must be >= 0",
            )
        )
    if p.core_share is None or not 0 <= p.core_share < 1:
        problems.append(
            Problem(
                "core_share", "core_share", "核心区份额须在 0-1 之间 (不含 1)", "core share must be in [0, 1)"
            )
        )
    w = p.weights
    if min(w.unsecured, w.misaligned, w.later) < 0:
        problems.append(Problem("weights", "weights", "权重不能为负", "weights must not be negative"))
    if problems:
        raise ValidationError(problems, what="proposal parameters / 方案参数")


def _counted_by_district(
    plan: Plan, register: Register, district: pd.Series, deadline_year: int
) -> tuple[float, pd.Series]:
    """Space already counted by the deadline year, in total and by district key."""
    a = register.allocations
    year = a["delivery_year"]
    counted = a[
        (year.notna() & (year >= plan.period_start) & (year <= deadline_year)).fillna(False).to_numpy()
    ]
    key = counted["park_id"].map(pd.Series(district.to_numpy(), index=register.parks["id"].to_numpy()))
    return float(counted["area_m2"].sum()), counted.groupby(key.fillna(""))["area_m2"].sum()


@dataclass
class _Model:
    """The arrays of one solve (areas in 万㎡)."""

    cap: np.ndarray
    cost: np.ndarray
    district: np.ndarray  # district key per site
    core: np.ndarray  # bool per site
    need: float
    lo: dict[str, float]
    hi: dict[str, float]
    share: float
    m: float


def _solve(model: _Model, *, relax: bool = False) -> tuple[np.ndarray, float, str]:
    """Solve one model: (x per site in 万㎡, shortfall in 万㎡, status text). ``relax``: the
    continuous relaxation (no binaries: with capacity >= m it is the model without a minimum size)."""
    import scipy.sparse as sp  # here, not at the top: ``python -m planner check`` need not load scipy
    from scipy.optimize import Bounds, LinearConstraint, milp

    n = len(model.cap)
    if n == 0:
        return np.zeros(0), model.need, "no eligible site"
    binary = model.m > 0 and not relax
    nz = n if binary else 0
    nv = n + nz + 1  # x, z, s
    s = n + nz
    penalty = 1000.0 * float(model.cost.max(initial=1.0))
    c = np.concatenate([model.cost, np.zeros(nz), [penalty]])
    rows: list[Any] = []
    lbs: list[np.ndarray] = []
    ubs: list[np.ndarray] = []
    # target: sum x + s >= need
    target = np.ones(nv)
    if binary:
        target[n : n + nz] = 0
    rows.append(sp.csr_matrix(target))
    lbs.append(np.array([model.need]))
    ubs.append(np.array([np.inf]))
    if binary:
        eye = sp.identity(n, format="csr")
        zero = sp.csr_matrix((n, 1))
        # x - cap z <= 0 ; x - m z >= 0
        rows.append(sp.hstack([eye, -sp.diags(model.cap), zero], format="csr"))
        lbs.append(np.full(n, -np.inf))
        ubs.append(np.zeros(n))
        rows.append(sp.hstack([eye, -model.m * eye, zero], format="csr"))
        lbs.append(np.zeros(n))
        ubs.append(np.full(n, np.inf))
    keys = sorted(set(model.lo) | set(model.hi))
    if keys:
        index = {k: j for j, k in enumerate(keys)}
        member = np.array([index.get(d, -1) for d in model.district])
        pick = member >= 0
        a = sp.csr_matrix(
            (np.ones(int(pick.sum())), (member[pick], np.flatnonzero(pick))), shape=(len(keys), nv)
        )
        rows.append(a)
        lbs.append(np.array([model.lo.get(k, 0.0) for k in keys]))
        ubs.append(np.array([model.hi.get(k, np.inf) for k in keys]))
    if model.share > 0:
        coef = np.zeros(nv)
        coef[:n] = model.core.astype(float) - model.share
        rows.append(sp.csr_matrix(coef))
        lbs.append(np.array([0.0]))
        ubs.append(np.array([np.inf]))
    constraints = LinearConstraint(sp.vstack(rows, format="csr"), np.concatenate(lbs), np.concatenate(ubs))
    lower = np.zeros(nv)
    upper = np.concatenate([model.cap, np.ones(nz), [np.inf]])
    integrality = np.concatenate([np.zeros(n), np.ones(nz), [0]])
    res = milp(
        c,
        constraints=constraints,
        bounds=Bounds(lower, upper),
        integrality=integrality,
        options={"mip_rel_gap": MIP_GAP, "time_limit": TIME_LIMIT_S},
    )
    message = str(res.message)
    if getattr(res, "mip_gap", None) is not None and binary:
        message += f" (gap {res.mip_gap:.2%})"
    if res.x is None:
        return np.zeros(n), model.need, message
    x = np.where(res.x[:n] > 1e-7, res.x[:n], 0.0)
    return x, float(max(res.x[s], 0.0)), message


def propose(
    plan: Plan,
    register: Register,
    params: Params | None = None,
    *,
    sites: gpd.GeoDataFrame | None = None,
) -> Proposal:
    """Propose allocations closing the gap to the target by the deadline (see the module docstring).

    ``sites``: the :func:`planner.core.sites.site_capacity` table when the caller has it (it must
    have been computed with the same as-of year and overrides). Never changes ``register``.
    """
    p = resolve_params(plan, register, params)
    _check_params(p)
    assert p.deadline is not None and p.target_m2 is not None and p.as_of is not None  # resolved
    assert p.quotas is not None and p.core_share is not None and p.min_allocation_m2 is not None
    deadline_year = p.deadline.year
    if sites is None:
        sites = site_capacity(plan, register, as_of=p.as_of, overrides=dict(p.overrides))
    district = sites["district_key"].astype(str)
    counted_m2, counted_by = _counted_by_district(plan, register, district, deadline_year)
    need_m2 = max(p.target_m2 - counted_m2, 0.0)
    cap_m2 = sites["capacity_m2"].fillna(0.0).to_numpy(dtype=float)
    year = np.maximum(sites["earliest_year"].to_numpy(dtype=int), plan.period_start)
    aligned = sites["aligned"].astype(object)
    not_aligned = (aligned == False).to_numpy(dtype=bool)  # noqa: E712  (NA: no designation, no penalty)
    usable = sites["usable"].to_numpy(dtype=bool)
    big_enough = cap_m2 >= max(p.min_allocation_m2, TOL_M2)
    in_time = year <= deadline_year
    spec_ok = ~not_aligned if p.aligned_only else np.ones(len(sites), dtype=bool)
    cost_all = _costs(p.weights, sites, not_aligned, year, cap_m2, p.as_of, deadline_year)
    core_keys = {d.code for d in plan.districts if d.role == "core"}
    core_all = district.isin(core_keys).to_numpy()
    district_arr = district.to_numpy()
    quotas = {q.district: q for q in p.quotas}

    def build(
        eligible: np.ndarray,
        *,
        use_max: bool = True,
        share: float = p.core_share,
        m: float = p.min_allocation_m2,
    ):
        cap = cap_m2[eligible] / M2_PER_WAN
        avail = pd.Series(cap, index=district_arr[eligible]).groupby(level=0).sum()
        lo, hi, clamped = _quota_bounds(quotas, counted_by, avail, use_max=use_max)
        model = _Model(
            cap=cap,
            cost=cost_all[eligible],
            district=district_arr[eligible],
            core=core_all[eligible],
            need=need_m2 / M2_PER_WAN,
            lo=lo,
            hi=hi,
            share=share,
            m=m / M2_PER_WAN,
        )
        return model, clamped

    base_eligible = usable & big_enough & in_time & spec_ok
    model, clamped = build(base_eligible)
    x, short, status = _solve(model)
    proposed = np.zeros(len(sites))
    # whole m², rounded up within the site's capacity (the solver's figures carry 1e-7 noise)
    proposed[base_eligible] = np.minimum(np.ceil(x * M2_PER_WAN - 1e-3), cap_m2[base_eligible])
    proposed_m2 = float(proposed.sum())
    shortfall_m2 = max(need_m2 - proposed_m2, 0.0)
    if shortfall_m2 < TOL_M2 or short * M2_PER_WAN < TOL_M2:
        shortfall_m2 = 0.0

    binding: list[Binding] = []
    names = district_names(plan)
    binding += _quota_min_bindings(plan, clamped)
    if shortfall_m2 > 0:
        binding += _diagnose(
            plan, sites, p, build, base_eligible, usable, big_enough, in_time, spec_ok, proposed_m2,
            proposed, cap_m2, year, district_arr, quotas, counted_by, names,
        )  # fmt: skip

    sites_out = sites.copy()
    sites_out["proposed_m2"] = proposed
    sites_out["eligible"] = base_eligible
    allocations = _allocation_rows(plan, sites_out, proposed, year)
    by_district = _by_district(plan, district_arr, proposed, counted_by, quotas, names)
    return Proposal(
        params=p,
        target_m2=p.target_m2,
        counted_m2=counted_m2,
        needed_m2=need_m2,
        proposed_m2=proposed_m2,
        shortfall_m2=shortfall_m2,
        feasible=shortfall_m2 == 0 and not clamped,
        binding=tuple(binding),
        allocations=allocations,
        by_district=by_district,
        sites=sites_out,
        solver_status=status,
    )


def _quota_bounds(
    quotas: dict[str, Quota], counted_by: pd.Series, avail: pd.Series, *, use_max: bool
) -> tuple[dict[str, float], dict[str, float], dict[str, tuple[float, float]]]:
    """Each district's lower and upper bound on new space (万㎡, after what it already counts);
    a minimum its available sites cannot reach is clamped to what they offer and named (m²)."""
    lo: dict[str, float] = {}
    hi: dict[str, float] = {}
    clamped: dict[str, tuple[float, float]] = {}
    for key, q in quotas.items():
        have = float(counted_by.get(key, 0.0)) / M2_PER_WAN
        if q.min_m2 is not None and q.min_m2 / M2_PER_WAN > have:
            want = q.min_m2 / M2_PER_WAN - have
            room = float(avail.get(key, 0.0))
            if use_max and q.max_m2 is not None:
                room = min(room, max(q.max_m2 / M2_PER_WAN - have, 0.0))
            if want > room + 1e-9:
                clamped[key] = (want * M2_PER_WAN, room * M2_PER_WAN)
                want = room
            lo[key] = want
        if use_max and q.max_m2 is not None:
            hi[key] = max(q.max_m2 / M2_PER_WAN - have, 0.0)
    return lo, hi, clamped


def _costs(
    w: Weights,
    sites: gpd.GeoDataFrame,
    not_aligned: np.ndarray,
    year: np.ndarray,
    cap_m2: np.ndarray,
    as_of: int,
    deadline_year: int,
) -> np.ndarray:
    """Each site's cost per 万㎡: 1, plus the planner's weights for unsecured, misaligned and late
    sites, plus a tiny tie-break toward larger sites."""
    span = max(deadline_year - as_of, 1)
    return (
        1.0
        + w.unsecured * (~sites["secured"].to_numpy(dtype=bool))
        + w.misaligned * not_aligned
        + w.later * np.clip(year - as_of, 0, None) / span
        + TIE_BREAK * (1.0 - cap_m2 / max(float(cap_m2.max(initial=0.0)), 1.0))
    )


def _quota_min_bindings(plan: Plan, clamped: dict[str, tuple[float, float]]) -> list[Binding]:
    """A district whose minimum quota its sites cannot reach by the deadline: what binds."""
    names, names_en = district_names(plan), district_names(plan, "en")
    return [
        Binding(
            "quota_min",
            want - room,
            (key,),
            f"{names.get(key, key)}: 指标下限还需 {fmt_m2(want)}, 截止年份前最多可提供 {fmt_m2(room)}",
            f"{names_en.get(key, key)}: its minimum quota needs {fmt_m2(want)} more, its sites can deliver "
            f"at most {fmt_m2(room)} by the deadline",
        )
        for key, (want, room) in clamped.items()
    ]


def _relaxed(build, eligible: np.ndarray, **kw) -> np.ndarray:
    """m² per site of the continuous relaxation of the model ``build`` makes (0 where not eligible)."""
    model, _ = build(eligible, **kw)
    x, _, _ = _solve(model, relax=True)
    out = np.zeros(len(eligible))
    out[eligible] = x * M2_PER_WAN
    return out


def _top(ids: pd.Series, values: np.ndarray, k: int = 10) -> tuple[str, ...]:
    order = np.argsort(-values, kind="stable")
    return tuple(str(ids.iloc[i]) for i in order[:k] if values[i] > 0)


def _diagnose(
    plan, sites, p, build, base, usable, big_enough, in_time, spec_ok, proposed_m2,
    proposed, cap_m2, year, district_arr, quotas, counted_by, names,
) -> list[Binding]:  # fmt: skip
    """Which constraint groups keep the target out of reach: re-solve with each relaxed.

    The re-solves are continuous relaxations (fast linear programs): a group's gain is what the
    relaxation delivers with the group relaxed minus what it delivers without; the minimum size's
    gain is what the relaxation (no minimum) delivers, small sites included, minus the proposal."""
    out: list[Binding] = []
    base_lp = float(_relaxed(build, base).sum())

    def _gain(eligible: np.ndarray, **kw) -> tuple[float, np.ndarray]:
        x = _relaxed(build, eligible, **kw)
        return max(float(x.sum()) - base_lp, 0.0), x

    ids = sites["site_id"]
    used_full = base & (cap_m2 - proposed <= TOL_M2)
    deliverable = float(cap_m2[base].sum())
    out.append(
        Binding(
            "capacity",
            0.0,
            _top(ids, np.where(used_full, cap_m2, 0)),
            f"截止年份前可用的 {int(base.sum())} 处场地中 {int(used_full.sum())} 处已用满; 截止前可交付容量共 "
            f"{fmt_m2(deliverable)}",
            f"{int(used_full.sum())} of the {int(base.sum())} sites usable by the deadline are used to "
            f"capacity; capacity deliverable by the deadline {fmt_m2(deliverable)}",
        )
    )
    late = usable & big_enough & spec_ok & ~in_time
    if late.any():
        gain, x = _gain(base | late)
        if gain > TOL_M2:
            late_years = pd.Series(cap_m2[late], index=year[late]).groupby(level=0).sum()
            by_year = ", ".join(f"{y}: {fmt_m2(v)}" for y, v in late_years.items())
            out.append(
                Binding(
                    "capacity_by_year",
                    gain,
                    _top(ids, np.where(late, x, 0)),
                    f"{p.deadline.year} 年后才能交付的场地若提前可多提供 {fmt_m2(gain)} (按最早年份: {by_year})",
                    f"sites that deliver only after {p.deadline.year} could add {fmt_m2(gain)} if brought "
                    f"forward (by earliest year: {by_year})",
                )
            )
    if any(q.max_m2 is not None for q in quotas.values()):
        gain, x = _gain(base, use_max=False)
        if gain > TOL_M2:
            full = [
                k for k, q in quotas.items()
                if q.max_m2 is not None
                and float(counted_by.get(k, 0.0)) + float(proposed[district_arr == k].sum()) >= q.max_m2 - TOL_M2
            ]  # fmt: skip
            label = "、".join(names.get(k, k) for k in full)
            label_en = ", ".join(district_names(plan, "en").get(k, k) for k in full)
            out.append(
                Binding(
                    "quota_max",
                    gain,
                    tuple(full),
                    f"已达指标上限的区: {label}; 放开上限可多提供 {fmt_m2(gain)}",
                    f"districts at their maximum quota: {label_en}; lifting it would add {fmt_m2(gain)}",
                )
            )
    if p.aligned_only:
        extra = usable & big_enough & in_time & ~spec_ok
        if extra.any():
            gain, x = _gain(base | extra)
            if gain > TOL_M2:
                out.append(
                    Binding(
                        "specialisation",
                        gain,
                        _top(ids, np.where(extra, x, 0)),
                        f"仅用符合区定位的场地: 放开后可多提供 {fmt_m2(gain)}",
                        f"aligned sites only: allowing the others would add {fmt_m2(gain)}",
                    )
                )
    if p.core_share > 0:
        gain, _ = _gain(base, share=0.0)
        if gain > TOL_M2:
            core = [d for d in plan.districts if d.role == "core"]
            core_name = "、".join(d.name_zh for d in core)
            out.append(
                Binding(
                    "core_share",
                    gain,
                    tuple(d.code for d in core),
                    f"为核心区 ({core_name}) 保留 {p.core_share:.0%}: 核心区场地不足, 放开后可多提供 {fmt_m2(gain)}",
                    f"keeping {p.core_share:.0%} for the core ({', '.join(d.name_en for d in core)}): its sites "
                    f"are short; dropping the share would add {fmt_m2(gain)}",
                )
            )
    if p.min_allocation_m2 > 0:
        small = usable & ~big_enough & in_time & spec_ok & (cap_m2 > 0)
        x = _relaxed(build, base | small)
        gain = max(float(x.sum()) - proposed_m2, 0.0)
        if gain > TOL_M2:
            out.append(
                Binding(
                    "min_size",
                    gain,
                    _top(ids, np.where(small, x, 0)),
                    f"最小分配面积 {fmt_m2(p.min_allocation_m2)}: 放开后小场地可多提供 {fmt_m2(gain)}",
                    f"minimum allocation {fmt_m2(p.min_allocation_m2)}: allowing smaller ones would add {fmt_m2(gain)}",
                )
            )
    return out


def _allocation_specialisation(plan: Plan, district: pd.Series, spec: pd.Series) -> pd.Series:
    """The specialisation a proposed allocation carries: the site's own, else its district's first
    designated one, else the plan's 'district_choice' key when it has one."""
    first = {d.code: d.specialisations[0] for d in plan.districts if d.specialisations}
    keys = {s.key for s in plan.specialisations}
    fallback = "district_choice" if "district_choice" in keys else ""
    out = spec.where(spec.isin(keys), district.map(first))
    return out.fillna(fallback).astype(str)


def _allocation_rows(
    plan: Plan, sites: gpd.GeoDataFrame, proposed: np.ndarray, year: np.ndarray
) -> pd.DataFrame:
    used = proposed > 0
    s = sites[used]
    return pd.DataFrame(
        {
            "site_id": s["site_id"].to_numpy(),
            "name_zh": s["name_zh"].to_numpy(),
            "district": s["district_key"].to_numpy(),
            "district_name": s["district_name"].to_numpy(),
            "specialisation": _allocation_specialisation(
                plan, s["district_key"], s["specialisation"]
            ).to_numpy(),
            "m2": proposed[used],
            "year": year[used],
            "status": s["status"].to_numpy(),
            "secured": s["secured"].to_numpy(dtype=bool),
            "aligned": s["aligned"].to_numpy(),
            "capacity_m2": s["capacity_m2"].to_numpy(dtype=float),
        }
    ).sort_values(["district", "m2"], ascending=[True, False], ignore_index=True)


def _by_district(plan, district_arr, proposed, counted_by, quotas, names) -> pd.DataFrame:
    keys = [d.code for d in plan.districts] + [a.key for a in plan.functional_areas if not a.parent]
    prop = pd.Series(proposed).groupby(district_arr).sum()
    return pd.DataFrame(
        {
            "district": keys,
            "name": [names.get(k, k) for k in keys],
            "counted_m2": [float(counted_by.get(k, 0.0)) for k in keys],
            "proposed_m2": [float(prop.get(k, 0.0)) for k in keys],
            "quota_min_m2": [quotas[k].min_m2 if k in quotas else None for k in keys],
            "quota_max_m2": [quotas[k].max_m2 if k in quotas else None for k in keys],
        }
    ).assign(total_m2=lambda f: f["counted_m2"] + f["proposed_m2"])


def proposal_register(plan: Plan, register: Register, proposal: Proposal) -> Register:
    """A NEW register: ``register`` with the proposal's allocations added (basis ``proposal``).

    Raises ValidationError when an allocation's year lies outside the plan period (a deadline
    beyond the plan's cannot be saved as allocations of this plan). ``register`` is unchanged.
    """
    a = proposal.allocations
    taken = set(register.allocations["allocation_id"])
    ids = []
    for site in a["site_id"]:  # one id per proposed allocation (at most one per site)
        n = 1
        while f"{site}-p{n}" in taken:
            n += 1
        taken.add(f"{site}-p{n}")
        ids.append(f"{site}-p{n}")
    deadline = proposal.params.deadline
    note = f"方案生成 proposal ({deadline.isoformat() if deadline else '—'} 目标 target {proposal.target_m2:,.0f} m²)"
    new = pd.DataFrame(
        {
            "allocation_id": ids,
            "park_id": a["site_id"].to_numpy(),
            "specialisation": a["specialisation"].to_numpy(),
            "area_m2": a["m2"].to_numpy(dtype=float),
            "delivery_year": a["year"].to_numpy(),
            "status": a["status"].to_numpy(),
            "basis": "proposal",
            "note": note,
        }
    )
    combined = pd.concat([register.allocations, conform_allocations(new)], ignore_index=True)
    return replace_allocations(register, combined, plan, place="proposal / 方案")


def proposal_comment(proposal: Proposal, source: str, version: int | None) -> str:
    """The comment a saved proposal carries: that it is a proposal, from where, and its parameters."""
    p = proposal.params
    head = (
        f"方案生成 proposal, 基于 from {source}" + (f" v{version}" if version is not None else "")
        + f": 建议新增 proposed {proposal.proposed_m2:,.0f} m², 缺口 shortfall {proposal.shortfall_m2:,.0f} m²"
    )  # fmt: skip
    return f"{head} | params {json.dumps(p.to_dict(), ensure_ascii=False, sort_keys=True)}"


def weights_from(mapping: Mapping[str, float] | None) -> Weights:
    """Weights from a mapping (unknown keys refused, naming the valid ones)."""
    if not mapping:
        return Weights()
    valid = set(Weights.__dataclass_fields__)
    bad = set(mapping) - valid
    if bad:
        raise PlannerError(
            f"未知权重 {sorted(bad)}; 可用 {sorted(valid)} / unknown weights {sorted(bad)}; valid: {sorted(valid)}"
        )
    return Weights(**{k: float(v) for k, v in mapping.items()})
