"""Email over IMAP: new messages of a mailbox (support@, care@) as mentions.

The cursor is the mailbox's UIDVALIDITY and the highest UID handed over. Messages are read
through IMAPClient on a worker thread (one per connection), the mailbox opened read-only, so
nothing is marked as read for the people who work in it.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from sentineld import ConfigPath, Duration, Options, Secret, Source, hookimpl
from sentineld.components import Emit

if TYPE_CHECKING:
    from sentineld.model import Mention
    from sentineld.sources_http import Reconnector

    from sentineld_plugins.sources.imap.connection import Fetched, ImapConnection

__all__ = ["ImapOptions", "ImapSource"]

T = TypeVar("T")


class ImapOptions(Options):
    #: The IMAP server.
    host: str
    #: The login name.
    username: str
    #: The password (or app password).
    password: Secret
    #: "imaps" (TLS from the start, port 993), "starttls" (upgrade on port 143) or "none"
    #: (plain text: only for a server on this machine).
    tls: Literal["imaps", "starttls", "none"] = "imaps"
    #: The port; unset: 993 for imaps, 143 otherwise.
    port: int | None = None
    #: A CA bundle (PEM) to trust besides the system's, e.g. for an internal server.
    ca_file: ConfigPath | None = None
    #: The mailbox to read.
    mailbox: str = "INBOX"
    #: On the first start (no cursor yet), how far back to read: the messages received within
    #: this long before it (whole days: IMAP searches by date). "0s" starts with the next message;
    #: a long one ("1000w") reads the whole mailbox.
    backfill: Duration = Duration(7 * 86400)
    #: "auto" uses IDLE (push) when the server offers it, else polls; "idle" or "poll" force one.
    mode: Literal["auto", "idle", "poll"] = "auto"
    #: How often to look for new messages when polling.
    poll_interval: Duration = Duration(60)
    #: While idling: after this long without news, IDLE is ended and re-issued, which checks that
    #: the connection is alive (a connection that does not answer within `command_timeout` is
    #: reconnected).
    silence_limit: Duration = Duration(300)
    #: Longest wait for the server to answer a command (and to connect).
    command_timeout: Duration = Duration(30)
    #: Messages fetched per batch.
    batch_size: int = 50
    #: At most this much of each message is fetched (large attachments are not downloaded).
    max_message_bytes: int = 2 << 20
    #: Longest text kept per message.
    max_text: int = 20_000
    #: First wait before reconnecting after a failure; it doubles (with jitter) up to `backoff_max`.
    backoff_initial: Duration = Duration(1)
    backoff_max: Duration = Duration(300)
    #: Consecutive failures after which health turns from "degraded" to "failing".
    failing_after: int = 3

    #: Not used by IMAP (it has no Retry-After); read by the shared reconnection helper.
    retry_after_max: Duration = Duration(3600)

    @property
    def effective_port(self) -> int:
        return self.port or (993 if self.tls == "imaps" else 143)


@dataclass(slots=True)
class Position:
    """The cursor: the mailbox's UIDVALIDITY and the highest UID handed over in it."""

    uidvalidity: int | None = None
    uid: int = 0

    def dump(self) -> str:
        return json.dumps({"uidvalidity": self.uidvalidity, "uid": self.uid})

    @classmethod
    def load(cls, cursor: str | None) -> Position:
        if not cursor:
            return cls()
        data = json.loads(cursor)
        return cls(data.get("uidvalidity"), int(data.get("uid", 0)))


@dataclass(slots=True)
class _Rejected:
    uid: int
    reason: str
    sample: bytes


