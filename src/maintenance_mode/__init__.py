"""maintenance-mode: an honest, branded 503 for any WSGI or ASGI app, with one line.

The core is framework-agnostic; adapters live in ``maintenance_mode.asgi`` and
``maintenance_mode.wsgi`` (imported by dotted path, so importing this package
never imports a web framework).
"""

from __future__ import annotations

__version__ = "0.1.0.dev0"

from .core import Maintenance, maintenance_exempt
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
    "maintenance_exempt",
    "write_state_atomic",
]
