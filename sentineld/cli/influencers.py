"""`sentineld influencers`: the influencer registry's top authors."""

from __future__ import annotations

import argparse

from sentineld.cli.common import count, load, open_cli_store, print_json_lines


def add_influencers_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="one JSON object per author")
    parser.add_argument("--top", type=count, default=20, metavar="N", help="how many (default 20)")
    parser.add_argument(
        "--kind", choices=("connector", "maven"),
        help="rank by reach (connector) or topical authority (maven); default: influence, the larger",
    )
    parser.add_argument("--watchlist", action="store_true", help="only authors on the watchlist")
    parser.add_argument("--include-own", action="store_true", help="list the brand's own accounts too")


def cmd_influencers(args: argparse.Namespace) -> int:
    from sentineld.registry import top_influencers

    config = load(args, logging=False)
    store = open_cli_store(config)
    try:
        rows = top_influencers(
            store, kind=args.kind, top=args.top, watchlist_only=args.watchlist,
            include_own=args.include_own,
        )
    finally:
        store.close()
    if args.json:
        print_json_lines(rows)
        return 0
    if not rows:
        print("no authors on the watchlist" if args.watchlist else "no authors tracked yet")
        return 0
    print(f"{'#':>3}  {'influence':>9} {'connector':>9} {'maven':>6} {'mentions':>8} {'sentiment':>9}  author")
    for rank, row in enumerate(rows, start=1):
        sentiment = "" if row["sentiment"] is None else f"{row['sentiment']:+.2f}"
        who = row["handle"] or row["author"]
        mark = "  [watchlist]" if row["watchlist"] else ""
        print(
            f"{rank:>3}  {row['influence']:9.3f} {row['connector']:9.3f} {row['maven']:6.3f} "
            f"{row['mentions']:8d} {sentiment:>9}  {who} ({row['source']}){mark}"
        )
    return 0
