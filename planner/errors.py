"""The planner's exceptions: every problem carries its place and a message in Chinese and English."""

from __future__ import annotations

from dataclasses import asdict, dataclass

SEVERITIES = ("error", "warning", "info")


@dataclass(frozen=True)
class Problem:
    """One thing wrong with (or worth saying about) an input, and where it is: the one problem model
    of validation, import issues (:mod:`planner.io.issues`) and findings (:mod:`planner.core.findings`).

    ``place`` names the file, row, feature or id (``"parks.csv row 3"``), ``field`` the column or
    key, ``code`` a stable name for tests and the app (``"duplicate_id"``), ``severity`` error
    (refuses), warning or info.

    >>> p = Problem("parks.csv row 3 (p1)", "area_m2", "面积必须为正数: -5", "area must be positive: -5")
    >>> str(p)
    'parks.csv row 3 (p1) [area_m2]: 面积必须为正数: -5 / area must be positive: -5'
    >>> sorted(p.to_dict())
    ['code', 'field', 'message_en', 'message_zh', 'place', 'severity']
    """

    place: str
    field: str
    message_zh: str
    message_en: str
    code: str = ""
    severity: str = "error"

    def __str__(self) -> str:
        where = f"{self.place}" + (f" [{self.field}]" if self.field else "")
        return f"{where}: {self.message_zh} / {self.message_en}"

    @property
    def message(self) -> str:
        """Chinese first, then English."""
        return f"{self.message_zh} / {self.message_en}"

    def to_dict(self) -> dict[str, str]:
        """Plain dict for JSON output: code, severity, place, field, message_zh, message_en."""
        d = asdict(self)
        return {"code": d.pop("code"), "severity": d.pop("severity"), **d}


class PlannerError(ValueError):
    """Base class of the planner's own errors."""


class InputError(PlannerError):
    """Bad input or a wrong place: a missing folder or file, a malformed argument, a store location
    that is not a planner store or cannot be reached. The CLI exits 2 and nothing is written."""


class NotFound(PlannerError):
    """What was asked for does not exist: no such scenario, or no such version of it (the store is
    fine; compare :class:`StoreUnavailable`)."""


class StoreUnavailable(InputError):
    """The store's database failed (server gone, file unreadable): nothing was written."""


class ValidationError(PlannerError):
    """Input failed validation; ``problems`` lists every problem found, not only the first."""

    def __init__(self, problems: list[Problem], what: str = "input") -> None:
        self.problems = list(problems)
        self.what = what
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(
            f"{what}: {len(self.problems)} problem(s) / 发现 {len(self.problems)} 个问题\n{lines}"
        )


class PlanError(ValidationError):
    """A plan folder could not be loaded: missing file, bad value, unknown district."""


class AccessDenied(PlannerError):
    """The user's role does not allow this change; ``problems`` names each thing refused."""

    def __init__(self, problems: list[Problem], user: object = None) -> None:
        self.problems = list(problems)
        self.user = user
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"无权修改 / access denied: {len(self.problems)} item(s)\n{lines}")
