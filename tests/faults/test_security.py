"""security: who may send mentions, who may read the API, and what never leaks.

- Webhook requests with a missing, wrong, tampered or replayed (stale timestamp) signature, or a
  wrong bearer token, are refused with a JSON 401 and store nothing (a real webhook source in
  the real pipeline, real sockets, a real SQLite store).
- Every secret comparison goes through `hmac.compare_digest` (counted at run time, and no `==`
  on a revealed secret anywhere in the code).
- Secrets never appear in logs, error output, the API, the metrics or the CLI: a real
  `sentineld run` holds a webhook token, a signing secret, a Slack webhook URL, an SMTP password,
  a notifier bearer token and an API token, all from the environment, while its notifiers fail,
  bad webhook requests come in, a listener cannot bind and the API is read with and without the
  token; `sentineld check` is given secrets written in the file itself.
- The HTTP side and the webhook listener bind to loopback by default: in the code, in the
  shipped and starter configs, and on the listening sockets of a running daemon.
- Everything beyond /healthz and /readyz (and the dashboard's static shell) needs the token.
"""

from __future__ import annotations

import ast
import asyncio
import hmac
import io
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import aiohttp
import pytest
import tomli_w

from sentineld.config import load_config
from sentineld.pipeline import Pipeline
from sentineld.store import open_store
from sentineld.store.worker import StoreWorker
from sentineld_plugins.sources.webhook.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign, signed_headers
from tests.faults.fuzz_support import StandIn
from tests.running import DaemonProcess, wait_until

REPO = Path(__file__).resolve().parents[2]
TOKEN = "hook-bearer-Q7w"
SIGNING = "hook-signing-Z9k"


def mention(n: int, text: str = "@acme lost my bag", author: str = "jo") -> dict[str, Any]:
    return {"id": f"crm:{n}", "source": "crm", "created_at": "2026-11-24T09:15:02Z", "text": text,
            "author": {"id": author, "handle": author}}


# --------------------------------------------------------------------------- webhook authentication


@dataclass
class Hook:
    url: str
    store: StoreWorker
    session: aiohttp.ClientSession

    async def post(self, body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, str], Any]:
        async with self.session.post(self.url, data=body,
                                     headers={"Content-Type": "application/json", **headers}) as response:
            return response.status, dict(response.headers), await response.json(content_type=None)

    async def stored(self) -> int:
        return await self.store.call("count_mentions")


@pytest.fixture
async def hook(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Hook]:
    monkeypatch.setenv("SEC_HOOK_TOKEN", TOKEN)
    monkeypatch.setenv("SEC_HOOK_SIGNING", SIGNING)
    config = load_config(text=tomli_w.dumps({
        "sentineld": {"state_dir": str(tmp_path / "state")},
        "watch": {"brand": ["acme"]},
        "sources": {"hook": {"type": "webhook", "listen": "127.0.0.1:0", "replay_window": "1m",
                             "token": {"env": "SEC_HOOK_TOKEN"}, "signing_secret": {"env": "SEC_HOOK_SIGNING"}}},
    }), entry_points=False)
    worker = StoreWorker(open_store(config.state_dir))
    pipeline = Pipeline(config, worker, live=True, notify=False)
    await pipeline.start()
    source: Any = pipeline.sources[0].component
    deadline = time.monotonic() + 10
    while not source.addresses and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    try:
        async with aiohttp.ClientSession() as session:
            yield Hook(f"http://{source.addresses[0]}/ingest", worker, session)
    finally:
        await pipeline.stop()
        worker.close()


async def refused(hook: Hook, body: bytes, headers: dict[str, str], error: str, says: str) -> None:
    status, response_headers, answer = await hook.post(body, headers)
    assert status == 401, answer
    assert answer["error"] == error and says in answer["message"], answer
    assert response_headers["WWW-Authenticate"].startswith("Bearer")
    assert response_headers["Content-Type"].startswith("application/json")
    assert await hook.stored() == 0


