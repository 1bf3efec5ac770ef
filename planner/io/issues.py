"""The import's problems and warnings, and the collector that gathers them while a file is read."""

from __future__ import annotations

from dataclasses import dataclass

from planner.errors import Problem, ValidationError


@dataclass(frozen=True)
class ImportIssue:
    """A problem (refuses the import) or a warning, with a stable ``code`` for tests and the app."""

    code: str
    problem: Problem
    severity: str = "error"  # or "warning"

    def to_dict(self) -> dict[str, str]:
        """Plain dict for JSON output."""
        return {"code": self.code, "severity": self.severity, **self.problem.to_dict()}

    def __str__(self) -> str:
        return f"[{self.code}] {self.problem}"


class ImportRefused(ValidationError):
    """The import has problems; nothing was added. ``issues`` keeps the codes."""

    def __init__(self, issues: list[ImportIssue], what: str) -> None:
        self.issues = list(issues)
        super().__init__([i.problem for i in issues], what=what)


class _Collector:
    """Gathers problems and warnings while one file is read."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.problems: list[ImportIssue] = []
        self.warnings: list[ImportIssue] = []
        # Rows whose geometry is lost because a coordinate is not a number: what was reported
        # already (tables: by column), and what the geometry check still has to say (GeoJSON).
        self.geometry_reported: set[int] = set()
        self.not_numbers: dict[int, str] = {}
        # Where the file declares its coordinate system (a shapefile's .prj, a GeoJSON's "crs"
        # member; "" for the file itself), and whether that declaration could not be read.
        self.crs_source = ""
        self.crs_unreadable = False

    def error(self, code: str, place: str, fld: str, zh: str, en: str) -> None:
        self.problems.append(ImportIssue(code, Problem(place, fld, zh, en)))

    def warn(self, code: str, place: str, fld: str, zh: str, en: str) -> None:
        self.warnings.append(ImportIssue(code, Problem(place, fld, zh, en), "warning"))


class _Refuse(Exception):
    """Stop reading: the file cannot be used at all (the collector holds why)."""


class _CrsUnknown(Exception):
    """Where the coordinates lie is unknown; the fields are still checked (the collector holds why)."""
