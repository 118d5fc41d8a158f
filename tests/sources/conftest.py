"""Fixtures for source tests: a real core to run sources in, and a private Dovecot IMAP server.

`live_core` runs configured sources inside the real pipeline with a real SQLite store in the
test's temporary directory; the store survives between runs, so a test can stop the core and start
it again to check that a source resumes from its stored cursor.

`dovecot` starts a private Dovecot (Debian package ``dovecot-imapd``) on 127.0.0.1 at a free port,
with a Maildir, a passwd-file user and a self-signed certificate for IMAPS and STARTTLS. A missing
``dovecot`` binary fails the test: the IMAP source must be tested against a real server.
"""

from __future__ import annotations

import asyncio
import contextlib
import imaplib
import os
import grp
import pwd
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import tomli_w

from sentineld.config import Config, load_config
from sentineld.model import Mention
from sentineld.pipeline import Pipeline
from sentineld.store import open_store
from sentineld.store.worker import StoreWorker

# --------------------------------------------------------------------------- a live core


@dataclass
class Running:
    """A started pipeline: wait for stored mentions, read them and the stored cursors."""

    pipeline: Pipeline
    store: StoreWorker
    config: Config

    def source(self, source_id: str) -> Any:
        return next(g.component for g in self.pipeline.sources if g.id == source_id)

    async def count(self) -> int:
        return await self.store.call("count_mentions")

    async def wait_stored(self, count: int, timeout: float = 10.0) -> list[Mention]:
        """Wait until the store holds at least `count` mentions; return them in stored order."""
        deadline = time.monotonic() + timeout
        while await self.count() < count:
            if time.monotonic() > deadline:
                stored = await self.mentions()
                raise AssertionError(
                    f"expected {count} stored mentions within {timeout}s, got {len(stored)}: "
                    f"{[m.id for m in stored]}"
                )
            await asyncio.sleep(0.02)
        return await self.mentions()

    async def wait_for(self, predicate: Any, timeout: float = 10.0, what: str = "condition") -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout}s waiting for {what}")
            await asyncio.sleep(0.02)

    async def mentions(self) -> list[Mention]:
        rows = await self.store.call("recent_mentions", limit=100_000)
        return [mention for _, mention in reversed(rows)]

    async def cursor(self, source_id: str) -> str | None:
        return await self.store.call("cursor", source_id)


