"""Extreme times in a flag document: refused at load, or shown everywhere without an error.

Every time a document holds must lie between 1970-01-01 and 9997-12-31 (UTC); see
``maintenance_mode.state.check_time``. A time outside that range (or one whose UTC
value Python cannot even represent, as ``9999-12-31T23:59:59-05:00``) makes the
document invalid, which the file source reads as ON with the default details and a
warning. Inside the range, every rendering path (the 503 in HTML, JSON and text,
in every language, the status document and the banner) works for every zone from
UTC-12 to UTC+14.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from wsgiref.util import setup_testing_defaults
from wsgiref.validate import validator

import httpx
import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from maintenance_mode.asgi import MaintenanceMiddleware as ASGIMaintenance
from maintenance_mode.core import Maintenance, RequestInfo
from maintenance_mode.schedule import Banner
from maintenance_mode.state import (
    EARLIEST_TIME,
    LATEST_TIME,
    MaintenanceState,
    StateFileError,
    Window,
    check_time,
    load_state,
    time_after,
)
from maintenance_mode.wsgi import MaintenanceMiddleware as WSGIMaintenance

ACCEPTS = ("text/html", "application/problem+json", "text/plain")
LANGUAGES = ("en", "fr", "de", "es")
#: The widest offsets in use (Kiritimati +14, Baker Island -12) and some odd ones.
ZONES = ("Pacific/Kiritimati", "Etc/GMT+12", "America/St_Johns", "Asia/Kathmandu", "UTC")

#: The documents from issue 19, each of which turned blocked requests (or the status
#: document) into a 500 before times were checked.
ISSUE_DOCUMENTS = [
    pytest.param({"eta": "9999-12-31T23:59:59-05:00"}, "eta", id="ETA past year 9999 in UTC"),
    pytest.param(
        {"started_at": "0001-01-01T00:00:00+14:00"}, "started_at", id="started_at before year 1"
    ),
    pytest.param(
        {"updates": [{"at": "0001-01-01T00:00:00+14:00", "text": "Started"}]},
        "updates.0.at",
        id="update before year 1",
    ),
    pytest.param(
        {"windows": [{"start": "9999-12-30T00:00:00Z", "end": "9999-12-31T23:00:00-05:00"}]},
        "windows.0.end",
        id="window ending past year 9999",
    ),
    pytest.param(
        {"eta": {"earliest": "2030-01-01T00:00:00Z", "latest": "9999-12-31T23:59:59-05:00"}},
        "eta.latest",
        id="ETA range ending past year 9999",
    ),
    pytest.param(
        {"expires_at": "9999-12-31T23:59:59-23:59"}, "expires_at", id="expires_at out of range"
    ),
    pytest.param({"ended_at": "0001-01-01T00:00:00Z"}, "ended_at", id="ended_at in year 1"),
    pytest.param(
        {
            "windows": [
                {
                    "start": "2030-01-01T00:00:00Z",
                    "end": "2030-01-01T02:00:00Z",
                    "announce_from": "1969-12-31T23:59:59Z",
                }
            ]
        },
        "windows.0.announce_from",
        id="announcement before 1970",
    ),
]


def write_flag(path: Path, document: dict[str, Any]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(document), encoding="utf-8")
    os.replace(tmp, path)


# -- the range ---------------------------------------------------------------------------


@pytest.mark.parametrize(("document", "field"), ISSUE_DOCUMENTS)
def test_out_of_range_documents_are_refused_in_one_line(
    document: dict[str, Any], field: str
) -> None:
    with pytest.raises(StateFileError) as caught:
        load_state(json.dumps(document))
    message = str(caught.value)
    assert "\n" not in message
    assert f"{field}: " in message
    assert "out of range; times must lie between 1970-01-01 and 9997-12-31 (UTC)" in message
    assert "Value error" not in message


@pytest.mark.parametrize(
    "moment",
    [
        pytest.param(EARLIEST_TIME, id="1970-01-01 UTC"),
        pytest.param(EARLIEST_TIME.astimezone(timezone(timedelta(hours=-12))), id="first, -12"),
        pytest.param(LATEST_TIME, id="9997-12-31 UTC"),
        pytest.param(LATEST_TIME.astimezone(timezone(timedelta(hours=14))), id="last, +14"),
        pytest.param(
            LATEST_TIME.astimezone(timezone(timedelta(hours=23, minutes=59))), id="+23:59"
        ),
    ],
)
def test_the_ends_of_the_range_are_accepted(moment: datetime) -> None:
    assert check_time(moment) is moment
    state = MaintenanceState(started_at=moment, eta=moment, expires_at=moment, ended_at=moment)
    assert load_state(state.model_dump_json()) == state


@pytest.mark.parametrize(
    "moment",
    [
        pytest.param(EARLIEST_TIME - timedelta(microseconds=1), id="just before 1970"),
        pytest.param(LATEST_TIME + timedelta(microseconds=1), id="year 9999"),
        pytest.param(
            datetime(9999, 12, 31, 23, 0, tzinfo=timezone(-timedelta(hours=5))), id="UTC overflow"
        ),
        pytest.param(datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=14))), id="UTC underflow"),
        pytest.param(datetime(2030, 1, 1), id="naive"),
    ],
)
def test_check_time_refuses(moment: datetime) -> None:
    with pytest.raises(ValueError, match=r"out of range|no time zone"):
        check_time(moment)


def test_time_after_never_overflows() -> None:
    now = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
    assert time_after(now, hours=2) == now + timedelta(hours=2)
    assert time_after(now, timedelta(days=1)) == now + timedelta(days=1)
    for days in (9_999_999, 99_999_999, 10**12):  # --eta 9999999d and larger
        with pytest.raises(ValueError, match="out of range"):
            time_after(now, days=days)
    with pytest.raises(ValueError, match="out of range"):
        time_after(now, timedelta(days=999_999_999))
    with pytest.raises(ValueError, match="out of range"):
        time_after(now, days=-30_000)  # before 1970


# -- the issue's documents through the adapters -------------------------------------------


def fetch_wsgi(flag: Path, path: str, accept: str, method: str = "GET") -> tuple[int, bytes]:
    def inner(environ: Any, start_response: Any) -> Any:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"app"]

    app = validator(WSGIMaintenance(inner, flag=flag))
    environ: dict[str, Any] = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "SCRIPT_NAME": "",
        "QUERY_STRING": "",
        "HTTP_ACCEPT": accept,
    }
    setup_testing_defaults(environ)
    seen: list[str] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        seen.append(status)
        return lambda data: None

    result = app(environ, start_response)
    try:
        body = b"".join(result)
    finally:
        result.close()  # type: ignore[attr-defined]
    return int(seen[0].split()[0]), body


def fetch_asgi(flag: Path, path: str, accept: str, method: str = "GET") -> tuple[int, bytes]:
    async def inner(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"app"})

    app = ASGIMaintenance(inner, flag=flag)

    async def go() -> tuple[int, bytes]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            r = await c.request(method, path, headers={"Accept": accept})
            return r.status_code, r.content

    return asyncio.run(go())


@pytest.mark.parametrize("fetch", [fetch_wsgi, fetch_asgi], ids=["wsgi", "asgi"])
@pytest.mark.parametrize(("document", "field"), ISSUE_DOCUMENTS)
def test_issue_documents_give_the_503_not_a_500(
    fetch: Any,
    document: dict[str, Any],
    field: str,
    flag_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    write_flag(flag_path, document)
    with caplog.at_level(logging.WARNING, logger="maintenance_mode"):
        for accept in ACCEPTS:
            status, body = fetch(flag_path, "/checkout", accept)
            assert status == 503, body
            assert body
            status, body = fetch(flag_path, "/checkout", accept, "HEAD")
            assert (status, body) == (503, b"")
        status, body = fetch(flag_path, "/__maintenance__/status", "application/json")
    assert status == 200
    assert json.loads(body)["status"]["indicator"] == "maintenance"  # present: ON, default details
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any(f"{field}: " in w and "out of range" in w for w in warnings), warnings
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


# -- every accepted time renders ----------------------------------------------------------


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


class Errors(logging.Handler):
    """Records the engine's ERROR records (a template that failed and fell back)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> tuple[Maintenance, Path, Clock]:
    """One engine (its flag rewritten per case), the widest zones, every language."""
    flag = tmp_path_factory.mktemp("times") / "maintenance.json"
    clock = Clock(datetime(2026, 11, 27, 10, 0, tzinfo=UTC))
    m = Maintenance(
        flag=flag,
        check_interval=3600,
        time_zones=list(ZONES),
        ended_banner_for=30 * 24 * 3600,
        max_duration=365 * 24 * 3600,
        site_name="Shop",
    )
    m._clock = clock
    return m, flag, clock


