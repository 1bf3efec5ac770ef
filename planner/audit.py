"""An append-only audit trail: one JSON object a line in ``data/audit.jsonl``.

The app's write path (``planner.session.commit_register``) records every change it makes and
every change it refuses, and sign-in records failed attempts, so "who tried to change what" can
be answered afterwards. The file is ``$PLANNER_AUDIT`` when set. A store with its own audit table
(``planner.store``) can take these events over: each is a flat dict with ``time`` (UTC, ISO 8601),
``event``, ``user`` and event-specific fields.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_AUDIT = ROOT / "data" / "audit.jsonl"


def audit_path(path: str | Path | None = None) -> Path:
    """The audit file: ``path``, else ``$PLANNER_AUDIT``, else ``data/audit.jsonl``."""
    return Path(path or os.environ.get("PLANNER_AUDIT") or DEFAULT_AUDIT)


def record(event: dict[str, Any], path: str | Path | None = None) -> dict[str, Any]:
    """Append one event (a ``time`` stamp is added when missing); return the event as written.

    One ``write`` of one line on a file opened for appending, so concurrent sessions never
    interleave within a line.
    """
    row = {"time": datetime.now(UTC).isoformat(timespec="seconds"), **event}
    line = json.dumps(row, ensure_ascii=False, default=str) + "\n"
    file = audit_path(path)
    file.parent.mkdir(parents=True, exist_ok=True)
    with file.open("a", encoding="utf-8") as out:
        out.write(line)
    return row


def read_audit(path: str | Path | None = None) -> list[dict[str, Any]]:
    """Every event recorded, oldest first ([] when nothing was recorded yet)."""
    file = audit_path(path)
    if not file.exists():
        return []
    with file.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]
