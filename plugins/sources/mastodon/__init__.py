"""Mastodon source: hashtags and the account's notifications, streamed with a REST fallback."""

from __future__ import annotations

from typing import Any

from sentineld import hookimpl

from .source import MastodonOptions, MastodonSource

__all__ = ["MastodonOptions", "MastodonSource"]


@hookimpl
def register_sources(register: Any) -> None:
    register(MastodonSource)
