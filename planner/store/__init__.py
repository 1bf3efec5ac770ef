"""Where registers live: scenarios with versioned histories, on GeoPackage or PostGIS.

``open_store`` picks the backend from the location; :class:`Store` (``service``) holds every rule
(rights, validation, conflicts, audit) once for both backends (``gpkg``, ``postgis``), which import
only ``base``.
"""

from planner.errors import NotFound, StoreUnavailable
from planner.store.base import Version
from planner.store.service import (
    MAIN,
    Comparison,
    ConflictError,
    Store,
    compare,
    db_location,
    empty_register,
    open_store,
)

__all__ = [
    "MAIN",
    "Comparison",
    "ConflictError",
    "NotFound",
    "Store",
    "StoreUnavailable",
    "Version",
    "compare",
    "db_location",
    "empty_register",
    "open_store",
]
