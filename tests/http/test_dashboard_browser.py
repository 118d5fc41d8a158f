"""The dashboard in a real headless Chromium (Debian's `chromium`, driven by Playwright) against a
real `sentineld run`: the charts render with data, a new alert appears without a reload, mention
text stays text, and the case queue shows its state. Screenshots go to tests/artifacts/."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.running import DaemonProcess, append_lines, chatter, http_get, mention_line, wait_until

pytestmark = pytest.mark.slow

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
TOKEN = "browser-test-token"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]

CONFIG = """
[sentineld]
state_dir = "state"
checkpoint_interval = "200ms"
tick = "2s"

[watch]
brand = ["acme", "@acme"]
accounts = ["acme"]
competitors.rivaljet = ["rivaljet"]

[sources.inbox]
type = "jsonl"
path = "inbox.jsonl"
poll_interval = "50ms"

[scorers.mood]
type = "sentiment"

[scorers.reach]
type = "influence"

[cases]
first_response = "30m"

[triggers.buzz]
type = "volume_spike"
window = "1m"
warmup = "10m"
## A short test stream: a lenient tail probability so that its burst is unusual enough.
alpha = 1e-4
min_count = 8

[notifiers.log]
type = "file"
path = "alerts.jsonl"

[http]
enabled = true
port = 0
token = { env = "SENTINELD_BROWSER_TOKEN" }
"""

INJECTION = '<img src=x onerror="window.__pwned = 1">@acme lost my bag <b>again</b>'


def _browser():
    playwright_api = pytest.importorskip("playwright.sync_api")
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail("Debian's chromium is not installed (apt-get install chromium)")
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    return playwright_api


def wait_in_page(page, expression: str, timeout: float = 15.0) -> None:
    """Poll a JavaScript expression from here: Playwright's wait_for_function evaluates strings
    inside the page, which the dashboard's Content-Security-Policy (rightly) forbids."""
    wait_until(lambda: page.evaluate(expression), timeout=timeout, interval=0.1)


def canvas_ink(page, selector: str) -> int:
    """How many pixels of the chart's canvas are painted (0 for an empty chart)."""
    return page.eval_on_selector(
        selector,
        """(box) => {
            const canvas = box.querySelector('canvas');
            if (!canvas) return 0;
            const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
            let painted = 0;
            for (let i = 3; i < data.length; i += 4) if (data[i] > 0) painted++;
            return painted;
        }""",
    )


def test_dashboard_live_in_headless_chromium(tmp_path: Path) -> None:
    api = _browser()
    ARTIFACTS.mkdir(exist_ok=True)
    (tmp_path / "sentineld.toml").write_text(CONFIG)
    (tmp_path / "inbox.jsonl").touch()
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    start = now - timedelta(minutes=40)
    quiet = chatter(start, minutes=38, per_minute=3)
    append_lines(tmp_path / "inbox.jsonl", quiet)

    daemon = DaemonProcess(tmp_path / "sentineld.toml", env={"SENTINELD_BROWSER_TOKEN": TOKEN})
    try:
        url = daemon.url
        wait_until(lambda: json.loads(http_get(f"{url}/api/status", TOKEN)[1]).get("scored") == len(quiet))

        with api.sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1440, "height": 900})
            problems: list[str] = []
            page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
            page.on("console", lambda m: problems.append(m.text) if m.type == "error" and "501" not in m.text else None)

            page.goto(f"{url}/#token={TOKEN}")
            page.wait_for_selector("#volume-chart canvas")
            wait_in_page(page, "Number(document.querySelector('#volume-chart').dataset.total) > 0")
            assert "token" not in page.url  # the token left the address bar
            chart = page.eval_on_selector("#volume-chart", "e => ({...e.dataset})")
            assert int(chart["points"]) >= 30
            assert int(chart["total"]) >= len(quiet)  # each chatter line names @acme at least
            assert int(chart["series"]) >= 2  # brand and the competitor
            assert canvas_ink(page, "#volume-chart") > 2000
            assert canvas_ink(page, "#sentiment-chart") > 2000
            legend = page.inner_text("#volume-chart .u-legend")
            assert "brand" in legend and "competitor:rivaljet" in legend
            assert page.is_visible("#alerts-empty")
            assert page.inner_text("#stat-stored") == f"{len(quiet):,}"
            page.evaluate("window.__sameDocument = true")
            page.screenshot(path=str(ARTIFACTS / "dashboard-quiet.png"), full_page=True)

            burst_at = datetime.now(UTC)  # live: the clock ticks event time up to now
            burst = [
                mention_line(len(quiet) + k, burst_at + timedelta(seconds=k),
                             INJECTION if k % 2 == 0 else "@acme lost my bag, worst airline ever",
                             author=f"angry{k}")
                for k in range(30)
            ]
            append_lines(tmp_path / "inbox.jsonl", burst)

            page.wait_for_selector("#alerts li.alert", timeout=20_000)
            assert page.evaluate("window.__sameDocument") is True  # no reload happened
            first = page.locator("#alerts li.alert").first
            assert "volume spike" in first.inner_text()
            assert "brand" in first.inner_text()
            wait_in_page(page, "Number(document.querySelector('#volume-chart').dataset.markers) >= 1")
            assert int(page.inner_text("#stat-open")) >= 1

            # Acknowledged from the command line, as a teammate would: the detail says so.
            alert_id = first.get_attribute("data-id")
            acked = subprocess.run(
                [sys.executable, "-m", "sentineld", "ack", alert_id, "--by", "maya", "--note", "on it",
                 "-c", str(tmp_path / "sentineld.toml")], capture_output=True, text=True, timeout=60,
                env={**os.environ, "SENTINELD_BROWSER_TOKEN": TOKEN})
            assert acked.returncode == 0, acked.stderr
            first.locator("summary").click()
            first.locator(".evidence-mentions li").first.wait_for()
            evidence = first.inner_text()
            assert "observed" in evidence
            assert "Acknowledged by maya at " in evidence and ": on it" in evidence
            assert "<img src=x" in evidence  # shown as text…
            assert page.locator("#alerts img").count() == 0  # …never as markup
            assert page.evaluate("window.__pwned") is None

            # The case queue: customers who wrote to @acme, the most urgent first, each with a
            # first-response timer that counts on the page (30 min SLA: the oldest are overdue).
            page.locator("#cases tbody tr").first.wait_for()
            timers = page.locator("#cases .sla")
            assert timers.count() >= 5
            first_timer = timers.first.inner_text()
            assert first_timer.startswith("overdue ")
            assert page.locator("#cases .sla.breached").count() >= 1
            assert page.locator("#cases .sla.ok, #cases .sla.soon").count() >= 1
            page.wait_for_timeout(1500)
            assert timers.first.inner_text() != first_timer  # it ticks without the server
            assert not page.is_visible("#cases-empty")

            page.locator("#connectors li").first.wait_for()
            assert page.locator("#connectors li").count() >= 3
            assert page.locator("#mavens li").count() >= 1

            page.screenshot(path=str(ARTIFACTS / "dashboard-alert.png"), full_page=True)
            page.set_viewport_size({"width": 1280, "height": 800})
            page.screenshot(path=str(ARTIFACTS / "dashboard-laptop.png"))
            browser.close()
        assert problems == []
    finally:
        daemon.stop()
        if daemon.proc.returncode not in (0, None):
            shutil.copy(tmp_path / "sentineld.toml", ARTIFACTS / "failed-config.toml")
