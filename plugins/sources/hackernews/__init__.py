"""Hacker News source: new stories and comments from the Algolia HN Search API."""

from __future__ import annotations

from typing import Any

from sentineld import hookimpl

from .source import HackerNewsOptions, HackerNewsSource

__all__ = ["HackerNewsOptions", "HackerNewsSource"]


@hookimpl
def register_sources(register: Any) -> None:
    register(HackerNewsSource)
