"""The planner's exceptions: every problem carries its place and a message in Chinese and English."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input, and where it is.

    ``place`` names the file, row or feature (``"parks.csv row 3"``), ``field`` the column or key.
    """

    place: str
    field: str
    message_zh: str
    message_en: str

    def __str__(self) -> str:
        where = f"{self.place}" + (f" [{self.field}]" if self.field else "")
        return f"{where}: {self.message_zh} / {self.message_en}"

    def to_dict(self) -> dict[str, str]:
        """Plain dict for JSON output."""
        return asdict(self)


class PlannerError(ValueError):
    """Base class of the planner's own errors."""


class InputError(PlannerError):
    """Bad input or a wrong place: a missing folder or file, a malformed argument, a store location
    that is not a planner store or cannot be reached. The CLI exits 2 and nothing is written."""


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
