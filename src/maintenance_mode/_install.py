"""Is this package installed whole, and alone in its folder?

django-maintenance-mode also installs a top-level package named ``maintenance_mode``.
pip lets the second of the two write into the first one's folder: the files both ship
(``__init__.py``, ``core.py``, ``settings.py``) become the second one's, and
uninstalling either deletes them for both. :func:`check` turns the puzzling
``ImportError`` that follows into one that says what happened and how to fix it. It
costs a few ``stat`` calls, made when this module is imported: the package's ``__init__``
and every entry point (the adapters, the framework integrations, the CLI) import it first.
"""

from __future__ import annotations

import os

#: Files that django-maintenance-mode ships at the package's top level and this one does not.
PEER_MARKERS = ("metadata.py", "context_processors.py")
#: Files of this package that django-maintenance-mode overwrites or deletes.
SHARED = ("__init__.py", "core.py", "settings.py")
#: The fix for either case, in the words of the message.
DOCS = "docs/django.md, 'Moving from django-maintenance-mode'"


def peer_mixed_message(folder: str) -> str:
    return (
        "maintenance-mode: django-maintenance-mode's files are mixed with this package's "
        f"in {folder} (both install a package named 'maintenance_mode'); fix it with "
        "'pip uninstall -y django-maintenance-mode maintenance-mode', then "
        f"'pip install maintenance-mode' ({DOCS})."
    )


def files_deleted_message(folder: str, missing: list[str]) -> str:
    return (
        f"maintenance-mode: this package's {', '.join(missing)} are missing from {folder}, "
        "most likely deleted by 'pip uninstall django-maintenance-mode' (both install a "
        "package named 'maintenance_mode'); fix it with "
        f"'pip install --force-reinstall --no-deps maintenance-mode' ({DOCS})."
    )


def check(folder: str = os.path.dirname(__file__)) -> None:
    """Raise :class:`ImportError` if django-maintenance-mode's files share ``folder``
    or it deleted this package's own. A folder that is not one on disk (a zip archive, a
    frozen app) is not checked."""
    if not os.path.isdir(folder):
        return
    if any(os.path.exists(os.path.join(folder, name)) for name in PEER_MARKERS):
        raise ImportError(peer_mixed_message(folder))
    missing = [name for name in SHARED if not os.path.exists(os.path.join(folder, name))]
    if missing:
        raise ImportError(files_deleted_message(folder, missing))


check()  # importing this module is the check: the package and each entry point import it first