def exercise(m: Maintenance, flag: Path, document: dict[str, Any], clock: Clock) -> None:
    """Every rendering path for ``document`` at ``clock.now``: no error, no fallback."""
    write_flag(flag, document)
    errors = Errors()
    logger = logging.getLogger("maintenance_mode")
    logger.addHandler(errors)
    try:
        m.invalidate()
        snapshot = m.poll()
        for accept in ACCEPTS:
            for language in LANGUAGES:
                for method in ("GET", "HEAD"):
                    request = RequestInfo(
                        method, "/checkout", "", "198.51.100.9", accept=accept,
                        accept_language=language,
                    )  # fmt: skip
                    decision = m.decide(snapshot, request)
                    if snapshot.on:
                        assert decision.response is not None
                        assert decision.response.status == 503
        status = m.decide(snapshot, RequestInfo("GET", "/__maintenance__/status", "", None))
        assert status.response is not None
        assert status.response.status == 200
        json.loads(status.response.body)
        for language in LANGUAGES:
            m.banner_html(language)
        if snapshot.banner is None:  # the banner forms this document could show, directly
            for window in (w for doc in snapshot.docs for w in doc.windows):
                m.render_banner(Banner("upcoming", window=window))
            for doc in snapshot.docs:
                for ended in (doc.ended_at, doc.expires_at):
                    if ended is not None:
                        m.render_banner(Banner("ended", ended_at=ended))
    finally:
        logger.removeHandler(errors)
    assert not errors.records, [r.getMessage() for r in errors.records]


