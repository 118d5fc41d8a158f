"""`sentineld mentions`: the stored mentions, newest first, with their scores, optionally
filtered by label matchers as `sentineld alerts` is (``sentineld mentions --since 2h
sentiment=negative addressed=yes``; ``match=~competitor:.*`` reads what [watch] matched)."""

from __future__ import annotations

import argparse
import time
from typing import Any

from sentineld.cli.common import CommandError, count, load, open_cli_store, print_json_lines

PAGE = 500
#: How many stored mentions a filtered listing reads at most before it stops looking.
MAX_SCANNED = 200_000
#: The pseudo-label of what `[watch]` matched (a mention can match several subjects).
MATCH = "match"


def add_mentions_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("matchers", nargs="*", metavar="MATCHER",
                        help="only mentions whose labels match, e.g. sentiment=negative, "
                        "addressed=yes, case_severity!=low; match=competitor:rivald or "
                        "match=~topic:.* for what [watch] matched")
    parser.add_argument("--source", help="only this platform (bluesky, mastodon, email, …)")
    parser.add_argument("--author", metavar="KEY", help="only this author (source:authorid)")
    parser.add_argument("--since", metavar="DURATION",
                        help="only mentions written in the last DURATION (e.g. 30m, 2h, 1d)")
    parser.add_argument("--limit", type=count, default=50, help="at most this many (newest first)")
    parser.add_argument("--json", action="store_true", help="Scored mention JSON Lines")


def cmd_mentions(args: argparse.Namespace) -> int:
    from sentineld.alertrules import parse_matchers
    from sentineld.model import mention_to_dict
    from sentineld.options import parse_duration

    try:
        wanted = parse_matchers(args.matchers, labels=None)
    except ValueError as exc:
        raise CommandError(str(exc), 2) from None
    since = None
    if args.since:
        try:
            since = time.time() - float(parse_duration(args.since))
        except (TypeError, ValueError) as exc:
            raise CommandError(f"--since: {exc}", 2) from None
    config = load(args, logging=False)
    store = open_cli_store(config)
    try:
        found, scanned, labels = _collect(store, args, since, wanted)
    finally:
        store.close()
    if args.json:
        print_json_lines([{"seq": seq, **mention_to_dict(m, scored=True)} for seq, m in found])
        return 0
    if not found:
        print("no mentions" + (" match" if wanted or args.source or args.author or since else ""))
        for hint in _unknown_labels(wanted, labels) if scanned else ():
            print(hint)
    for _, mention in found:
        print(_render(mention))
    if scanned >= MAX_SCANNED and len(found) < args.limit:
        print(f"(stopped looking after the newest {MAX_SCANNED:,} mentions; narrow with --since, "
              "--source or --author)")
    return 0


def _matches(mention: Any, wanted: Any) -> bool:
    """Every matcher holds: on the mention's labels, or on any subject it matched (``match=``,
    ``match=~``; a negative matcher on all of them)."""
    for matcher in wanted:
        if matcher.label != MATCH:
            if not matcher.matches(mention.labels):
                return False
            continue
        values = [{MATCH: subject} for subject in mention.matches] or [{MATCH: ""}]
        held = any if matcher.op in ("=", "=~") else all
        if not held(matcher.matches(value) for value in values):
            return False
    return True


def _unknown_labels(wanted: Any, labels: set[str]) -> list[str]:
    """What to say of a matcher asking for a label no mention read carries (a misspelt name
    is a valid matcher that matches nothing)."""
    from sentineld.options import did_you_mean

    known = sorted(labels | {MATCH})
    return [f"no mention read has a label {m.label!r}{did_you_mean(m.label, known)} "
            f"(labels seen: {', '.join(known)})"
            for m in wanted if m.op in ("=", "=~") and m.label not in known]


def _collect(store: Any, args: argparse.Namespace, since: float | None,
             wanted: Any) -> tuple[list[tuple[int, Any]], int, set[str]]:
    """The newest mentions passing the filters, paging back; how many were read, and the
    label names they carry."""
    filters: dict[str, Any] = {}
    if args.source:
        filters["source"] = args.source
    if args.author:
        filters["author_key"] = args.author
    if since is not None:
        filters["since"] = since
    found: list[tuple[int, Any]] = []
    labels: set[str] = set()
    before = None
    scanned = 0
    while len(found) < args.limit and scanned < MAX_SCANNED:
        requested = PAGE if wanted else args.limit - len(found)
        page = store.recent_mentions(limit=requested, before_seq=before, **filters)
        scanned += len(page)
        for seq, mention in page:
            labels.update(mention.labels)
            if _matches(mention, wanted):
                found.append((seq, mention))
        if len(page) < requested:
            break
        before = page[-1][0]
    return found[: args.limit], scanned, labels


def _render(mention: Any) -> str:
    from sentineld.changes import shown_text
    from sentineld.model import format_time

    author = mention.author
    who = f"@{author.handle}" if author is not None and author.handle else (
        author.id if author is not None else "(no author)")
    scores = mention.scores
    figures = []
    if "sentiment" in scores:
        figures.append(f"sentiment {scores['sentiment']:+.2f}")
    for key in ("influence", "virality"):
        if key in scores:
            figures.append(f"{key} {scores[key]:.2f}")
    flags = [name for name, label in (("addressed", "addressed"), ("watchlist", "watchlist"))
             if mention.labels.get(label) == "yes"]
    head = f"{format_time(mention.created_at)}  {mention.source:<9} {who}  {', '.join(figures)}"
    if mention.matches:
        head += f"  [{' '.join(mention.matches)}]"
    if flags:
        head += f"  {' '.join(flags)}"
    text = " ".join(shown_text(mention).split())
    return f"{head}\n    {text[:200]}{'…' if len(text) > 200 else ''}\n    {mention.id}" + (
        f"  {mention.url}" if mention.url else "")
