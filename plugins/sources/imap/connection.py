"""One IMAP connection, synchronous (IMAPClient), meant to run on one worker thread.

The source calls these methods through a single-thread executor, so calls never overlap; `abort`
is the one method called from the event loop: it shuts the socket down, which makes a call
blocked in the worker (an IDLE wait) return at once.
"""

from __future__ import annotations

import socket
import ssl
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

#: Untagged IDLE responses that mean "the mailbox changed".
_NEWS = frozenset({b"EXISTS", b"RECENT"})


class ConnectionLost(ConnectionError):
    """The server closed the connection (BYE, or end of stream)."""


@dataclass(slots=True)
class Fetched:
    uid: int
    raw: bytes
    internal_date: datetime | None


def _read_ahead(client: Any) -> bool:
    """Whether the server's answers already wait in imaplib's read buffer (or in the TLS
    layer's), unseen by a poll of the socket. Never blocks."""
    sock = client.socket()
    timeout = sock.gettimeout()
    sock.settimeout(0.0)
    try:
        return bool(client._imap.file.peek(1))  # noqa: SLF001 - the buffer IMAPClient reads from
    except OSError:  # nothing to read now (a TLS socket says so with SSLWantReadError)
        return False
    finally:
        sock.settimeout(timeout)


class ImapConnection:
    def __init__(
        self,
        host: str,
        port: int,
        *,
        tls: str,
        username: str,
        password: str,
        mailbox: str,
        timeout: float,
        ca_file: str | None = None,
    ) -> None:
        self.host, self.port, self.tls = host, port, tls
        self.username, self.password, self.mailbox = username, password, mailbox
        self.timeout = timeout
        self.ca_file = ca_file
        self.client: Any = None
        self.uidvalidity = 0
        self.uidnext = 0
        self.can_idle = False

    def _tls_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=self.ca_file)

    def connect(self) -> None:
        """Connect, secure, log in and open the mailbox read-only (nothing is marked seen)."""
        from imapclient import IMAPClient

        self.client = IMAPClient(
            self.host,
            port=self.port,
            ssl=self.tls == "imaps",
            ssl_context=self._tls_context() if self.tls == "imaps" else None,
            timeout=self.timeout,
        )
        self.client.normalise_times = False  # aware datetimes for INTERNALDATE
        if self.tls == "starttls":
            self.client.starttls(self._tls_context())
        self.client.login(self.username, self.password)
        selected = self.client.select_folder(self.mailbox, readonly=True)
        self.uidvalidity = int(selected[b"UIDVALIDITY"])
        self.uidnext = int(selected.get(b"UIDNEXT") or 0)
        self.can_idle = self.client.has_capability("IDLE")

    def uids_after(self, uid: int) -> list[int]:
        """UIDs above `uid`, in order. (``UID n:*`` always matches the highest UID, even when it
        is below n: those are filtered out.)"""
        found = self.client.search(["UID", f"{uid + 1}:*"])
        return sorted(u for u in found if u > uid)

    def uid_before(self, since: date) -> int:
        """The UID to start after so as to read the messages received since `since` (a day:
        IMAP's SINCE compares dates, not times)."""
        found = self.client.search(["SINCE", since])
        return min(found) - 1 if found else self.last_uid()

    def last_uid(self) -> int:
        """The highest UID in the mailbox now (0 when it is empty)."""
        if self.uidnext:
            return self.uidnext - 1
        return max(self.client.search(["ALL"]) or [0])

    def fetch(self, uids: list[int], max_bytes: int) -> list[Fetched]:
        """The messages (at most `max_bytes` of each), without setting \\Seen."""
        section = f"BODY.PEEK[]<0.{max_bytes}>".encode()
        response = self.client.fetch(uids, [section, b"INTERNALDATE"])
        fetched = []
        for uid in sorted(response):
            data = response[uid]
            raw = data.get(b"BODY[]<0>") or data.get(b"BODY[]") or b""
            received = data.get(b"INTERNALDATE")
            if isinstance(received, datetime) and received.tzinfo is not None:
                received = received.astimezone(UTC)
            fetched.append(Fetched(uid, bytes(raw), received))
        return fetched

    def wait_idle(self, limit: float) -> bool:
        """IDLE until the mailbox changes (True) or `limit` seconds pass (False). Keep-alives
        (``* OK Still here``) are read and ignored. Ending IDLE waits for the server's answer
        (bounded by the socket timeout), which proves the connection alive."""
        client = self.client
        # A message that arrived since the last search would otherwise wait for the next
        # IDLE cycle: NOOP hands over the pending EXISTS first.
        _, pending = client.noop()
        if any(len(response) > 1 and response[1] in _NEWS for response in pending):
            return True
        client.idle()
        # The server may announce news in the same packet as IDLE's "+ idling" (Dovecot does
        # for a message that arrived after the NOOP). imaplib's buffered reader has then read
        # it already, and idle_check, which polls the socket, would not see it before the next
        # keep-alive or `limit`: take it as news, and let ending IDLE read it.
        news = _read_ahead(client)
        deadline = time.monotonic() + limit
        while not news and (remaining := deadline - time.monotonic()) > 0:
            started = time.monotonic()
            responses = client.idle_check(timeout=remaining)
            for response in responses:
                if response and response[0] == b"BYE":
                    raise ConnectionLost(f"server said BYE: {response[1:]!r}")
                news = news or (len(response) > 1 and response[1] in _NEWS)
            if not responses and time.monotonic() - started < remaining - 0.05:
                raise ConnectionLost("the server closed the connection during IDLE")
        client.idle_done()
        return news

    def noop(self) -> None:
        """Ask for news (new messages show up in a poll's next search)."""
        self.client.noop()

    def abort(self) -> None:
        """Cut the connection now (from any thread): a blocked call in the worker returns."""
        client = self.client
        if client is None:
            return
        try:
            client.socket().shutdown(socket.SHUT_RDWR)
        except (OSError, AttributeError):
            pass

    def close(self) -> None:
        client, self.client = self.client, None
        if client is None:
            return
        try:
            client.logout()
        except Exception:  # noqa: BLE001 - the connection is going away either way
            try:
                client.shutdown()
            except Exception:  # noqa: BLE001
                pass
