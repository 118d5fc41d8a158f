"""Each network source's sample.toml is valid, and every commented-out option in it shows the
option's real default (so the documentation cannot drift from the code)."""

from __future__ import annotations

import re
import tomllib

import pytest

from sentineld.options import convert_options
from sentineld_plugins.sources.bluesky import BlueskySource
from sentineld_plugins.sources.hackernews import HackerNewsSource
from sentineld_plugins.sources.mastodon import MastodonSource
from sentineld_plugins.sources.reddit import RedditSource

SOURCES = [BlueskySource, HackerNewsSource, MastodonSource, RedditSource]
_COMMENTED = re.compile(r"^# (\w+) = (.+)$")


@pytest.mark.parametrize("cls", SOURCES, ids=lambda c: c.type_name)
def test_sample_is_valid_and_shows_the_defaults(cls):
    text = cls.sample_config()
    assert text, f"{cls.type_name} has no sample.toml"
    (instance,) = tomllib.loads(text)["sources"].values()
    assert instance.pop("type") == cls.type_name
    configured = convert_options(instance, cls.Options, "sample")
    shown = 0
    for line in text.splitlines():
        match = _COMMENTED.match(line)
        if not match:
            continue
        key, value = match[1], tomllib.loads(f"v = {match[2]}")["v"]
        if isinstance(value, dict):
            continue  # `{ env = "NAME" }`: where a secret may come from, not a default
        assert key in cls.Options.__struct_fields__, f"{cls.type_name}: unknown option {key}"
        documented = convert_options({**instance, key: value}, cls.Options, "sample")
        assert getattr(documented, key) == getattr(configured, key), (
            f"{cls.type_name}: the sample says {key} = {match[2]}, the default is "
            f"{getattr(configured, key)!r}"
        )
        shown += 1
    undocumented = set(cls.Options.__struct_fields__) - set(instance) - {
        m[1] for m in map(_COMMENTED.match, text.splitlines()) if m
    }
    assert not undocumented, f"{cls.type_name}: options missing from the sample: {undocumented}"
    assert shown >= 10
