"""bluesky responder: posts an approved reply through the brand account's PDS.

1. ``com.atproto.server.createSession`` with the account's identifier and an *app password*
   gives an access token (kept, and made again when it expires);
2. the reply references: ``parent`` is the mention (its AT URI is the mention id after
   ``bluesky:``, its CID was recorded by the bluesky source), ``root`` the thread's first post
   (``extra.thread_root``, or the parent itself); a CID that is not known is read with
   ``com.atproto.repo.getRecord``;
3. ``com.atproto.repo.createRecord`` of an ``app.bsky.feed.post`` record with ``text``,
   ``createdAt`` and ``reply: {root, parent}`` (strong refs: ``uri`` and ``cid``).

The record key is a TID derived from the draft (its creation time and id), so posting the same
draft twice asks for the same record: a PDS that already has it refuses, and the existing record
is taken as the post. Off unless configured, and ``dry_run = true`` by default: it then logs the
record it would create and posts nothing.
"""

from __future__ import annotations

import hashlib
import time
from datetime import UTC, datetime
from typing import Any, Final

from sentineld import Draft, Options, PermanentDeliveryError, RetryableDeliveryError, Secret, hookimpl
from sentineld_plugins.notifiers._http import classify
from sentineld_plugins.responders._posting import PostingResponder

POST_COLLECTION: Final = "app.bsky.feed.post"
_TID_ALPHABET: Final = "234567abcdefghijklmnopqrstuvwxyz"


class BlueskyResponderOptions(Options):
    #: The brand account's handle or DID.
    identifier: str
    #: An app password of that account (Settings → App passwords), e.g. { env = "BSKY_APP_PASSWORD" }.
    app_password: Secret
    #: The account's PDS (its host serves createSession and createRecord).
    service: str = "https://bsky.social"
    #: Only log what would be posted.
    dry_run: bool = True
    #: Language tags of the replies (langs), e.g. ["en"]; empty: none.
    langs: list[str] = []


def tid(micros: int, clock_id: int) -> str:
    """An AT Protocol TID: 53 bits of microseconds and 10 bits of clock id, base32-sortable."""
    value = ((micros & ((1 << 53) - 1)) << 10) | (clock_id & 0x3FF)
    chars = []
    for _ in range(13):
        chars.append(_TID_ALPHABET[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def draft_rkey(draft: Draft) -> str:
    ident = str(draft.meta.get("id") or "")
    created = float(draft.meta.get("created_at") or 0.0) or time.time()
    clock = int.from_bytes(hashlib.blake2b(ident.encode(), digest_size=2).digest(), "big")
    return tid(int(created * 1_000_000), clock)


def split_at_uri(uri: str) -> tuple[str, str, str]:
    """``at://did/collection/rkey`` → (did, collection, rkey)."""
    if not uri.startswith("at://"):
        raise PermanentDeliveryError(f"{uri!r} is not an AT URI")
    parts = uri[len("at://") :].split("/")
    if len(parts) != 3:
        raise PermanentDeliveryError(f"{uri!r} does not name a record")
    return parts[0], parts[1], parts[2]


class BlueskyResponder(PostingResponder):
    type_name = "bluesky"
    description = "posts approved replies on Bluesky (createRecord on the account's PDS); dry run by default"
    Options = BlueskyResponderOptions
    post_channels = ("bluesky",)
    service = "Bluesky PDS"

    def __init__(self, options: BlueskyResponderOptions, context: Any) -> None:
        super().__init__(options, context)
        self._access: str | None = None
        self._did: str | None = None

    def _xrpc(self, method: str) -> str:
        return f"{self.options.service.rstrip('/')}/xrpc/{method}"

    async def _session_token(self, *, fresh: bool = False) -> tuple[str, str]:
        if self._access is None or self._did is None or fresh:
            answer = await self.request(
                "POST", self._xrpc("com.atproto.server.createSession"),
                body={"identifier": self.options.identifier, "password": self.options.app_password.reveal()},
                check=False,
            )
            if answer.status == 401:
                raise PermanentDeliveryError("Bluesky refused the identifier or app password (401)")
            classify(answer, self.service)
            data = answer.json() or {}
            if not data.get("accessJwt") or not data.get("did"):
                raise PermanentDeliveryError(f"createSession answered without a session: {answer.quote()}")
            self._access, self._did = data["accessJwt"], data["did"]
        assert self._access is not None and self._did is not None
        return self._access, self._did

    async def _strong_ref(self, uri: str, cid: str | None) -> dict[str, str]:
        if cid:
            return {"uri": uri, "cid": cid}
        repo, collection, rkey = split_at_uri(uri)
        answer = await self.request(
            "GET", self._xrpc("com.atproto.repo.getRecord"),
            params={"repo": repo, "collection": collection, "rkey": rkey},
        )
        data = answer.json() or {}
        if not data.get("cid"):
            raise PermanentDeliveryError(f"getRecord of {uri} answered without a CID")
        return {"uri": data.get("uri") or uri, "cid": data["cid"]}

    async def _reply_refs(self, draft: Draft) -> dict[str, Any] | None:
        if draft.mention_id is None:
            return None
        source, _, uri = draft.mention_id.partition(":")
        if source != "bluesky":
            raise PermanentDeliveryError(f"{draft.mention_id} is not a Bluesky post")
        target = draft.meta.get("reply_to") or {}
        parent = await self._strong_ref(uri, target.get("cid"))
        root_id = target.get("thread_root")
        if root_id and str(root_id).partition(":")[2] != uri:
            root = await self._strong_ref(str(root_id).partition(":")[2], None)
        else:
            root = parent
        return {"root": root, "parent": parent}

    async def post(self, draft: Draft) -> str | None:
        options: BlueskyResponderOptions = self.options
        record: dict[str, Any] = {
            "$type": POST_COLLECTION,
            "text": draft.text,
            "createdAt": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        }
        if options.langs:
            record["langs"] = list(options.langs)
        rkey = draft_rkey(draft)
        if options.dry_run:
            self.dry_run_log(draft, {"createRecord": POST_COLLECTION, "rkey": rkey, "record": record,
                                     "reply_to": draft.mention_id})
            return None
        reply = await self._reply_refs(draft)
        if reply is not None:
            record["reply"] = reply
        access, did = await self._session_token()
        body = {"repo": did, "collection": POST_COLLECTION, "rkey": rkey, "record": record}
        for attempt in range(2):
            answer = await self.request(
                "POST", self._xrpc("com.atproto.repo.createRecord"), body=body,
                headers={"Authorization": f"Bearer {access}"}, check=False,
            )
            error = (answer.json() or {}).get("error") if answer.status == 400 else None
            if error == "ExpiredToken" and attempt == 0:
                access, did = await self._session_token(fresh=True)
                continue
            break
        if answer.status == 400 and _already_exists(answer):
            return f"bluesky:at://{did}/{POST_COLLECTION}/{rkey}"
        classify(answer, self.service)
        created = answer.json() or {}
        uri = created.get("uri")
        if not uri:
            raise RetryableDeliveryError(f"createRecord answered without a uri: {answer.quote()}")
        return f"bluesky:{uri}"


def _already_exists(answer: Any) -> bool:
    data = answer.json() or {}
    return "already exists" in str(data.get("message", "")).lower()


@hookimpl
def register_responders(register: Any) -> None:
    register(BlueskyResponder)
