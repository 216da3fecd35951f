"""Honest times: an ETA from a duration is rounded up; the window, the duration and
Retry-After agree; every time is shown in the configured zones (the ended banner too)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from conftest import BROWSER_ACCEPT
from maintenance_mode import control
from maintenance_mode.asgi import MaintenanceMiddleware
from maintenance_mode.banner import banner_context
from maintenance_mode.cli import main
from maintenance_mode.render import Renderer
from maintenance_mode.schedule import Banner
from maintenance_mode.settings import Settings
from maintenance_mode.state import ETARange, MaintenanceState, load_state

AT = datetime(2026, 12, 4, 14, 42, 17, tzinfo=UTC)


def hm(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%H:%M:%S")


@pytest.mark.parametrize(
    ("text", "earliest", "latest"),
    [
        pytest.param("20m", "15:05:00", "15:05:00", id="20 minutes: up to the next 5"),
        pytest.param("20m..40m", "15:05:00", "15:25:00", id="a range, both ends"),
        pytest.param("1h55m", "16:40:00", "16:40:00", id="under two hours: fives"),
        pytest.param("2h", "16:45:00", "16:45:00", id="two hours: quarter hours"),
        pytest.param("4h..6h", "18:45:00", "20:45:00", id="hours: quarter hours"),
        pytest.param("1d", "14:45:00", "14:45:00", id="a day"),
        pytest.param("2026-12-04T16:42:00Z", "16:42:00", "16:42:00", id="a time: kept exactly"),
        pytest.param("20m..2026-12-04T17:07Z", "15:05:00", "17:07:00", id="mixed"),
    ],
)
def test_relative_etas_are_rounded_up(text: str, earliest: str, latest: str) -> None:
    eta = control.parse_eta(text, now=AT)
    low, high = (eta.earliest, eta.latest) if isinstance(eta, ETARange) else (eta, eta)
    assert (hm(low), hm(high)) == (earliest, latest)


def test_a_moment_already_on_the_step_is_kept() -> None:
    on_step = datetime(2026, 12, 4, 14, 40, tzinfo=UTC)
    assert control.parse_eta("20m", now=on_step) == on_step + timedelta(minutes=20)


def test_rounding_can_be_turned_off() -> None:
    assert control.parse_eta("20m", now=AT, rounded=False) == AT + timedelta(minutes=20)


def test_the_control_api_rounds_a_timedelta_eta_but_not_an_expiry(flag_path: Path) -> None:
    control.on(flag_path, eta=timedelta(minutes=20), expires="3h", now=AT)
    state = load_state(flag_path.read_bytes())
    assert state.eta_latest == datetime(2026, 12, 4, 15, 5, tzinfo=UTC)
    assert state.expires_at == AT + timedelta(hours=3)  # an automatic end is not a promise


def test_update_rounds_a_new_eta(flag_path: Path) -> None:
    control.on(flag_path, reason="Upgrade", now=AT)
    control.update(flag_path, "Slower than hoped", eta="50m", now=AT + timedelta(minutes=3))
    state = load_state(flag_path.read_bytes())
    assert state.eta_latest == datetime(2026, 12, 4, 15, 40, tzinfo=UTC)


def test_the_cli_writes_the_rounded_eta(flag_path: Path) -> None:
    assert main(["--file", str(flag_path), "on", "--eta", "20m..40m"]) == 0
    state = load_state(flag_path.read_bytes())
    for moment in (state.eta_earliest, state.eta_latest):
        assert moment is not None
        assert (moment.minute % 5, moment.second, moment.microsecond) == (0, 0, 0)


def test_the_window_and_the_duration_agree() -> None:
    """The issue's case: down since 2:43, back 3:03-3:23 is 20 to 40 minutes, not 20 to 45."""
    started = datetime(2026, 12, 4, 14, 43, 40, tzinfo=UTC)
    eta = ETARange(
        earliest=datetime(2026, 12, 4, 15, 3, 10, tzinfo=UTC),
        latest=datetime(2026, 12, 4, 15, 23, 50, tzinfo=UTC),
    )
    context = Renderer(Settings()).context(
        MaintenanceState(started_at=started, eta=eta), overrun=False, now=started
    )
    assert "2:43" in context["format_moment"](started)
    assert "3:03" in context["format_span"](eta.earliest, eta.latest)
    assert "3:23" in context["format_span"](eta.earliest, eta.latest)
    assert context["duration"] == "20 to 40 minutes"


async def _never(scope: Any, receive: Any, send: Any) -> None:
    raise AssertionError("the app must not run")


def test_a_rounded_eta_gives_the_same_times_everywhere(flag_path: Path) -> None:
    """The document, the page and Retry-After all come from the one rounded instant."""
    now = datetime.now(UTC).replace(microsecond=0)
    control.on(flag_path, reason="Upgrade", eta="20m..40m", now=now)
    state = load_state(flag_path.read_bytes())
    assert state.eta_earliest is not None
    assert state.eta_latest is not None
    app = MaintenanceMiddleware(_never, flag=flag_path)

    async def go() -> tuple[httpx.Response, httpx.Response]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            page = await client.get("/", headers={"Accept": BROWSER_ACCEPT})
            problem = await client.get("/", headers={"Accept": "application/json"})
            return page, problem

    page, problem = asyncio.run(go())
    left = (state.eta_earliest - datetime.now(UTC)).total_seconds()
    assert left - 30 <= int(page.headers["Retry-After"]) <= left + 30
    assert problem.json()["eta"]["earliest"] == state.eta_earliest.isoformat().replace(
        "+00:00", "Z"
    )
    shown = page.text
    for moment in (state.eta_earliest, state.eta_latest):
        clock = f"{(moment.hour - 1) % 12 + 1}:{moment.minute:02d}"
        assert clock in shown
    start = now.replace(second=0)
    low = int((state.eta_earliest - start).total_seconds() // 60)
    high = int((state.eta_latest - start).total_seconds() // 60)
    assert f"{low} to {high} minutes" in shown


@pytest.mark.parametrize(
    ("zones", "shown"),
    [
        pytest.param(["Europe/Paris"], "3:00 PM Paris time", id="the configured zone"),
        pytest.param([], "2:00 PM UTC", id="none configured: UTC"),
    ],
)
def test_the_ended_banner_uses_the_configured_zones(zones: list[str], shown: str) -> None:
    banner = Banner("ended", ended_at=datetime(2026, 12, 4, 14, 0, tzinfo=UTC))
    context = banner_context(banner, Settings(time_zones=tuple(zones)))
    assert shown in context["ended"]
    assert context["ended_iso"] == "2026-12-04T14:00:00+00:00"
    if zones:
        assert "UTC" not in context["ended"]
