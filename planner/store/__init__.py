"""Where registers live: scenarios with versioned histories, on GeoPackage or PostGIS.

``open_store`` picks the backend from the location; :class:`Store` (``service``) holds every rule
(rights, validation, conflicts, audit) once for both backends (``gpkg``, ``postgis``), which import
only ``base``. A version stores only the rows it changes (a row history, ``v_from``/``v_to``); a
store of the earlier snapshot format is upgraded on open.
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
