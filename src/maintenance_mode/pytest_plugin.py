"""The pytest plugin (entry point ``maintenance_mode``): the ``maintenance`` fixture.

pytest loads it in every test run where maintenance-mode is installed, so it imports
nothing but pytest itself: ``maintenance_mode.testing`` loads when a test asks for
the fixture. Disable it with ``-p no:maintenance_mode``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from .testing import Controller

__all__ = ["maintenance"]


@pytest.fixture
def maintenance() -> Iterator[Controller]:
    """Switch every maintenance engine in the process: ``maintenance.on(reason=..., eta=...)``,
    ``.off()``, ``.schedule(start=..., end=...)``, ``.reset()``; undone after the test.

    See :class:`maintenance_mode.testing.Controller`.
    """
    from .testing import Controller

    controller = Controller()
    try:
        yield controller
    finally:
        controller.reset()
