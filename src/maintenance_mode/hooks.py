"""Callbacks on maintenance transitions, so teams can notify by e-mail, chat or push.

``on_change=[hook, ...]``: each hook gets one :class:`Event` when a window is
announced, when maintenance starts (by hand or by a window), when an update is
added, when it ends (``off``, a window's auto-end) and when it expires
(``on --expires``). Hooks run in background threads: a slow or failing hook never
delays a request (failures are logged). Every process checks the flag on its own,
so for a flag file or a Redis flag the transition is first claimed in that store
(:mod:`maintenance_mode.claims`) and only the process that claimed it runs the
hooks: one notification per transition across the fleet.
"""

from __future__ import annotations

import json
import logging
import threading
import urllib.parse
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from .state import MaintenanceState, Window

__all__ = ["Event", "EventName", "fire", "per_process", "webhook"]

logger = logging.getLogger("maintenance_mode")

#: ``expired``: ``expires_at`` passed (``maintenance on --expires``); every other end,
#: by hand, by a window's auto-end or by ``max_duration``, is ``ended``.
EventName = Literal["announced", "started", "updated", "ended", "expired"]


@dataclass(frozen=True, slots=True)
class Event:
    """One transition, with the state as payload."""

    name: EventName
    at: datetime
    #: The effective details while on ("started", "updated"), else the last known ones.
    state: MaintenanceState | None
    #: The planned window concerned, if any.
    window: Window | None = None
    #: What tells the maintenance apart in its store when it has no start time (a bare
    #: flag file's inode and modification time); part of :attr:`key`.
    fingerprint: str | None = None
    #: The component concerned (partial maintenance), or None for the whole site.
    component: str | None = None

    @property
    def key(self) -> str:
        """The transition's identity, the same in every process and host that sees it.

        ``started:<start>``, ``updated:<start>:<number of updates>``, ``ended:<start>``,
        ``expired:<start>``, ``announced:<window start>``. ``<start>`` is the window's
        start or ``started_at``, else the :attr:`fingerprint`, else ``-``.
        """
        when = self.window.start if self.window is not None else None
        if self.name == "announced":
            return f"announced:{when.isoformat() if when is not None else '-'}"
        if when is None and self.state is not None:
            when = self.state.started_at
        stamp = when.isoformat() if when is not None else (self.fingerprint or "-")
        if self.component is not None:  # ``started:payments:<start>``
            stamp = f"{self.component}:{stamp}"
        if self.name == "updated":
            updates = len(self.state.updates) if self.state is not None else 0
            return f"updated:{stamp}:{updates}"
        return f"{self.name}:{stamp}"

    def to_json(self) -> dict[str, object]:
        """A JSON-ready payload (what :func:`webhook` posts)."""
        return {
            "event": self.name,
            "key": self.key,
            "at": self.at.isoformat(),
            "component": self.component,
            "state": None if self.state is None else self.state.model_dump(mode="json"),
            "window": None if self.window is None else self.window.model_dump(mode="json"),
        }


Hook = Callable[[Event], object]


class per_process:  # lower case: used like a function, on_change=[per_process(hook)]
    """Run ``hook`` in every process that notices a transition, without a claim.

    For work local to each process or host (a cache to drop, a static export on the
    host's own disk); notifications meant for people stay once per fleet.
    """

    __slots__ = ("hook",)

    def __init__(self, hook: Hook) -> None:
        if not callable(hook):
            raise TypeError(f"per_process() needs a callable taking one event, got {hook!r:.60}")
        self.hook = hook

    def __call__(self, event: Event) -> object:
        return self.hook(event)

    def __repr__(self) -> str:
        return f"per_process({self.hook!r})"


#: ``prepare(event, claim)``: the event completed (its fingerprint), and whether this
#: process notifies it (it made the claim, when ``claim``); see ``claims.claimer``.
Prepare = Callable[[Event, bool], tuple[Event, bool]]


def fire(hooks: Iterable[Hook], events: Iterable[Event], prepare: Prepare | None = None) -> None:
    """Run each hook for each event in a daemon thread; log, never raise.

    With ``prepare``, a background thread first asks it whether this process notifies
    the event (it claims the transition in the shared store), so the request that
    noticed it never waits; :class:`per_process` hooks run whatever the answer.
    """
    hooks = tuple(hooks)
    if not hooks:
        return
    local = tuple(hook for hook in hooks if isinstance(hook, per_process))
    shared = tuple(hook for hook in hooks if not isinstance(hook, per_process))
    for event in events:
        if prepare is None:
            _start_hooks(hooks, event)
        else:
            args = (prepare, local, shared, event)
            threading.Thread(target=_prepare_then_run, args=args, daemon=True).start()


def _start_hooks(hooks: tuple[Hook, ...], event: Event) -> None:
    for hook in hooks:
        threading.Thread(target=_run, args=(hook, event), daemon=True).start()


def _prepare_then_run(
    prepare: Prepare, local: tuple[Hook, ...], shared: tuple[Hook, ...], event: Event
) -> None:
    try:
        event, ours = prepare(event, bool(shared))
    except Exception:  # a failed claim must never cost the notification
        logger.exception("on_change: claiming %s failed; notifying it anyway", event.key)
        ours = True
    _start_hooks(local, event)
    if ours:
        _start_hooks(shared, event)


def _run(hook: Hook, event: Event) -> None:
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
        import urllib.request  # here: only a process with a webhook loads the HTTP client

        data = json.dumps(event.to_json()).encode("utf-8")
        request = urllib.request.Request(  # noqa: S310 - scheme checked above
            url, data=data, headers={"Content-Type": "application/json"}, method="POST"
        )
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            response.read()

    return post
