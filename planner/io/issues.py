"""The import's problems and warnings, and the collector that gathers them while a file is read."""

from __future__ import annotations

from planner.errors import Problem, ValidationError

# An import's problem (severity "error": refuses the import) or warning is the planner's one
# problem model, with its stable ``code`` for tests and the app.
ImportIssue = Problem


class ImportRefused(ValidationError):
    """The import has problems; nothing was added. ``issues`` (= ``problems``) keep their codes."""

    def __init__(self, issues: list[Problem], what: str) -> None:
        self.issues = list(issues)
        super().__init__(self.issues, what=what)


class _Collector:
    """Gathers problems and warnings while one file is read."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.problems: list[Problem] = []
        self.warnings: list[Problem] = []
        # Rows whose geometry is lost because a coordinate is not a number: what was reported
        # already (tables: by column), and what the geometry check still has to say (GeoJSON).
        self.geometry_reported: set[int] = set()
        self.not_numbers: dict[int, str] = {}
        # Where the file declares its coordinate system (a shapefile's .prj, a GeoJSON's "crs"
        # member; "" for the file itself), and whether that declaration could not be read.
        self.crs_source = ""
        self.crs_unreadable = False

    def error(self, code: str, place: str, fld: str, zh: str, en: str) -> None:
        self.problems.append(Problem(place, fld, zh, en, code, "error"))

    def warn(self, code: str, place: str, fld: str, zh: str, en: str) -> None:
        self.warnings.append(Problem(place, fld, zh, en, code, "warning"))


class _Refuse(Exception):
    """Stop reading: the file cannot be used at all (the collector holds why)."""


class _CrsUnknown(Exception):
    """Where the coordinates lie is unknown; the fields are still checked (the collector holds why)."""