async def test_missing_signature_rejected(hook: Hook) -> None:
    await refused(hook, json.dumps(mention(1)).encode(), {}, "unauthorized", "authenticate with")


async def test_signature_without_timestamp_rejected(hook: Hook) -> None:
    body = json.dumps(mention(1)).encode()
    headers = signed_headers(SIGNING, body)
    del headers[TIMESTAMP_HEADER]
    await refused(hook, body, headers, "bad_signature", "send both")


async def test_wrong_signature_rejected(hook: Hook) -> None:
    body = json.dumps(mention(1)).encode()
    await refused(hook, body, signed_headers("not-the-secret", body), "bad_signature", "does not match")


async def test_tampered_body_rejected(hook: Hook) -> None:
    body = json.dumps(mention(1)).encode()
    headers = signed_headers(SIGNING, body)
    await refused(hook, body.replace(b"lost", b"found"), headers, "bad_signature", "does not match")


async def test_stale_signature_rejected(hook: Hook) -> None:
    """A captured request replayed after the replay window (1 minute here)."""
    body = json.dumps(mention(1)).encode()
    captured = signed_headers(SIGNING, body, timestamp=int(time.time()) - 61)
    await refused(hook, body, captured, "bad_signature", "within 60s")


async def test_future_timestamp_rejected(hook: Hook) -> None:
    body = json.dumps(mention(1)).encode()
    await refused(hook, body, signed_headers(SIGNING, body, timestamp=int(time.time()) + 61),
                  "bad_signature", "within 60s")


async def test_replayed_request_rejected_once_the_window_has_passed(hook: Hook, monkeypatch: pytest.MonkeyPatch) -> None:
    """The very bytes of a request that was accepted, sent again later: refused, and the second
    mention it carries (smuggled into a signed array) is never stored."""
    body = json.dumps([mention(1), mention(2)]).encode()
    headers = signed_headers(SIGNING, body)
    status, _, answer = await hook.post(body, headers)
    assert (status, answer["new"]) == (202, 2)
    later = time.time() + 61
    monkeypatch.setattr("sentineld_plugins.sources.webhook.signing.time.time", lambda: later)
    status, _, answer = await hook.post(body, headers)
    assert status == 401 and answer["error"] == "bad_signature"
    other = json.dumps([mention(3)]).encode()
    status, _, _ = await hook.post(other, {**headers, SIGNATURE_HEADER: sign(SIGNING, headers[TIMESTAMP_HEADER], other)})
    assert status == 401
    assert await hook.stored() == 2


@pytest.mark.parametrize("value", [f"Bearer {TOKEN}x", f"Bearer {TOKEN[:-1]}", "Bearer ", f"Basic {TOKEN}",
                                   TOKEN, f"Bearer {SIGNING}"])
async def test_wrong_bearer_token_rejected(hook: Hook, value: str) -> None:
    body = json.dumps(mention(1)).encode()
    status, response_headers, answer = await hook.post(body, {"Authorization": value})
    assert status == 401 and answer["error"] == "unauthorized", answer
    assert response_headers["WWW-Authenticate"].startswith("Bearer")
    assert await hook.stored() == 0


async def test_wrong_bearer_token_is_not_rescued_by_a_valid_signature(hook: Hook) -> None:
    body = json.dumps(mention(1)).encode()
    headers = {**signed_headers(SIGNING, body), "Authorization": "Bearer nope"}
    status, _, answer = await hook.post(body, headers)
    assert status == 401 and await hook.stored() == 0, answer


# --------------------------------------------------------------------------- constant time


