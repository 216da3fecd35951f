"""Callbacks on maintenance transitions, so teams can notify by e-mail, chat or push.

``on_change=[hook, ...]``: each hook gets one :class:`Event` when a window is
announced, when maintenance starts (by hand or by a window), when an update is
added, and when it ends (off, auto-end or expiry). Hooks run in a background
thread: a slow or failing hook never delays a request (failures are logged).
Every process runs its own checks, so with several workers each one fires the
event once; deduplicate downstream (the ``key`` is the same in every process).
"""

from __future__ import annotations

import json
import logging
import threading
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from .state import MaintenanceState, Window

__all__ = ["Event", "EventName", "fire", "webhook"]

logger = logging.getLogger("maintenance_mode")

EventName = Literal["announced", "started", "updated", "ended"]


@dataclass(frozen=True, slots=True)
class Event:
    """One transition, with the state as payload."""

    name: EventName
    at: datetime
    #: The effective details while on ("started", "updated"), else the last known ones.
    state: MaintenanceState | None
    #: The planned window concerned, if any.
    window: Window | None = None

    @property
    def key(self) -> str:
        """Identical in every worker for the same transition (for deduplication)."""
        when = self.window.start if self.window is not None else None
        if when is None and self.state is not None:
            when = self.state.started_at
        updates = len(self.state.updates) if self.state is not None else 0
        stamp = when.isoformat() if when is not None else "-"
        return f"{self.name}:{stamp}:{updates}"

    def to_json(self) -> dict[str, object]:
        """A JSON-ready payload (what :func:`webhook` posts)."""
        return {
            "event": self.name,
            "key": self.key,
            "at": self.at.isoformat(),
            "state": None if self.state is None else self.state.model_dump(mode="json"),
            "window": None if self.window is None else self.window.model_dump(mode="json"),
        }


def fire(hooks: Iterable[Callable[[Event], object]], events: Iterable[Event]) -> None:
    """Run each hook for each event in a daemon thread; log, never raise."""
    hooks = tuple(hooks)
    if not hooks:
        return
    for event in events:
        for hook in hooks:
            threading.Thread(target=_run, args=(hook, event), daemon=True).start()


def _run(hook: Callable[[Event], object], event: Event) -> None:
    try:
        hook(event)
    except Exception:
        logger.exception("on_change hook %r failed for %s", hook, event.name)


def webhook(url: str, *, timeout: float = 5.0) -> Callable[[Event], None]:
    """A hook that POSTs each event as JSON to ``url`` (e.g. a chat incoming webhook).

    ``on_change=[webhook("https://chat.example.com/hooks/abc")]``. Only https URLs
    (or http to 127.0.0.1 for tests) are accepted, so the payload is not sent in clear.
    """
    parts = urllib.parse.urlsplit(url)
    local = parts.scheme == "http" and parts.hostname == "127.0.0.1"
    if not (parts.scheme == "https" and parts.hostname) and not local:
        raise ValueError(f"webhook URL {url!r} must start with https://")

    def post(event: Event) -> None:
        data = json.dumps(event.to_json()).encode("utf-8")
        request = urllib.request.Request(  # noqa: S310 - scheme checked above
            url, data=data, headers={"Content-Type": "application/json"}, method="POST"
        )
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            response.read()

    return post
