"""Reddit source: new posts and comments of subreddits, and search results."""

from __future__ import annotations

from typing import Any

from sentineld import hookimpl

from .source import RedditOptions, RedditSource

__all__ = ["RedditOptions", "RedditSource"]


@hookimpl
def register_sources(register: Any) -> None:
    register(RedditSource)
