"""One copy of each stored register version per process, shared by every session (no streamlit).

A register of 100,000 parcels takes a few hundred MB once loaded; every viewer holding its own copy
would grow the app by that much per session. :func:`shared_register` keeps the last few versions
read, keyed on (store location, scenario, version): a version never changes once saved, so the
copy can be shared as long as nobody mutates it (``Register`` is treated as immutable: edits build
a new one). Whatever is derived from a register for display (the map's index) is kept beside it by
:func:`derived`, so it too is built once per version and process.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, TypeVar

from planner.core.register import Register
from planner.store import MAIN, Store, Version

KEEP = 4  # register versions kept per process (a scenario being edited, a compared one, ...)

_LOCK = threading.Lock()
_REGISTERS: OrderedDict[tuple[str, str, int], Register] = OrderedDict()
# derived data per register object: id(register) -> (register, {name: value}); the register is held
# so its id cannot be reused while the entry lives
_DERIVED: OrderedDict[int, tuple[Register, dict[str, Any]]] = OrderedDict()

T = TypeVar("T")


def shared_register(
    store: Store, scenario: str = MAIN, version: int | None = None
) -> tuple[Register, Version]:
    """The register of a scenario's version (the latest when ``version`` is None) and its record,
    read from the store once per process and shared afterwards (the ``KEEP`` latest used are kept).

    Raises what :meth:`Store.load` raises (NotFound when there is no such scenario or version).
    """
    v = store.version(scenario, version)
    key = (str(store.location), scenario, v.version)
    with _LOCK:
        hit = _REGISTERS.get(key)
        if hit is not None:
            _REGISTERS.move_to_end(key)
            return hit, v
    register, v = store.load(scenario, v.version)  # outside the lock: a slow read blocks no one else
    with _LOCK:
        register = _REGISTERS.setdefault(key, register)  # another session may have read it meanwhile
        _REGISTERS.move_to_end(key)
        while len(_REGISTERS) > KEEP:
            _REGISTERS.popitem(last=False)
    return register, v


def remember(store: Store, scenario: str, version: Version, register: Register) -> Register:
    """Share ``register`` as the process's copy of a version this process just saved (the store holds
    exactly these rows), so the next viewer of that version does not read it back; returns the
    shared copy (another session's, if one was shared first)."""
    key = (str(store.location), scenario, version.version)
    with _LOCK:
        register = _REGISTERS.setdefault(key, register)
        _REGISTERS.move_to_end(key)
        while len(_REGISTERS) > KEEP:
            _REGISTERS.popitem(last=False)
    return register


def derived(register: Register, name: str, build: Callable[[Register], T]) -> T:
    """``build(register)``, computed once per register object and process and kept with it (the
    ``2 * KEEP`` registers used last keep theirs). ``name`` tells apart what is derived."""
    key = id(register)
    with _LOCK:
        entry = _DERIVED.get(key)
        if entry is not None and entry[0] is register and name in entry[1]:
            _DERIVED.move_to_end(key)
            return entry[1][name]
    value = build(register)
    with _LOCK:
        entry = _DERIVED.get(key)
        if entry is None or entry[0] is not register:
            entry = (register, {})
            _DERIVED[key] = entry
        value = entry[1].setdefault(name, value)
        _DERIVED.move_to_end(key)
        while len(_DERIVED) > 2 * KEEP:
            _DERIVED.popitem(last=False)
    return value


def clear() -> None:
    """Forget every shared register and what was derived from them (tests, a store replaced)."""
    with _LOCK:
        _REGISTERS.clear()
        _DERIVED.clear()
