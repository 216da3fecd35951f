"""Shared fixtures: a flag file path in a fresh folder, and free ports for real servers."""

from __future__ import annotations

import socket
from collections.abc import Callable
from pathlib import Path

import pytest


@pytest.fixture
def flag_path(tmp_path: Path) -> Path:
    """Where the flag file goes (absent at start: maintenance OFF)."""
    return tmp_path / "maintenance.json"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="session")
def free_port() -> Callable[[], int]:
    """Returns a port that was free a moment ago on 127.0.0.1, for servers run as subprocesses."""
    return _free_port


@pytest.fixture
def anyio_backend() -> str:
    """Async tests (marked ``anyio``) run on asyncio, like uvicorn."""
    return "asyncio"
