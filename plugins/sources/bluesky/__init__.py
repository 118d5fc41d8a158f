"""Bluesky source: posts from a Jetstream websocket, filtered to [watch], with author counts."""

from __future__ import annotations

from typing import Any

from sentineld import hookimpl

from .source import BlueskyOptions, BlueskySource

__all__ = ["BlueskyOptions", "BlueskySource"]


@hookimpl
def register_sources(register: Any) -> None:
    register(BlueskySource)
