"""maintenance-mode: an honest, branded 503 for any WSGI or ASGI app, with one line.

The core is framework-agnostic; adapters live in ``maintenance_mode.asgi`` and
``maintenance_mode.wsgi`` (imported by dotted path, so importing this package
never imports a web framework). The names below load on first use, so importing
a submodule (the pytest plugin, ``control``, the CLI) does not load the engine.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0.dev0"

# django-maintenance-mode also installs a top-level ``maintenance_mode`` package, and pip
# lets the two mix their files in one folder: importing _install raises a clear error then.
from . import _install  # noqa: F401

if TYPE_CHECKING:
    from .core import Maintenance, maintenance_component, maintenance_exempt
    from .settings import Brand, Contacts, Settings
    from .sources import CallableFlag, EnvFlag, FileFlag, FlagError, FlagSource
    from .state import (
        ETARange,
        MaintenanceState,
        ProgressUpdate,
        StateFileError,
        load_state,
        write_state_atomic,
    )

#: Public name -> the submodule that defines it.
_EXPORTS = {
    "Maintenance": "core",
    "maintenance_component": "core",
    "maintenance_exempt": "core",
    "Brand": "settings",
    "Contacts": "settings",
    "Settings": "settings",
    "CallableFlag": "sources",
    "EnvFlag": "sources",
    "FileFlag": "sources",
    "FlagError": "sources",
    "FlagSource": "sources",
    "ETARange": "state",
    "MaintenanceState": "state",
    "ProgressUpdate": "state",
    "StateFileError": "state",
    "load_state": "state",
    "write_state_atomic": "state",
}

__all__ = [
    "Brand",
    "CallableFlag",
    "Contacts",
    "ETARange",
    "EnvFlag",
    "FileFlag",
    "FlagError",
    "FlagSource",
    "Maintenance",
    "MaintenanceState",
    "ProgressUpdate",
    "Settings",
    "StateFileError",
    "__version__",
    "load_state",
    "maintenance_component",
    "maintenance_exempt",
    "write_state_atomic",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'maintenance_mode' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value  # next time, a plain module attribute
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})
