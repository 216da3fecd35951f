"""One vocabulary for options: durations as the CLI writes them (and ISO 8601), any
positive ``retry_after_max``, and no CIDR with host bits set (issue 17)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from maintenance_mode.settings import Settings

HOUR = 3600
DAY = 24 * HOUR
YEAR = 365 * DAY


@pytest.mark.parametrize(
    ("option", "value", "seconds"),
    [
        pytest.param("max_duration", "2h", 2 * HOUR, id="cli hours"),
        pytest.param("max_duration", "90m", 90 * 60, id="cli minutes"),
        pytest.param("max_duration", "1d12h", DAY + 12 * HOUR, id="cli days and hours"),
        pytest.param("max_duration", " 2h ", 2 * HOUR, id="cli with spaces around"),
        pytest.param("max_duration", "365d", YEAR, id="cli at the cap"),
        pytest.param("max_duration", "PT2H", 2 * HOUR, id="iso hours"),
        pytest.param("max_duration", "P1D", DAY, id="iso day"),
        pytest.param("max_duration", "P1DT12H", DAY + 12 * HOUR, id="iso day and hours"),
        pytest.param("max_duration", "P1W", 7 * DAY, id="iso week"),
        pytest.param("max_duration", timedelta(hours=2), 2 * HOUR, id="timedelta"),
        pytest.param("max_duration", 7200, 7200, id="int stays seconds"),
        pytest.param("max_duration", "7200", 7200, id="digits stay seconds"),
        pytest.param("max_duration", 7200.0, 7200, id="whole float"),
        pytest.param("max_duration", None, None, id="None: no limit"),
        pytest.param("warn_after", "1d", DAY, id="warn_after"),
        pytest.param("warn_after", "P365D", YEAR, id="warn_after at the cap"),
        pytest.param("retry_after_default", "5m", 300, id="retry_after_default"),
        pytest.param("retry_after_min", "30s", 30, id="retry_after_min"),
        pytest.param("retry_after_min", 0, 0, id="retry_after_min zero"),
        pytest.param("retry_after_max", "1h", HOUR, id="retry_after_max under a day"),
        pytest.param("retry_after_max", "PT1H", HOUR, id="retry_after_max iso"),
        pytest.param("retry_after_max", "30d", 30 * DAY, id="retry_after_max at the cap"),
        pytest.param("ended_banner_for", "2h", 2 * HOUR, id="ended_banner_for"),
        pytest.param("ended_banner_for", "0s", 0, id="zero where zero means off"),
        pytest.param("ended_banner_for", "PT0S", 0, id="iso zero where zero means off"),
        pytest.param("bypass_cookie_max_age", "12h", 12 * HOUR, id="bypass_cookie_max_age"),
        pytest.param("check_interval", "5s", 5.0, id="check_interval"),
        pytest.param("check_interval", "PT0.5S", 0.5, id="check_interval fraction"),
        pytest.param("check_interval", 0.25, 0.25, id="float stays seconds"),
        pytest.param("callable_timeout", timedelta(milliseconds=500), 0.5, id="callable_timeout"),
        pytest.param("poll_interval", "30s", 30.0, id="poll_interval"),
        pytest.param("poll_max_interval", "2m", 120.0, id="poll_max_interval"),
    ],
)
def test_durations_become_seconds(option: str, value: object, seconds: float | None) -> None:
    got = getattr(Settings.from_options({option: value}), option)
    assert got == seconds
    assert type(got) is type(seconds)  # int options stay int, float options float


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        pytest.param("max_duration", "2x", "'2x' is not a duration", id="unknown unit"),
        pytest.param("max_duration", "-1h", "'-1h' is not a duration", id="negative cli"),
        pytest.param("max_duration", "-PT1H", "'-PT1H' is not a duration", id="negative iso"),
        pytest.param("max_duration", "1h2d", "'1h2d' is not a duration", id="units out of order"),
        pytest.param("max_duration", "0s", "at least 60 seconds (1m), not 0", id="zero"),
        pytest.param("max_duration", "30s", "at least 60 seconds (1m), not 30", id="under 1m"),
        pytest.param("max_duration", "P", "'P' is not a duration", id="bare P"),
        pytest.param("max_duration", "PT", "'PT' is not a duration", id="bare PT"),
        pytest.param("max_duration", "pt2h", "'pt2h' is not a duration", id="lowercase iso"),
        pytest.param("max_duration", "P1M", "years and months have no fixed length", id="month"),
        pytest.param("max_duration", "P1Y", "years and months have no fixed length", id="year"),
        pytest.param("max_duration", "", "'' is not a duration", id="empty"),
        pytest.param("max_duration", True, "True is not a duration", id="bool"),
        pytest.param("warn_after", False, "False is not a duration", id="bool false"),
        pytest.param("retry_after_min", True, "True is not a duration", id="bool as 1"),
        pytest.param("check_interval", True, "True is not a duration", id="bool float option"),
        pytest.param("max_duration", "366d", "at most 31536000 seconds (365d)", id="cli > cap"),
        pytest.param("warn_after", "P366D", "at most 31536000 seconds (365d)", id="iso > cap"),
        pytest.param("max_duration", YEAR + 1, "at most 31536000 seconds (365d)", id="int > cap"),
        pytest.param("max_duration", "99999d", "at most 31536000 seconds (365d)", id="huge cli"),
        pytest.param("max_duration", 10**30, "at most 31536000 seconds", id="huge int"),
        pytest.param("max_duration", "1e400", "at most 31536000 seconds", id="infinite"),
        pytest.param("max_duration", "nan", "is not a number of seconds", id="nan"),
        pytest.param("max_duration", "PT90.5S", "whole seconds, not 90.5", id="fraction of int"),
        pytest.param(
            "warn_after", timedelta(seconds=90, microseconds=5), "whole seconds", id="td fraction"
        ),
        pytest.param("warn_after", timedelta(hours=-1), "at least 60 seconds", id="negative td"),
        pytest.param("retry_after_max", 0, "at least 1 second, not 0", id="retry_after_max zero"),
        pytest.param("retry_after_max", "31d", "at most 2592000 seconds (30d)", id="cap > 30d"),
        pytest.param("check_interval", "0s", "more than 0 seconds, not 0", id="zero interval"),
        pytest.param("check_interval", "2h", "at most 3600 seconds (1h)", id="interval > 1h"),
        pytest.param("bypass_cookie_max_age", "8d", "at most 604800 seconds (7d)", id="cookie"),
        pytest.param("max_duration", [7200], "valid integer", id="wrong type"),
    ],
)
def test_bad_durations_are_refused_in_one_line(option: str, value: object, message: str) -> None:
    with pytest.raises(ValueError, match="maintenance-mode: option") as caught:
        Settings.from_options({option: value})
    text = str(caught.value)
    assert f"option {option!r}: " in text
    assert message in text
    assert "\n" not in text


@pytest.mark.parametrize(
    ("options", "floor", "cap"),
    [
        pytest.param({"retry_after_max": "1h"}, 60, HOUR, id="cap an hour, default floor"),
        pytest.param({"retry_after_min": 60, "retry_after_max": 60}, 60, 60, id="floor = cap"),
        pytest.param({"retry_after_min": "2d", "retry_after_max": "3d"}, 2 * DAY, 3 * DAY, id="2d"),
        pytest.param({"retry_after_min": 0, "retry_after_max": 1}, 0, 1, id="smallest cap"),
    ],
)
def test_retry_after_limits(options: dict[str, Any], floor: int, cap: int) -> None:
    settings = Settings.from_options(options)
    assert (settings.retry_after_min, settings.retry_after_max) == (floor, cap)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        pytest.param(
            {"retry_after_max": 30},
            "retry_after_min (60) must not be above retry_after_max (30)",
            id="cap under the default floor",
        ),
        pytest.param(
            {"retry_after_min": "2h", "retry_after_max": "1h"},
            "retry_after_min (7200) must not be above retry_after_max (3600)",
            id="floor above cap",
        ),
    ],
)
def test_retry_after_floor_above_cap_is_refused(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match="must not be above") as caught:
        Settings.from_options(options)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    ("entry", "meant"),
    [
        pytest.param("10.0.0.1/8", "'10.0.0.0/8', or '10.0.0.1'", id="ipv4"),
        pytest.param("192.168.1.77/24", "'192.168.1.0/24', or '192.168.1.77'", id="ipv4 /24"),
        pytest.param("10.0.0.1/255.0.0.0", "'10.0.0.0/8', or '10.0.0.1'", id="netmask form"),
        pytest.param("2001:db8::1/32", "'2001:db8::/32', or '2001:db8::1'", id="ipv6"),
        pytest.param(
            "::ffff:10.0.0.1/104", "'::ffff:10.0.0.0/104', or '::ffff:10.0.0.1'", id="v4-mapped"
        ),
    ],
)
@pytest.mark.parametrize("option", ["bypass_ips", "trusted_proxies"])
def test_cidr_with_host_bits_is_refused(option: str, entry: str, meant: str) -> None:
    with pytest.raises(ValueError, match="has host bits set") as caught:
        Settings.from_options({option: ["203.0.113.7", entry]})
    text = str(caught.value)
    assert f"option {option!r}: {entry!r} has host bits set; write the network as {meant}" in text
    assert "\n" not in text


@pytest.mark.parametrize(
    "entries",
    [
        pytest.param(["10.0.0.0/8", "2001:db8::/32"], id="networks"),
        pytest.param(["10.0.0.1", "::1"], id="single addresses"),
        pytest.param(["10.0.0.1/32", "::1/128"], id="full-length prefixes"),
        pytest.param("10.0.0.0/8, 192.168.0.0/16", id="one string"),
        pytest.param(["::ffff:10.0.0.0/104"], id="v4-mapped network"),
    ],
)
def test_networks_without_host_bits_are_accepted(entries: str | list[str]) -> None:
    assert Settings.from_options({"bypass_ips": entries, "trusted_proxies": entries}).bypass_ips


def test_django_settings_take_duration_strings(flag_path: Path) -> None:
    from django_setup import setup_django

    setup_django()
    from django.core.exceptions import ImproperlyConfigured
    from django.http import HttpResponse
    from django.test import override_settings

    from maintenance_mode.django import MaintenanceMiddleware
    from maintenance_mode.django.checks import check_settings

    good = {"flag": str(flag_path), "max_duration": "2h", "retry_after_max": "PT1H"}
    with override_settings(MAINTENANCE_MODE=good):
        middleware = MaintenanceMiddleware(lambda request: HttpResponse())
        assert middleware.maintenance.settings.max_duration == 2 * HOUR
        assert middleware.maintenance.settings.retry_after_max == HOUR
        assert not [m for m in check_settings() if m.id == "maintenance_mode.E001"]
    with override_settings(MAINTENANCE_MODE={"flag": str(flag_path), "max_duration": "2x"}):
        with pytest.raises(ImproperlyConfigured, match="option 'max_duration': '2x' is not"):
            MaintenanceMiddleware(lambda request: HttpResponse())
        assert [m.id for m in check_settings()] == ["maintenance_mode.E001"]


def test_flask_config_takes_duration_strings(flag_path: Path) -> None:
    from flask import Flask

    from maintenance_mode.flask import EXTENSION_KEY, MaintenanceMode

    app = Flask(__name__)
    app.config["MAINTENANCE_MODE"] = {"max_duration": "2h", "warn_after": "P1D"}
    MaintenanceMode(app, flag=str(flag_path))
    settings = app.extensions[EXTENSION_KEY].settings
    assert (settings.max_duration, settings.warn_after) == (2 * HOUR, DAY)

    bad = Flask(__name__)
    bad.config["MAINTENANCE_MODE"] = {"bypass_ips": "10.0.0.1/8"}
    with pytest.raises(ValueError, match=r"write the network as '10\.0\.0\.0/8'"):
        MaintenanceMode(bad, flag=str(flag_path))


@pytest.mark.parametrize(
    "text", ["75s", "90m", "2h", "1d", "1d12h", "2h30m", "1d2h3m4s", "365d", "0d90m", "007m"]
)
def test_same_answers_as_the_cli(text: str) -> None:
    """settings.py reads the CLI's durations itself (importing control costs too much)."""
    from maintenance_mode.control import parse_duration

    expected = int(parse_duration(text).total_seconds())
    assert Settings.from_options({"warn_after": text}).warn_after == expected


@pytest.mark.parametrize("text", ["2x", "-1h", "1h2d", "h", "1.5h", "2 h", "1d 2h", "P1D"])
def test_same_refusals_as_the_cli(text: str) -> None:
    """What the CLI refuses as no duration, options refuse too (ISO 8601 aside)."""
    from maintenance_mode.control import parse_duration

    with pytest.raises(ValueError, match="is not a duration"):
        parse_duration(text)
    if not text.startswith("P"):
        with pytest.raises(ValueError, match="is not a duration"):
            Settings.from_options({"warn_after": text})