class LiveCore:
    """The real core in a directory; `running(sources)` starts it, leaving the store behind."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def config(self, sources: dict[str, dict[str, Any]]) -> Config:
        tables = {
            "sentineld": {"state_dir": str(self.directory / "state"), "checkpoint_interval": "1s"},
            "watch": {"brand": ["acme", "@acme"]},
            "sources": sources,
        }
        return load_config(text=tomli_w.dumps(tables), entry_points=False)

    @contextlib.asynccontextmanager
    async def running(self, sources: dict[str, dict[str, Any]]) -> AsyncIterator[Running]:
        config = self.config(sources)
        worker = StoreWorker(open_store(config.state_dir))
        pipeline = Pipeline(config, worker, live=True, notify=False)
        try:
            await pipeline.start()
            yield Running(pipeline, worker, config)
        finally:
            await pipeline.stop()
            worker.close()


@pytest.fixture
def live_core(tmp_path: Path) -> LiveCore:
    return LiveCore(tmp_path)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --------------------------------------------------------------------------- Dovecot

DOVECOT_PACKAGES = "dovecot-imapd (pulls in dovecot-core and openssl)"

DOVECOT_CONF = """\
protocols = imap
listen = 127.0.0.1
base_dir = {root}/run
state_dir = {root}/state
instance_name = sentineld-test-{port}
log_path = {root}/dovecot.log
default_login_user = {user}
default_internal_user = {user}
default_internal_group = {group}
ssl = yes
ssl_cert = <{root}/cert.pem
ssl_key = <{root}/key.pem
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:{root}/mail/%u
imap_idle_notify_interval = 1 mins
passdb {{
  driver = passwd-file
  args = {root}/passwd
}}
userdb {{
  driver = static
  args = uid={user} gid={group} home={root}/mail/%u
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    port = {port}
  }}
  inet_listener imaps {{
    port = {tls_port}
    ssl = yes
  }}
}}
service anvil {{
  chroot =
}}
"""


class Dovecot:
    """A private Dovecot: `deliver` APPENDs messages, `restart` drops every connection."""

    user = "support"
    password = "correct horse battery staple"
    host = "127.0.0.1"

    def __init__(self, root: Path) -> None:
        self.root = root
        self.port = free_port()
        self.tls_port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        if os.geteuid() == 0:
            # Dovecot never opens mail as root: the whole instance runs as an unprivileged user.
            self.run_as, self.run_group = "nobody", grp.getgrgid(pwd.getpwnam("nobody").pw_gid).gr_name
        else:
            self.run_as = pwd.getpwuid(os.geteuid()).pw_name
            self.run_group = grp.getgrgid(os.getegid()).gr_name

    @property
    def conf(self) -> Path:
        return self.root / "dovecot.conf"

    @property
    def ca_file(self) -> Path:
        return self.root / "cert.pem"

    def setup(self) -> None:
        binary = shutil.which("dovecot") or shutil.which("dovecot", path="/usr/sbin:/usr/local/sbin")
        if binary is None:
            pytest.fail(
                "the IMAP tests need a real Dovecot: install the Debian package "
                f"{DOVECOT_PACKAGES} (`apt-get install -y dovecot-imapd`)",
                pytrace=False,
            )
        self.binary = binary
        self.doveadm_binary = shutil.which("doveadm") or str(Path(binary).with_name("doveadm"))
        (self.root / "mail").mkdir(parents=True)
        (self.root / "run").mkdir()
        (self.root / "state").mkdir()
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
             "-keyout", str(self.root / "key.pem"), "-out", str(self.ca_file),
             "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
            check=True, capture_output=True,
        )
        (self.root / "passwd").write_text(f"{self.user}:{{PLAIN}}{self.password}::::::\n")
        self.conf.write_text(DOVECOT_CONF.format(
            root=self.root, port=self.port, tls_port=self.tls_port,
            user=self.run_as, group=self.run_group,
        ))
        if os.geteuid() == 0:
            uid, gid = pwd.getpwnam(self.run_as).pw_uid, grp.getgrnam(self.run_group).gr_gid
            for path in [self.root, *self.root.rglob("*")]:
                os.chown(path, uid, gid)
        self.root.chmod(0o755)

    def start(self) -> None:
        as_root = os.geteuid() == 0
        self.process = subprocess.Popen(
            [self.binary, "-F", "-c", str(self.conf)],
            user=self.run_as if as_root else None,
            group=self.run_group if as_root else None,
            extra_groups=[] if as_root else None,
            start_new_session=True,  # its own process group: stop() ends every child with it
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"dovecot exited at start: {self.log_text()}"
                                   f"{self.process.stderr.read().decode() if self.process.stderr else ''}")
            with contextlib.suppress(OSError), socket.create_connection((self.host, self.port), 0.2):
                return
            time.sleep(0.05)
        raise RuntimeError(f"dovecot did not listen on {self.port}: {self.log_text()}")

    def stop(self) -> None:
        """End the master and every process it started (a session process outlives the master
        otherwise, and its client would not notice the restart)."""
        if self.process is None:
            return
        group = self.process.pid
        with contextlib.suppress(ProcessLookupError):
            os.killpg(group, signal.SIGTERM)
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        deadline = time.monotonic() + 10
        while True:
            try:
                os.killpg(group, 0)
            except ProcessLookupError:
                break
            if time.monotonic() > deadline:
                os.killpg(group, signal.SIGKILL)
                deadline = time.monotonic() + 10
            time.sleep(0.05)
        if self.process.stderr:
            self.process.stderr.close()
        self.process = None

    def restart(self) -> None:
        """Stop and start again on the same ports: every client connection is cut."""
        self.stop()
        self.start()

    def log_text(self) -> str:
        path = self.root / "dovecot.log"
        return path.read_text() if path.exists() else ""

    # ------------------------------------------------------------------ mail

    def client(self) -> imaplib.IMAP4:
        client = imaplib.IMAP4(self.host, self.port, timeout=10)
        client.login(self.user, self.password)
        return client

    def deliver(
        self, *messages: bytes | str, mailbox: str = "INBOX", received: datetime | None = None
    ) -> list[int]:
        """APPEND raw RFC 5322 messages (with `received` as their INTERNALDATE); returns their
        UIDs."""
        uids = []
        client = self.client()
        try:
            for message in messages:
                raw = message.encode() if isinstance(message, str) else message
                raw = raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
                status, data = client.append(mailbox, None, received, raw)
                assert status == "OK", data
                text = data[0].decode()
                uids.append(int(text.split("APPENDUID ", 1)[1].split()[1].rstrip("]")))
        finally:
            client.logout()
        return uids

    def doveadm(self, *args: str) -> str:
        result = subprocess.run(
            [self.doveadm_binary, "-c", str(self.conf), *args], capture_output=True, text=True, timeout=30
        )
        if result.returncode != 0:
            raise RuntimeError(f"doveadm {' '.join(args)} failed: {result.stderr}")
        return result.stdout

    def uidvalidity(self, mailbox: str = "INBOX") -> int:
        out = self.doveadm("mailbox", "status", "-u", self.user, "uidvalidity", mailbox)
        return int(out.split("uidvalidity=")[1].split()[0])

    def set_uidvalidity(self, value: int, mailbox: str = "INBOX") -> None:
        """What a server does after its index is rebuilt: every UID of the mailbox is new."""
        self.doveadm("mailbox", "update", "-u", self.user, "--uid-validity", str(value), mailbox)

    def tls_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.ca_file))


@pytest.fixture
def dovecot() -> Iterator[Dovecot]:
    # Not under tmp_path: its parents are private to the test runner's user, and Dovecot runs
    # as an unprivileged user that must reach its mail directory.
    root = Path(tempfile.mkdtemp(prefix="sentineld-dovecot-"))
    server = Dovecot(root)
    try:
        server.setup()
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)
