"""Who may do what, on which rows: one policy for city planner, district staff and viewer.

:data:`POLICY` says, for each role, which actions it may take and on which rows; the store
enforces it (:mod:`planner.store.service`), the app's pages only ask it (:func:`may`):

- city planner (``planner``): every action on every row, targets and quotas included;
- district staff (``district``): save and restore, on the parks of their own district and their
  allocations only, a park judged by where it lies (:func:`planner.core.assign.park_districts`)
  both before and after the change; no quotas, no scenarios of their own;
- viewer (``viewer``, and whoever has not signed in): read only.

>>> may(User("wang", "district", "440305"), "save"), may(User("wang", "district", "440305"), "copy")
(True, False)
>>> rows(User("li", "planner"), "quotas"), rows(None, "save")
('all', None)
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from planner.core.assign import park_districts
from planner.core.changes import RegisterChanges, register_changes
from planner.core.plan import Plan
from planner.core.register import Register
from planner.errors import AccessDenied, Problem
from planner.i18n import ROLE_LABELS

ROLES = ("planner", "district", "viewer")


# What a user may do (Chinese, English: for the refusal "only a city planner may ...").
ACTIONS: dict[str, tuple[str, str]] = {
    "save": ("保存修改", "save changes"),
    "restore": ("恢复旧版本", "restore an earlier version"),
    "copy": ("复制场景", "copy scenarios"),
    "delete": ("删除场景", "delete scenarios"),
    "create": ("新建场景或恢复已删除的场景", "create a scenario or bring back a deleted one"),
    "quotas": ("设定各区指标", "set district quotas"),
    "targets": ("修改规划目标", "change the plan's targets"),
    "audit": ("查看审计日志", "read the audit log"),
    "indicators": ("录入指标实际值", "record the targets' actual values"),
    "successor": ("新建后续规划", "start a successor plan"),
}
ALL, OWN = "all", "own"  # on which rows: every row, or the rows of the user's own district
POLICY: dict[str, dict[str, str]] = {
    "planner": dict.fromkeys(ACTIONS, ALL),
    "district": {"save": OWN, "restore": OWN},
    "viewer": {},
}


@dataclass(frozen=True)
class User:
    """A signed-in person: account name, role, and for district staff their district code."""

    name: str
    role: str
    district_code: str | None = None
    display_name: str = ""

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise ValueError(f"unknown role {self.role!r}; roles are {', '.join(ROLES)}")
        if self.role == "district" and not self.district_code:
            raise ValueError(f"district staff {self.name!r} needs a district code")

    @property
    def can_write(self) -> bool:
        """Whether this user may change anything at all (the policy's ``save``)."""
        return may(self, "save")

    @property
    def can_set_quotas(self) -> bool:
        """Whether this user may set district quotas (the policy's ``quotas``)."""
        return may(self, "quotas")

    def can_edit_district(self, district_code: str) -> bool:
        """Whether this user may change this district's parks and allocations."""
        return may_edit_district(self, district_code)

    def editable_districts(self, plan: Plan) -> list[str]:
        """The plan's district codes this user may change, in the plan's order."""
        return [c for c in plan.district_codes() if self.can_edit_district(c)]

    def label(self, lang: str = "zh") -> str:
        """'name (角色 district)' for display."""
        zh, en = ROLE_LABELS[self.role]
        role = zh if lang == "zh" else en
        where = f" {self.district_code}" if self.district_code else ""
        return f"{self.display_name or self.name} ({role}{where})"


# The system itself (seeding a new store, migrations): not a person, allowed everything.
SYSTEM = User("system", "planner", display_name="系统 system")
# Whoever has not signed in: may read everything, change nothing.
ANONYMOUS = User("anonymous", "viewer", display_name="未登录 not signed in")


def rows(user: User | None, action: str) -> str | None:
    """On which rows ``user`` may take ``action``: ``"all"``, ``"own"`` (their district's) or None."""
    if action not in ACTIONS:
        raise ValueError(f"unknown action {action!r}; actions are {', '.join(ACTIONS)}")
    return POLICY[user.role].get(action) if user is not None else None


def may(user: User | None, action: str) -> bool:
    """Whether ``user`` (None: not signed in) may take ``action`` on some rows at least."""
    return rows(user, action) is not None


def may_edit_district(user: User | None, district_code: str) -> bool:
    """Whether ``user`` may change this district's parks and allocations."""
    scope = rows(user, "save")
    return scope == ALL or (scope == OWN and user is not None and user.district_code == district_code)


def require(user: User, action: str, place: str) -> None:
    """Raise :class:`AccessDenied` naming the action, and who may take it, unless ``user`` may."""
    if may(user, action):
        return
    zh, en = ACTIONS[action]
    if not may(user, "save"):  # a read-only account
        msg_zh, msg_en = "只读用户不能修改数据", f"{user.label('en')} is read-only and cannot {en}"
    else:
        roles = [r for r in ROLES if action in POLICY[r]]
        who_zh, who_en = (
            "、".join(ROLE_LABELS[r][0] for r in roles),
            " or ".join(ROLE_LABELS[r][1] for r in roles),
        )
        msg_zh, msg_en = f"只有{who_zh}可以{zh}", f"only a {who_en.lower()} may {en} ({user.label('en')})"
    raise AccessDenied([Problem(place, "", msg_zh, msg_en, "denied")], user=user)


def _district_of(register: Register, plan: Plan, ids: pd.Index) -> pd.Series:
    """Whose each of the parks ``ids`` is (:func:`planner.core.assign.park_districts`), indexed by
    park id. Only these parks are located (a one-park edit of 100,000 parks joins one park, not all)."""
    return park_districts(register.parks[register.parks["id"].isin(ids)], plan)


def _where(codes: set, plan: Plan) -> tuple[str, str]:
    """'南山区' / 'Nanshan' for a set of district codes ('区界外' / 'outside every district' for none):
    a person reads the district's name, never its code."""
    known = set(plan.district_codes())
    zh, en = [], []
    for code in sorted(str(c) for c in codes):
        if code in known:
            d = plan.district(code)
            zh.append(d.name_zh)
            en.append(d.name_en)
        else:
            zh.append("区界外")
            en.append("outside every district")
    return "、".join(zh) or "区界外", ", ".join(en) or "outside every district"


def check_change(
    user: User,
    before: Register,
    after: Register,
    plan: Plan,
    *,
    changes: RegisterChanges | None = None,
    action: str = "save",
) -> RegisterChanges:
    """Raise AccessDenied naming every park, allocation or quota the user may not change by
    ``action`` (save or restore); return the changes when allowed."""
    changes = changes if changes is not None else register_changes(before, after)
    scope = rows(user, action)
    if not changes or scope == ALL:
        return changes
    problems: list[Problem] = []
    who = user.label("en")
    if scope is None:
        problems.append(
            Problem(
                "register",
                "",
                "只读用户不能修改数据",
                f"{who} is read-only and cannot change anything",
                "denied",
            )
        )
        raise AccessDenied(problems, user=user)

    own = str(user.district_code)
    own_zh, own_en = _where({own}, plan)
    alloc_park = pd.concat(
        [
            before.allocations.set_index("allocation_id")["park_id"],
            after.allocations.set_index("allocation_id")["park_id"],
        ]
    )
    touched_allocs = alloc_park[alloc_park.index.isin(changes.allocations.touched)]
    ids = pd.Index(changes.parks.touched).union(pd.Index(touched_allocs.astype(str).unique()))
    old_d = _district_of(before, plan, ids)
    new_d = _district_of(after, plan, ids)
    for pid in changes.parks.touched:
        places = {old_d.get(pid), new_d.get(pid)} - {None}
        if places != {own}:
            zh, en = _where(places, plan)
            problems.append(
                Problem(
                    f"park {pid}",
                    "district_code",
                    f"园区 {pid} 位于 {zh}, 不属于本区 ({own_zh}), 无权修改",
                    f"park {pid} lies in {en}, not in your district ({own_en}): not yours to change",
                )
            )
    for aid in changes.allocations.touched:
        parks = set(alloc_park.loc[[aid]].astype(str)) if aid in alloc_park.index else set()
        places = {d for p in parks for d in (old_d.get(p), new_d.get(p)) if d is not None}
        if places != {own}:
            zh, en = _where(places, plan)
            problems.append(
                Problem(
                    f"allocation {aid}",
                    "park_id",
                    f"分配 {aid} 属于 {zh} 的园区, 不属于本区 ({own_zh}), 无权修改",
                    f"allocation {aid} belongs to a park in {en}, not your district ({own_en})",
                )
            )
    for code in changes.quotas.touched if not may(user, "quotas") else []:
        problems.append(
            Problem(
                f"quota {code}",
                "quota_m2",
                "只有市级规划人员可以设定配额",
                "only a city planner may set quotas",
            )
        )
    if problems:
        raise AccessDenied(problems, user=user)
    return changes
