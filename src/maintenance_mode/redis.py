"""A Redis-backed flag source: one switch for every worker on every host.

Install the extra: ``pip install "maintenance-mode[redis]"`` (redis-py). The key
holds the same JSON document as the flag file, with the same meaning: present
means ON (its content adds the details), absent means OFF, and content that is
not a valid document still means ON with the default details. The CLI writes it
with ``maintenance --redis URL on ...``.

Like every source it is read at most once per check interval per process, so a
request never waits on the network; when Redis cannot be reached the read raises
:class:`~maintenance_mode.sources.FlagError` and the engine's ``on_error``
policy applies (logged once per check, never raised into a request).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from .sources import FlagError, FlagSource
from .state import MAX_STATE_BYTES, MaintenanceState, StateFileError, load_state

if TYPE_CHECKING:
    import redis as redis_py

__all__ = ["DEFAULT_KEY", "RedisFlag", "redis_client"]

logger = logging.getLogger("maintenance_mode")

#: The key used when none is given (the CLI's ``--redis-key`` default too).
DEFAULT_KEY = "maintenance_mode:state"
#: URL schemes that name a Redis server (``flag="redis://..."``).
REDIS_SCHEMES = ("redis://", "rediss://", "unix://")


def _import_redis() -> Any:
    try:
        import redis
    except ImportError:  # pragma: no cover - exercised only without the extra
        raise ImportError(
            "maintenance-mode: the Redis flag needs redis-py; "
            'install it with: pip install "maintenance-mode[redis]"'
        ) from None
    return redis


def redacted(url: str) -> str:
    """The URL without its password, for logs and messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    user = f"{parts.username}:***@" if parts.username else ":***@"
    return urlunsplit(parts._replace(netloc=user + host))


def redis_client(url: str, *, socket_timeout: float = 0.5) -> redis_py.Redis:
    """A client that fails fast: short connect/read timeouts and no retries."""
    redis = _import_redis()
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    if not url.startswith(REDIS_SCHEMES):
        raise ValueError(
            f"maintenance-mode: {redacted(url)!r} is not a Redis URL "
            "(use redis://host:6379/0, rediss://... or unix://...)"
        )
    if socket_timeout <= 0:
        raise ValueError("maintenance-mode: Redis socket_timeout must be a positive number")
    client: redis_py.Redis = redis.Redis.from_url(
        url,
        socket_timeout=socket_timeout,
        socket_connect_timeout=socket_timeout,
        retry=Retry(NoBackoff(), 0),
        retry_on_timeout=False,
    )
    return client


class RedisFlag(FlagSource):
    """The maintenance document under a Redis key (present = ON, like the flag file).

    ``socket_timeout`` bounds connecting and each reply, and a read is bounded as a
    whole (name resolution included) by ``2 * socket_timeout + 0.5`` seconds under
    both WSGI and ASGI: it runs in a helper thread of its own (never the event loop
    or its default executor), so a hung or trickling Redis delays at most one request
    per check interval, and while a read hangs later checks fail at once instead of
    piling up threads. At most ``MAX_STATE_BYTES + 1`` bytes of the value are fetched;
    a larger value means ON with the default details, as a larger flag file does.
    Reading needs the ``EXISTS``, ``GETRANGE``, ``MULTI`` and ``EXEC`` commands.
    """

    blocking = True  # a network call: under ASGI the engine awaits aread (a thread)
    _thread_name = "redis"

    def __init__(self, url: str, key: str = DEFAULT_KEY, *, socket_timeout: float = 0.5) -> None:
        if not key:
            raise ValueError("maintenance-mode: the Redis key must not be empty")
        self.url = url
        self.key = key
        self.socket_timeout = socket_timeout
        self.client = redis_client(url, socket_timeout=socket_timeout)
        #: The bound on one whole read, in seconds.
        self.timeout = 2 * socket_timeout + 0.5
        self._raw: bytes | None = None
        self._state: MaintenanceState | None = None

    def describe(self) -> str:
        return f"redis {redacted(self.url)} key {self.key}"

    def _get(self) -> bytes | None:
        """The value's first ``MAX_STATE_BYTES + 1`` bytes, or None when the key is absent.

        ``EXISTS`` and ``GETRANGE`` in one ``MULTI``/``EXEC`` round trip: ``GETRANGE``
        alone answers ``b""`` both for an absent key (OFF) and an empty value (ON), and a
        plain ``GET`` would download a value of any size at every check.
        """
        redis = _import_redis()
        try:
            with self.client.pipeline(transaction=True) as pipe:
                pipe.exists(self.key)
                pipe.getrange(self.key, 0, MAX_STATE_BYTES)
                exists, value = pipe.execute()
        except (redis.RedisError, OSError) as exc:
            raise FlagError(
                f"flag {self.describe()} could not be read: {type(exc).__name__}: {exc}"
            ) from None
        if not exists:
            return None
        if isinstance(value, bytes):
            return value
        raise FlagError(f"flag {self.describe()} returned {type(value).__name__}, not bytes")

    def _parse(self, raw: bytes | None) -> MaintenanceState | None:
        if raw is None:
            self._raw = self._state = None
            return None
        if raw == self._raw and self._state is not None:
            return self._state
        try:
            if len(raw) > MAX_STATE_BYTES:
                raise StateFileError(f"the document is larger than {MAX_STATE_BYTES} bytes")
            state = load_state(raw)
        except StateFileError as exc:
            logger.warning("%s (%s); maintenance is ON with default details", exc, self.describe())
            state = MaintenanceState()
        self._raw, self._state = raw, state
        return state

    def read(self) -> MaintenanceState | None:
        """Under WSGI: the network read runs off the request thread, bounded in time."""
        return self._parse(self._bounded(self._get))

    async def aread(self) -> MaintenanceState | None:
        """Under ASGI: the same read in the same helper thread, awaited with the same bound."""
        return self._parse(await self._in_thread(self._get))
