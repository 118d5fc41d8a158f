"""Author profiles (followers, follows, posts) from the public AppView, fetched in batches of up
to 25 (``app.bsky.actor.getProfiles``) and kept in a bounded cache with a time to live."""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import msgspec
from cachetools import TTLCache

from sentineld.sources_http import RateLimited, SourceError, get_json

from .records import Profile, Profiles

if TYPE_CHECKING:
    import aiohttp

#: getProfiles accepts at most this many actors per call.
MAX_BATCH = 25


class ProfileCache:
    """DID → Profile (or None for an account the AppView does not know), with a TTL.

    A failed lookup never holds the stream up: the mentions go on without counts, and after a
    429 no lookup is tried before the server's Retry-After has passed.
    """

    def __init__(self, api_url: str, *, size: int, ttl: float, batch: int, log: Any) -> None:
        self.endpoint = api_url.rstrip("/") + "/xrpc/app.bsky.actor.getProfiles"
        self.batch = max(1, min(batch, MAX_BATCH))
        self.cache: TTLCache[str, Profile | None] = TTLCache(maxsize=size, ttl=ttl)
        self.log = log
        self.paused_until = 0.0
        self.requests = 0
        self.failures = 0

    def get(self, did: str) -> Profile | None:
        return self.cache.get(did)

    def rename(self, did: str, handle: str) -> None:
        """An identity event: keep the cached handle current."""
        profile = self.cache.get(did)
        if profile is not None:
            self.cache[did] = Profile(**{**_fields(profile), "handle": handle})

    async def fill(self, session: aiohttp.ClientSession, dids: Iterable[str]) -> None:
        """Fetch the profiles of `dids` that are not cached yet."""
        missing = sorted({did for did in dids if did not in self.cache})
        for start in range(0, len(missing), self.batch):
            if time.monotonic() < self.paused_until:
                return
            chunk = missing[start : start + self.batch]
            try:
                response = await get_json(
                    session, self.endpoint, params=[("actors", did) for did in chunk]
                )
                self.requests += 1
                profiles = msgspec.convert(response.data, Profiles).profiles
            except RateLimited as exc:
                wait = exc.retry_after if exc.retry_after is not None else 60.0
                self.paused_until = time.monotonic() + wait
                self.log.warning("profile lookups rate limited; pausing them", retry_in_s=wait)
                return
            except (SourceError, OSError, TimeoutError, msgspec.ValidationError) as exc:
                self.failures += 1
                self.log.warning("profile lookup failed; mentions go on without counts",
                                 error=str(exc) or type(exc).__name__, actors=len(chunk))
                return
            found = {profile.did: profile for profile in profiles}
            for did in chunk:
                self.cache[did] = found.get(did)


def _fields(profile: Profile) -> dict[str, Any]:
    return {name: getattr(profile, name) for name in profile.__struct_fields__}