class ImapSource(Source):
    """New messages of one mailbox, pushed by IDLE (or polled), resumed by UIDVALIDITY + UID.

    If the server's UIDVALIDITY changes (the mailbox was rebuilt, every UID is new), the mailbox
    is read again from the start; mention ids come from the Message-ID, so what was stored
    before is not stored twice.
    """

    type_name = "imap"
    description = "Email from an IMAP mailbox (IDLE or polling; IMAPS or STARTTLS)"
    Options = ImapOptions

    def __init__(self, options: ImapOptions, context: Any) -> None:
        super().__init__(options, context)
        self.position = Position()
        self.connections = 0
        self.idling = False

    async def run(self, emit: Emit) -> None:
        from sentineld.sources_http import Reconnector

        self.position = Position.load(self.cursor)
        if self.options.tls == "none" and not _is_loopback(self.options.host):
            self.log.warning("IMAP without TLS to a remote host: the password crosses the "
                             "network in clear", host=self.options.host)
        reconnector = Reconnector(self, self.options)  # type: ignore[arg-type]
        await reconnector.run(lambda: self._session(emit, reconnector))

    async def _session(self, emit: Emit, reconnector: Reconnector) -> None:
        from concurrent.futures import ThreadPoolExecutor

        from sentineld_plugins.sources.imap.connection import ImapConnection

        options = self.options
        connection = ImapConnection(
            options.host, options.effective_port, tls=options.tls, username=options.username,
            password=options.password.reveal(), mailbox=options.mailbox,
            timeout=options.command_timeout, ca_file=options.ca_file,
        )
        worker = ThreadPoolExecutor(1, thread_name_prefix=f"sentineld-imap-{self.id}")
        loop = asyncio.get_running_loop()

        def call(function: Callable[..., T], *args: Any) -> Awaitable[T]:
            return loop.run_in_executor(worker, function, *args)

        try:
            await call(connection.connect)
            self.connections += 1
            await self._check_uidvalidity(call, connection)
            self.idling = options.mode == "idle" or (options.mode == "auto" and connection.can_idle)
            if self.idling and not connection.can_idle:
                self.log.warning("the server does not offer IDLE; polling instead")
                self.idling = False
            self.log.info("connected to the mailbox", host=options.host, mailbox=options.mailbox,
                          uidvalidity=connection.uidvalidity, after_uid=self.position.uid,
                          mode="idle" if self.idling else "poll")
            reconnector.progressed()
            while True:
                await self._catch_up(call, connection, emit)
                reconnector.progressed()
                if self.finite:
                    await call(connection.close)
                    return
                if self.idling:
                    await call(connection.wait_idle, options.silence_limit)
                else:
                    await asyncio.sleep(options.poll_interval)
                    await call(connection.noop)
        finally:
            connection.abort()
            worker.submit(connection.close)
            worker.shutdown(wait=False)

    async def _check_uidvalidity(
        self, call: Callable[..., Awaitable[Any]], connection: ImapConnection
    ) -> None:
        uidvalidity = connection.uidvalidity
        if self.position.uidvalidity == uidvalidity:
            return
        if self.position.uidvalidity is not None:
            self.log.warning(
                "the mailbox's UIDVALIDITY changed: reading it again from the start "
                "(messages already stored are recognised by Message-ID)",
                was=self.position.uidvalidity, now=uidvalidity,
            )
            self.position = Position(uidvalidity, 0)
            return
        if self.options.backfill > 0:
            since = (datetime.now(UTC) - timedelta(seconds=self.options.backfill)).date()
            start = await call(connection.uid_before, since)
        else:
            since, start = datetime.now(UTC).date(), await call(connection.last_uid)
        self.log.info("first start: reading the mail received since", since=str(since),
                      after_uid=start)
        self.position = Position(uidvalidity, start)

    async def _catch_up(
        self, call: Callable[..., Awaitable[Any]], connection: ImapConnection, emit: Emit
    ) -> None:
        uids: list[int] = await call(connection.uids_after, self.position.uid)
        size = max(1, self.options.batch_size)
        for start in range(0, len(uids), size):
            chunk = uids[start : start + size]
            results = await call(self._fetch_mentions, connection, chunk)
            mentions: list[Mention] = []
            for result in results:
                if isinstance(result, _Rejected):
                    self.reject(result.reason, result.sample, uid=result.uid,
                                mailbox=self.options.mailbox)
                else:
                    mentions.append(result)
            position = Position(connection.uidvalidity, chunk[-1])
            await emit(mentions, position.dump())
            self.position = position

    def _fetch_mentions(self, connection: ImapConnection, uids: list[int]) -> list[Any]:
        """Fetch and parse (on the worker thread): a Mention or a `_Rejected` per message."""
        from sentineld_plugins.sources.imap.messages import MessageError, message_to_mention

        results: list[Any] = []
        fetched: list[Fetched] = connection.fetch(uids, self.options.max_message_bytes)
        for item in fetched:
            try:
                results.append(message_to_mention(
                    item.raw, internal_date=item.internal_date, mailbox=self.options.mailbox,
                    uid=item.uid, max_text=self.options.max_text,
                ))
            except MessageError as exc:
                results.append(_Rejected(item.uid, str(exc), item.raw[:200]))
            except Exception as exc:  # noqa: BLE001 - one unparseable message must not stop the mailbox
                results.append(_Rejected(item.uid, f"cannot parse the message: {exc!r}", item.raw[:200]))
        return results


def _is_loopback(host: str) -> bool:
    import ipaddress

    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@hookimpl
def register_sources(register: Any) -> None:
    register(ImapSource)