def iso(moment: datetime, hours: float = 0) -> str:
    return moment.astimezone(timezone(timedelta(hours=hours))).isoformat()


def edge_documents() -> Iterator[Any]:
    for hours in (-12, 0, 14):
        first, last = iso(EARLIEST_TIME, hours), iso(LATEST_TIME, hours)
        near_end = iso(LATEST_TIME - timedelta(hours=2), hours)
        nearer_end = iso(LATEST_TIME - timedelta(hours=1), hours)
        yield pytest.param(
            {
                "reason": "Edges",
                "started_at": first,
                "eta": {"earliest": first, "latest": last},
                "updates": [{"at": first, "text": "first"}, {"at": last, "text": "last"}],
                "windows": [
                    {"start": first, "end": last, "timezone": "Pacific/Kiritimati"},
                    {"start": near_end, "end": last, "timezone": "Etc/GMT+12"},
                ],
            },
            id=f"on, from the first to the last time ({hours:+d}h)",
        )
        yield pytest.param(
            {"started_at": last, "eta": last, "updates": [{"at": last, "text": "late"}]},
            id=f"on, everything at the last time ({hours:+d}h)",
        )
        yield pytest.param(
            {
                "windows": [
                    {
                        "start": near_end,
                        "end": {"earliest": nearer_end, "latest": last},
                        "timezone": "Pacific/Kiritimati",
                        "announce_from": first,
                        "auto_end": True,
                    }
                ]
            },
            id=f"a window at the end, announced since the start ({hours:+d}h)",
        )
        yield pytest.param(
            {"started_at": first, "expires_at": last, "ended_at": last},
            id=f"expiring at the last time ({hours:+d}h)",
        )


NOWS = {
    "now": datetime(2026, 11, 27, 10, 0, tzinfo=UTC),
    "first moment": EARLIEST_TIME,
    "an hour before the end": LATEST_TIME - timedelta(hours=1),
    "last moment": LATEST_TIME,
}


@pytest.mark.parametrize("now", list(NOWS.values()), ids=list(NOWS))
@pytest.mark.parametrize("document", list(edge_documents()))
def test_documents_at_the_ends_of_the_range_render_everywhere(
    rig: tuple[Maintenance, Path, Clock], document: dict[str, Any], now: datetime
) -> None:
    m, flag, clock = rig
    load_state(json.dumps(document))  # accepted
    clock.now = now
    exercise(m, flag, document, clock)


