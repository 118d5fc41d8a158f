"""The starter configuration `sentineld init` writes: values through tomli-w (so they are valid
TOML by construction), with a comment block in front of each table."""

from __future__ import annotations

from typing import Any

import tomli_w

HEADER = """\
## sentineld configuration. Check it with `sentineld check -c FILE`.
## Every component is a table [KIND.ID] with `type` naming its plugin; `sentineld plugins` lists
## the types, `sentineld config --sample TYPE` prints one type's options with comments.
## Secrets are never written here: use { env = "NAME" }, { file = "PATH" } or
## { credential = "NAME" } (systemd LoadCredential=).
"""


def _sections(brand: str) -> list[tuple[str, dict[str, Any]]]:
    handle = "".join(brand.split())  # "Acme Air" is @AcmeAir and #AcmeAir: handles have no spaces
    return [
        (
            "The daemon's own settings. Relative paths are relative to this file.",
            {"sentineld": {"state_dir": "state", "log_level": "info"}},
        ),
        (
            "What counts as a mention of us, of each competitor, and which accounts are ours\n"
            "(their replies answer customers).",
            {
                "watch": {
                    "brand": [brand, f"@{handle}", f"#{handle}"],
                    "accounts": [handle],
                    "exclude": [],
                    "competitors": {"rival": ["rival", "@rival"]},
                }
            },
        ),
        (
            "A JSON Lines file of mentions, followed as it grows.",
            {"sources": {"inbox": {"type": "jsonl", "path": "mentions.jsonl"}}},
        ),
        (
            "How each mention feels: scores.sentiment in [-1, 1].",
            {"scorers": {"mood": {"type": "sentiment"}}},
        ),
        (
            "Unprecedented buzz: mention volume far above its learned baseline.",
            {"triggers": {"buzz": {"type": "volume_spike", "window": "15m"}}},
        ),
        (
            "Where alerts go. Add slack, email, pagerduty… as you need them.",
            {"notifiers": {"screen": {"type": "console"}}},
        ),
        (
            "The dashboard, health, metrics and the JSON API on http://127.0.0.1:8780/.\n"
            "The token is generated into STATE_DIR/http-token unless you set\n"
            "token = { env = \"NAME\" } here.",
            {"http": {"enabled": True, "listen": "127.0.0.1", "port": 8780}},
        ),
    ]


def starter_config(brand: str = "acme") -> str:
    parts = [HEADER]
    for comment, table in _sections(brand):
        lines = "\n".join(f"## {line}" for line in comment.splitlines())
        parts.append(f"{lines}\n{tomli_w.dumps(table)}")
    return "\n".join(parts)