async def test_secrets_are_compared_in_constant_time(hook: Hook, monkeypatch: pytest.MonkeyPatch) -> None:
    """Counted at run time: the bearer token, the webhook signature and the API token all go
    through `hmac.compare_digest`."""
    from sentineld.http.auth import TokenAuth

    calls: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def counting(a: Any, b: Any) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", counting)
    body = json.dumps(mention(1)).encode()
    await hook.post(body, {"Authorization": "Bearer wrong"})
    assert any(TOKEN.encode() in pair for pair in calls), "the bearer token was not compared by compare_digest"
    calls.clear()
    await hook.post(body, signed_headers("wrong", body))
    assert calls, "the signature was not compared by compare_digest"
    calls.clear()
    auth = TokenAuth("api-token")
    assert not auth.allowed(SimpleNamespace(headers={"Authorization": "Bearer api-tokex"}, cookies={}))
    assert not auth.allowed(SimpleNamespace(headers={}, cookies={"sentineld_session": "forged"}))
    assert len(calls) == 2


def test_no_revealed_secret_is_compared_with_equals() -> None:
    """Read the source: `==`/`!=` next to `.reveal()` would leak a secret's length and prefix
    through timing; every built-in must use `hmac.compare_digest`."""
    offenders = []
    for path in [*REPO.joinpath("sentineld").rglob("*.py"), *REPO.joinpath("plugins").rglob("*.py")]:
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Compare) and any(isinstance(op, ast.Eq | ast.NotEq) for op in node.ops):
                sides = [node.left, *node.comparators]
                if any(isinstance(side, ast.Call) and isinstance(side.func, ast.Attribute)
                       and side.func.attr == "reveal" for side in sides):
                    offenders.append(f"{path.relative_to(REPO)}:{node.lineno}")
    assert not offenders, offenders


# --------------------------------------------------------------------------- tracebacks


def test_exception_logs_never_show_local_variables() -> None:
    """A component that fails while a revealed secret sits in a local variable: the JSON log's
    traceback names the frames but never their locals."""
    from sentineld.logs import configure_logging

    import structlog

    saved = structlog.get_config()
    stream = io.StringIO()
    configure_logging("info", "json", stream)

    def deliver(password: str) -> None:
        url = f"https://hooks.example/services/{password}"
        raise ConnectionError(f"cannot connect ({len(url)} bytes of URL)")

    try:
        deliver("very-secret-smtp-password")
    except ConnectionError as exc:
        structlog.get_logger("sentineld").error("component call failed", exc_info=exc)
    finally:
        structlog.configure(**saved)
    output = stream.getvalue()
    assert "component call failed" in output and "deliver" in output  # the traceback is there
    assert "very-secret-smtp-password" not in output, output


# --------------------------------------------------------------------------- secrets in a real daemon

SECRETS = {
    "SEC_WEBHOOK_TOKEN": "whtok-3f9a7c1e5b",
    "SEC_WEBHOOK_SIGNING": "whsig-8b2d4e6f0a",
    "SEC_SMTP_PASSWORD": "smtppw-2a4c6e8f1d",
    "SEC_NOTIFY_BEARER": "ntfbr-1d3f5b7a9c",
    "SEC_HTTP_TOKEN": "apitok-9e8d7c6b5a",
}
SLACK_PATH = "/services/T0SEC/B0SEC/slackpath-5c7e9a1b3d"
INLINE = "inline-apitok-0f1e2d3c"  # pasted into the file by mistake, then reloaded