def test_window_at_the_end_gives_each_phase(rig: tuple[Maintenance, Path, Clock]) -> None:
    """The last window of the range is announced, active, then ended (with its banner)."""
    m, flag, clock = rig
    start = LATEST_TIME - timedelta(hours=2)
    document = {
        "windows": [
            {
                "start": iso(start, 14),
                "end": iso(start + timedelta(hours=1), -12),
                "timezone": "Pacific/Kiritimati",
                "auto_end": True,
            }
        ],
        "ended_at": iso(LATEST_TIME - timedelta(minutes=1)),
    }
    phases = []
    for now in (start - timedelta(hours=1), start, LATEST_TIME):
        clock.now = now
        exercise(m, flag, document, clock)
        phases.append(m.poll().phase)
    assert phases == ["announced", "active", "ended"]


def _near(low: datetime, days: int = 4) -> st.SearchStrategy[datetime]:
    return st.datetimes(min_value=low, max_value=low + timedelta(days=days))


#: Any aware time Python can hold, with any offset pydantic accepts (under 24 hours), half
#: of them near the ends of Python's range and of the accepted range.
ANY_TIME = st.builds(
    lambda moment, minutes: moment.replace(tzinfo=timezone(timedelta(minutes=minutes))),
    st.one_of(
        st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59, 59)),
        _near(datetime.min),
        _near(datetime.max - timedelta(days=4)),
        _near(EARLIEST_TIME.replace(tzinfo=None) - timedelta(days=2)),
        _near(LATEST_TIME.replace(tzinfo=None) - timedelta(days=2)),
    ),
    st.integers(min_value=-(24 * 60 - 1), max_value=24 * 60 - 1),
)
FIRST, LAST = iso(EARLIEST_TIME), iso(LATEST_TIME)
SLOTS: dict[str, Any] = {
    "eta": lambda t: {"eta": t},
    "eta.earliest": lambda t: {"eta": {"earliest": t, "latest": LAST}},
    "eta.latest": lambda t: {"eta": {"earliest": FIRST, "latest": t}},
    "started_at": lambda t: {"started_at": t},
    "updates.0.at": lambda t: {"updates": [{"at": t, "text": "x"}]},
    "windows.0.start": lambda t: {"windows": [{"start": t, "end": LAST}]},
    "windows.0.end": lambda t: {"windows": [{"start": FIRST, "end": t}]},
    "windows.0.announce_from": lambda t: {
        "windows": [
            {"start": iso(LATEST_TIME - timedelta(hours=1)), "end": LAST, "announce_from": t}
        ]
    },
    "expires_at": lambda t: {"expires_at": t},
    "ended_at": lambda t: {"started_at": FIRST, "ended_at": t, "expires_at": t},
}


@settings(max_examples=150, deadline=None, derandomize=True, database=None)
@given(
    moment=ANY_TIME,
    slot=st.sampled_from(sorted(SLOTS)),
    shift=st.sampled_from([timedelta(hours=-1), timedelta(0), timedelta(hours=1)]),
)
def test_any_time_is_refused_or_renders(
    rig: tuple[Maintenance, Path, Clock], moment: datetime, slot: str, shift: timedelta
) -> None:
    m, flag, clock = rig
    document = SLOTS[slot](moment.isoformat())
    try:
        load_state(json.dumps(document))
    except StateFileError as exc:
        message = str(exc)
        event("refused")
    else:
        message = ""
        event("accepted")
    if message:
        assert "\n" not in message
        return
    # Accepted: every path renders, with the clock before, at and after that time.
    try:
        utc = moment.astimezone(UTC)
    except OverflowError:
        pytest.fail(f"{moment.isoformat()} was accepted but has no UTC value")
    clock.now = max(EARLIEST_TIME, min(LATEST_TIME, utc)) + shift
    exercise(m, flag, document, clock)


def test_documents_built_in_code_are_checked_too() -> None:
    with pytest.raises(ValueError, match="out of range"):
        Window(
            start=EARLIEST_TIME,
            end=datetime(9999, 12, 31, 23, tzinfo=timezone(-timedelta(hours=5))),
        )
    with pytest.raises(ValueError, match="out of range"):
        MaintenanceState().with_update(
            "x", at=datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=1)))
        )


@pytest.mark.parametrize("option", ["max_duration", "warn_after"])
def test_delays_added_to_document_times_are_capped_at_a_year(option: str, flag_path: Path) -> None:
    """The range's margin covers them: a larger value could overflow at the range's end."""
    Maintenance(flag=flag_path, **{option: 365 * 24 * 3600})
    with pytest.raises(ValueError, match=f"option '{option}'"):
        Maintenance(flag=flag_path, **{option: 365 * 24 * 3600 + 1})
