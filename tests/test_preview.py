"""``maintenance preview``: sample states to a folder, or served on 127.0.0.1 with reload."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from maintenance_mode.cli import main
from maintenance_mode.preview import PreviewServer, sample_states, serve

SAMPLES = (
    "planned",
    "unplanned",
    "eta-point",
    "eta-range",
    "overrun",
    "overrun-revised",
    "updates",
    "minimal",
    "component",
)
LOCALES = ("de", "en", "es", "fr")


def test_samples_cover_the_states_a_designer_checks() -> None:
    samples = {s.name: s.state for s in sample_states()}
    assert tuple(samples) == SAMPLES
    assert samples["planned"].windows, "a planned window (what is affected)"
    assert samples["unplanned"].kind == "unplanned"
    assert samples["unplanned"].eta is None
    assert samples["eta-point"].eta_earliest == samples["eta-point"].eta_latest
    eta_range = samples["eta-range"]
    assert eta_range.eta_earliest is not None
    assert eta_range.eta_latest is not None
    assert eta_range.eta_earliest < eta_range.eta_latest
    overrun = samples["overrun"].eta_latest
    assert overrun is not None
    assert overrun < sample_states()[0].state.windows[0].end_latest
    assert len(samples["updates"].updates) == 3
    assert samples["minimal"].reason is None
    revised = samples["overrun-revised"]
    assert revised.eta_revised_at is not None
    assert revised.eta_latest is not None
    assert revised.windows[0].end_latest < revised.eta_latest  # past the plan, a new estimate
    # The operator's texts in French too, so the French previews show a French page.
    assert samples["planned"].translations["fr"].reason == (
        "Nous mettons à niveau notre système de paiement pour accélérer la commande."
    )
    assert samples["planned"].windows[0].translations["fr"].affected[0] == "Commande et paiement"


def test_out_writes_every_state_in_every_locale(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "previews"
    assert main(["preview", "--out", str(out), "--site-name", "Acme"]) == 0
    assert f"Wrote {len(SAMPLES) * len(LOCALES) * 2 + 1} files" in capsys.readouterr().out
    names = {p.name for p in out.iterdir()}
    expected = {f"{s}.{loc}.{ext}" for s in SAMPLES for loc in LOCALES for ext in ("html", "txt")}
    assert names == expected | {"index.html"}
    index = (out / "index.html").read_text("utf-8")
    links = set(re.findall(r'href="([^"]+)"', index))
    assert links == expected
    assert "Acme est en maintenance planifiée" in (out / "planned.fr.html").read_text("utf-8")
    assert "Sin servicio desde" in (out / "unplanned.es.txt").read_text("utf-8")
    overrun = (out / "overrun.de.html").read_text("utf-8")
    assert "Das dauert länger als geplant." in overrun


def test_options_file_and_flags(tmp_path: Path) -> None:
    options = tmp_path / "page.json"
    options.write_text(
        json.dumps(
            {
                "site_name": "From the file",
                "tone": "neutral",
                "brand": {"accent": "#0b6e4f"},
                "time_zones": ["Asia/Tokyo"],
            }
        ),
        encoding="utf-8",
    )
    out = tmp_path / "out"
    argv = ["preview", "--out", str(out), "--options", str(options), "--locale", "fr"]
    assert main([*argv, "--site-name", "Flag wins", "--time-zone", "Europe/Paris"]) == 0
    assert {p.name.split(".")[1] for p in out.iterdir() if p.name != "index.html"} == {"fr"}
    page = (out / "eta-point.fr.html").read_text("utf-8")
    assert "Flag wins" in page
    assert "heure de Paris" in page
    assert "Tokyo" not in page  # --time-zone replaces the file's list
    assert "#0b6e4f" in page
    assert "travaux programmés" in page  # tone from the file


def test_sample_extras_fill_in_contacts_and_links_unless_refused(tmp_path: Path) -> None:
    main(["preview", "--out", str(tmp_path / "a"), "--locale", "en"])
    main(["preview", "--out", str(tmp_path / "b"), "--locale", "en", "--no-sample-extras"])
    assert "support@example.com" in (tmp_path / "a" / "minimal.en.html").read_text("utf-8")
    assert "Need help?" not in (tmp_path / "b" / "minimal.en.html").read_text("utf-8")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        pytest.param(["preview"], "one of the arguments --out --serve is required", id="where"),
        pytest.param(["preview", "--out", "x", "--serve"], "not allowed with", id="both"),
        pytest.param(
            ["preview", "--out", "x", "--time-zone", "Mars/Base"], "IANA time zone", id="zone"
        ),
        pytest.param(["preview", "--out", "x", "--locale", "xx"], "not a locale", id="locale"),
        pytest.param(
            ["preview", "--out", "x", "--template-dir", "/nonexistent"], "not a directory", id="dir"
        ),
    ],
)
def test_usage_mistakes(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_bad_options_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.json"
    for content, message in (("{nope", "is not valid JSON"), ("[1]", "must hold a JSON object")):
        bad.write_text(content, encoding="utf-8")
        assert main(["preview", "--out", str(tmp_path / "o"), "--options", str(bad)]) == 2
        assert message in capsys.readouterr().err
    bad.write_text('{"brand": {"accent": "pink"}}', encoding="utf-8")
    assert main(["preview", "--out", str(tmp_path / "o"), "--options", str(bad)]) == 2
    assert "option 'brand.accent'" in capsys.readouterr().err


# -- served ------------------------------------------------------------------------------------


@pytest.fixture
def templates(tmp_path: Path) -> Path:
    folder = tmp_path / "templates"
    folder.mkdir()
    (folder / "maintenance.html").write_text(
        '{% extends "default/maintenance.html" %}\n'
        "{% block heading %}<h1>Version one</h1>{% endblock %}\n",
        encoding="utf-8",
    )
    return folder


@pytest.fixture
def server(templates: Path) -> Iterator[PreviewServer]:
    started = serve({"template_dir": templates, "site_name": "Acme"}, port=0)
    yield started
    started.shutdown()
    started.server_close()


def test_served_pages_are_the_real_503(server: PreviewServer) -> None:
    assert server.url.startswith("http://127.0.0.1:")
    index = httpx.get(server.url)
    assert index.status_code == 200
    assert "planned.fr.html" in index.text
    page = httpx.get(server.url + "planned.en.html")
    assert page.status_code == 503
    assert page.headers["cache-control"] == "no-store"
    assert page.headers["content-language"] == "en"
    assert page.headers["retry-after"] == "300"
    assert page.headers["x-content-type-options"] == "nosniff"
    csp = page.headers["content-security-policy"]
    scripts = re.findall(r"<script[^>]*>(.*?)</script>", page.text, re.DOTALL)
    assert len(scripts) == 2  # the page's own, and the preview's reload
    for script in scripts:
        digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in csp
    assert "Version one" in page.text
    head = httpx.head(server.url + "planned.en.html")
    assert head.status_code == 503
    assert head.content == b""
    assert head.headers["content-length"] == page.headers["content-length"]
    text = httpx.get(server.url + "updates.de.txt")
    assert text.status_code == 503
    assert text.headers["content-type"] == "text/plain; charset=utf-8"
    assert httpx.get(server.url + "nope.en.html").status_code == 404
    assert httpx.get(server.url + "planned.it.html").status_code == 404


def test_served_pages_follow_template_changes(server: PreviewServer, templates: Path) -> None:
    version = httpx.get(server.url + "__preview__/version").text
    page = templates / "maintenance.html"
    time.sleep(0.01)
    page.write_text(page.read_text("utf-8").replace("Version one", "Version two"), "utf-8")
    assert httpx.get(server.url + "__preview__/version").text != version
    assert "Version two" in httpx.get(server.url + "planned.en.html").text
    # A broken template is reported on the page, and fixing it recovers.
    page.write_text("{% block heading %}{% endblock", encoding="utf-8")
    broken = httpx.get(server.url + "planned.en.html")
    assert broken.status_code == 500
    assert "maintenance.html: line 1" in broken.text
    page.write_text("<!doctype html><title>x</title><p>Version three</p>", encoding="utf-8")
    assert "Version three" in httpx.get(server.url + "planned.en.html").text