DAEMON_CONFIG = """
[sentineld]
state_dir = "state"
log_level = "debug"
checkpoint_interval = "200ms"

[watch]
brand = ["acme", "@acme"]
watchlist = ["vip.example"]

[sources.hook]
type = "webhook"
listen = "127.0.0.1:{hook_port}"
token = {{ env = "SEC_WEBHOOK_TOKEN" }}
signing_secret = {{ env = "SEC_WEBHOOK_SIGNING" }}

## A listener whose port is taken: the source fails and is restarted, its traceback logged.
[sources.blocked]
type = "webhook"
listen = "127.0.0.1:{taken_port}"
token = {{ env = "SEC_WEBHOOK_TOKEN" }}

[scorers.mood]
type = "sentiment"

[triggers.vip]
type = "influencer_mention"
sentiment = "any"

[notifiers.slack]
type = "slack"
webhook_url = {{ env = "SEC_SLACK_URL" }}

[notifiers.mail]
type = "email"
host = "127.0.0.1"
port = {smtp_port}
security = "none"
sender = "sentineld@acme.example"
to = ["care@acme.example"]
username = "care"
password = {{ env = "SEC_SMTP_PASSWORD" }}

[notifiers.relay]
type = "webhook"
url = "{stand_in}/relay"
bearer_token = {{ env = "SEC_NOTIFY_BEARER" }}
secret = {{ env = "SEC_WEBHOOK_SIGNING" }}

[outbox]
initial_backoff = "100ms"
max_backoff = "300ms"

[http]
enabled = true
port = 0
token = {{ env = "SEC_HTTP_TOKEN" }}
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Daemon:
    """`python -m sentineld run` with stdout and stderr kept whole, for grepping."""

    def __init__(self, config: Path, env: dict[str, str]) -> None:
        self.stdout = config.parent / "stdout.log"
        self.stderr = config.parent / "stderr.log"
        full_env = {k: v for k, v in os.environ.items() if k not in ("NOTIFY_SOCKET", "SENTINELD_CONFIG")}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "sentineld", "run", "-c", str(config)], cwd=config.parent,
            env={**full_env, **env}, stdout=self.stdout.open("wb"), stderr=self.stderr.open("wb"),
        )

    def records(self) -> list[dict[str, Any]]:
        found = []
        for line in self.stderr.read_text(errors="replace").splitlines():
            if line.startswith("{"):
                try:
                    found.append(json.loads(line))
                except ValueError:
                    continue
        return found

    def logged(self, event: str, **fields: Any) -> list[dict[str, Any]]:
        return [r for r in self.records() if r.get("event") == event
                and all(r.get(k) == v for k, v in fields.items())]

    def wait_for(self, event: str, timeout: float = 30.0, **fields: Any) -> dict[str, Any]:
        def found() -> Any:
            assert self.proc.poll() is None, self.stderr.read_text()[-3000:]
            return (self.logged(event, **fields) or [None])[0]

        return wait_until(found, timeout=timeout)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def http(method: str, url: str, *, token: str | None = None, body: bytes | None = None,
         headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def api_paths() -> list[str]:
    """Every route the HTTP side serves, with a stand-in value for each variable part."""
    from sentineld.http.api import build_app

    app = build_app(SimpleNamespace())  # type: ignore[arg-type]
    paths = []
    for resource in app.router.resources():
        info = resource.get_info()
        path = info.get("path") or info.get("formatter") or info.get("prefix", "")
        paths.append(path.replace("{id:.+}", "x").replace("{id}", "x").replace("{source_id}", "hook"))
    return sorted(set(paths))


@dataclass
class Receivers:
    stand_in: StandIn
    smtp_port: int


@pytest.fixture
def receivers() -> Iterator[Receivers]:
    """A Slack stand-in that answers 500, a webhook receiver that answers 401, and an SMTP
    server that refuses every login."""
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult

    class Accept:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            return "250 OK"

    def refuse(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
        return AuthResult(success=False, handled=False)

    stand_in = StandIn()
    stand_in.answer("/services/", b"server_error", status=500, content_type="text/plain")
    stand_in.answer("/relay", b'{"error": "unauthorized"}', status=401)
    port = free_port()
    smtp = Controller(Accept(), hostname="127.0.0.1", port=port, authenticator=refuse,
                      auth_required=True, auth_require_tls=False)
    smtp.start()
    try:
        yield Receivers(stand_in, port)
    finally:
        smtp.stop()
        stand_in.close()


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_secret_never_logged_served_or_printed(tmp_path: Path, receivers: Receivers) -> None:
    hook_port = free_port()
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    config = tmp_path / "sentineld.toml"
    config.write_text(DAEMON_CONFIG.format(
        hook_port=hook_port, taken_port=taken.getsockname()[1], smtp_port=receivers.smtp_port,
        stand_in=receivers.stand_in.url))
    env = {**SECRETS, "SEC_SLACK_URL": receivers.stand_in.url + SLACK_PATH}
    secrets = [*SECRETS.values(), SLACK_PATH.rsplit("/", 1)[-1], INLINE]
    daemon = Daemon(config, env)
    seen: list[tuple[str, bytes]] = []  # (what, output) of everything the outside can read
    try:
        base = daemon.wait_for("http listening")["url"].rstrip("/")
        daemon.wait_for("webhook listening", component="hook")
        ingest = f"http://127.0.0.1:{hook_port}/ingest"
        # Bad webhook requests, each refused and logged.
        body = json.dumps(mention(1, "@acme my flight was cancelled, awful", author="vip.example")).encode()
        json_type = {"Content-Type": "application/json"}
        for headers in ({"Authorization": "Bearer not-the-token"},
                        signed_headers("not-the-secret", body),
                        signed_headers(SECRETS["SEC_WEBHOOK_SIGNING"], body, timestamp=int(time.time()) - 3600)):
            status, answer = http("POST", ingest, body=body, headers={**json_type, **headers})
            assert status == 401
            seen.append((f"webhook refusal {headers}", answer))
        status, answer = http("POST", ingest, body=b'{"id": ', token=SECRETS["SEC_WEBHOOK_TOKEN"], headers=json_type)
        assert status == 400
        seen.append(("webhook 400", answer))
        # An influencer's mention: an alert, then three notifiers that fail.
        status, answer = http("POST", ingest, body=body, headers={**json_type, **signed_headers(SECRETS["SEC_WEBHOOK_SIGNING"], body)})
        assert status == 202, answer
        daemon.wait_for("delivery failed, will retry", destination="slack")
        daemon.wait_for("delivery dead-lettered", destination="mail")
        daemon.wait_for("delivery dead-lettered", destination="relay")
        daemon.wait_for("source failed; restarting", component="blocked")
        assert daemon.logged("malformed payload skipped")
        # The API, the metrics and the health endpoints, without, with a wrong and with the token.
        status, alerts = http("GET", base + "/api/alerts", token=SECRETS["SEC_HTTP_TOKEN"])
        assert status == 200 and json.loads(alerts)["items"], alerts
        alert_id = json.loads(alerts)["items"][0]["id"]
        paths = [p for p in api_paths() if not p.startswith(("/static", "/ingest"))]
        paths += [f"/api/alerts/{alert_id}", "/api/mentions/crm:1", "/api/outbox"]
        for path in paths:
            for token in (None, "wrong-token", SECRETS["SEC_HTTP_TOKEN"]):
                if path == "/api/events":
                    continue  # a stream that never ends; its frames are the alerts served above
                status, answer = http("GET", base + path, token=token)
                seen.append((f"GET {path} token={token is not None}", answer))
        # The CLI that reads the same store.
        for command in (["outbox", "--dead", "--json"], ["outbox"], ["alerts", "--json"], ["check"]):
            done = subprocess.run([sys.executable, "-m", "sentineld", *command, "-c", str(config)],
                                  cwd=tmp_path, env={**os.environ, **env}, capture_output=True, timeout=60)
            seen.append((f"sentineld {' '.join(command)}", done.stdout + done.stderr))
        # A reload with a secret pasted into the file: rejected, the running config stays.
        pasted = config.read_text().replace('token = { env = "SEC_HTTP_TOKEN" }', f'token = "{INLINE}"')
        assert INLINE in pasted
        config.write_text(pasted)
        daemon.proc.send_signal(signal.SIGHUP)
        daemon.wait_for("reload rejected; the running configuration stays")
        dead = next(answer for what, answer in seen if what == "sentineld outbox --dead --json")
        assert b"535" in dead and b"401" in dead, dead  # the failures really are in there
        assert SLACK_PATH in receivers.stand_in.paths  # the secrets were in use
    finally:
        daemon.stop()
        taken.close()
    seen.append(("daemon stderr", daemon.stderr.read_bytes()))
    seen.append(("daemon stdout", daemon.stdout.read_bytes()))
    assert len(daemon.records()) > 20
    leaks = [(what, secret) for what, output in seen for secret in secrets if secret.encode() in output]
    assert not leaks, leaks


@pytest.mark.parametrize(("table", "option", "inline"), [
    ("sources.hook", "token", "inline-hook-token-4d2f"),
    ("notifiers.slack", "webhook_url", "https://hooks.slack.com/services/T1/B1/inline-slack-7a9c"),
    ("notifiers.mail", "password", "inline-smtp-password-3e1b"),
    ("http", "token", "inline-api-token-6c8d"),
])
def test_secret_written_in_the_config_is_refused_without_echoing_it(
    tmp_path: Path, table: str, option: str, inline: str
) -> None:
    """`sentineld check` (and `run`) on a config with a secret pasted into the file: a clear
    error naming the key, and the value appears nowhere in the output."""
    tables: dict[str, Any] = {
        "sources": {"hook": {"type": "webhook", "listen": "", "token": {"env": "SEC_WEBHOOK_TOKEN"}}},
        "notifiers": {
            "slack": {"type": "slack", "webhook_url": {"env": "SEC_SLACK_URL"}},
            "mail": {"type": "email", "host": "127.0.0.1", "sender": "s@acme.example", "to": ["c@acme.example"],
                     "username": "care", "password": {"env": "SEC_SMTP_PASSWORD"}},
        },
        "http": {"enabled": True, "port": 0, "token": {"env": "SEC_HTTP_TOKEN"}},
    }
    where = tables
    for part in table.split("."):
        where = where[part]
    where[option] = inline
    config = tmp_path / "sentineld.toml"
    config.write_text(tomli_w.dumps(tables))
    env = {**os.environ, **SECRETS, "SEC_SLACK_URL": "https://hooks.slack.com/services/T/B/from-env"}
    for command in ("check", "run"):
        done = subprocess.run([sys.executable, "-m", "sentineld", command, "-c", str(config)], cwd=tmp_path,
                              env=env, capture_output=True, timeout=60)
        output = done.stdout + done.stderr
        assert done.returncode != 0, output
        assert f"{table}.{option}".encode() in output and b"secret" in output, output
        assert inline.encode() not in output, output
        for value in SECRETS.values():
            assert value.encode() not in output, output


# --------------------------------------------------------------------------- loopback by default


def test_default_bind_is_loopback_in_code_and_configs() -> None:
    from sentineld.config import embedded_default_text
    from sentineld.http.options import HttpOptions
    from sentineld.options import Secret
    from sentineld.starter import starter_config
    from sentineld_plugins.sources.webhook import WebhookOptions

    assert HttpOptions().listen == "127.0.0.1"
    assert WebhookOptions(token=Secret("x", "test")).listen.rpartition(":")[0] == "127.0.0.1"
    for label, text in (("repository sentineld.toml", (REPO / "sentineld.toml").read_text()),
                        ("embedded sentineld.toml", embedded_default_text()),
                        ("sentineld init", starter_config("acme"))):
        config = load_config(text=text, entry_points=False)
        assert config.section("http").listen == "127.0.0.1", label
        for spec in config.components["source"].values():
            if spec.type_name == "webhook" and spec.options.listen:
                assert spec.options.listen.rpartition(":")[0] in ("127.0.0.1", "[::1]", "localhost"), label


def listening_addresses(pid: int) -> list[tuple[str, int]]:
    """(address, port) of every TCP socket the process listens on, from /proc."""
    import ipaddress

    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[len("socket:["):-1])
    found = []
    for table in ("tcp", "tcp6"):
        path = Path(f"/proc/{pid}/net/{table}")
        if not path.exists():
            continue
        for line in path.read_text().splitlines()[1:]:
            fields = line.split()
            local, state, inode = fields[1], fields[3], fields[9]
            if state != "0A" or inode not in inodes:  # 0A: LISTEN
                continue
            address, port = local.split(":")
            raw = bytes.fromhex(address)
            # The kernel prints each 32-bit word of the address in host (little-endian) order.
            packed = b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))
            found.append((str(ipaddress.ip_address(packed)), int(port, 16)))
    return found


@pytest.fixture(scope="module")
def shipped_daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Daemon, str, str]]:
    """The shipped configuration, run as is, with a webhook source on its default listener and
    the HTTP side on a free port (the only change)."""
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", 8787))
        except OSError:
            pytest.fail("port 8787 (the webhook's default listener) is taken on this machine")
    directory = tmp_path_factory.mktemp("shipped")
    text = (REPO / "sentineld.toml").read_text()
    text = text.replace("\n[http]\n", "\n[sources.hook]\ntype = \"webhook\"\ntoken = { env = \"SEC_WEBHOOK_TOKEN\" }\n"
                                      "\n[http]\nport = 0\n", 1)
    config = directory / "sentineld.toml"
    config.write_text(text)
    daemon = Daemon(config, {"SEC_WEBHOOK_TOKEN": TOKEN})
    try:
        url = daemon.wait_for("http listening")["url"].rstrip("/")
        daemon.wait_for("webhook listening", component="hook")
        token = (directory / "state" / "http-token").read_text().strip()
        yield daemon, url, token
    finally:
        daemon.stop()


@pytest.mark.slow
def test_listening_sockets_are_loopback_only(shipped_daemon: tuple[Daemon, str, str]) -> None:
    daemon, url, _ = shipped_daemon
    found = listening_addresses(daemon.proc.pid)
    ports = {port for _, port in found}
    assert 8787 in ports and int(url.rsplit(":", 1)[1]) in ports, found
    assert all(address in ("127.0.0.1", "::1") for address, _ in found), found


@pytest.mark.slow
def test_api_requires_token(shipped_daemon: tuple[Daemon, str, str]) -> None:
    """Every route but the health checks, the sign-in, the dashboard's static shell and webhook
    ingest answers a JSON 401 without the token, with a wrong one, and through path tricks."""
    _, base, token = shipped_daemon
    public = {"/", "/healthz", "/readyz", "/api/session", "/favicon.ico"}
    guarded = [p for p in api_paths() if p not in public and not p.startswith(("/static", "/ingest"))]
    assert {"/api/alerts", "/api/mentions", "/metrics", "/api/status"} <= set(guarded), guarded
    for path in guarded:
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {token}"},
                        {"Cookie": "sentineld_session=forged"}, {"Authorization": f"Bearer {token}x"}):
            status, answer = http("GET", base + path, headers=headers)
            assert status == 401, (path, headers, status, answer[:200])
            assert json.loads(answer)["error"], answer
        status, _ = http("GET", base + path.replace("/api/events", "/api/status"), token=token)
        assert status != 401, path
    for trick in ("/static/..%2Fapi/alerts", "/static/%2e%2e/api/alerts", "/ingest/../api/alerts",
                  "/healthz/../api/alerts", "//api/alerts", "/api/alerts/", "/API/alerts", "/api/alerts?x=/healthz",
                  "/healthz%2F..%2Fapi%2Falerts"):
        status, answer = http("GET", base + trick)
        assert status in (400, 401, 403, 404), (trick, status, answer[:200])
        assert b'"items"' not in answer, trick
    status, answer = http("GET", base + "/healthz")
    assert status == 200
    status, answer = http("GET", base + "/readyz")
    ready = json.loads(answer)
    assert all("error" not in row for row in ready["sources"]), ready  # details only with the token
