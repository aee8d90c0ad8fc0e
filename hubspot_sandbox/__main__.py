"""Serve the demo "partner" and "rep" HubSpot sandbox portals until ^C (prints URLs and tokens)."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from hubspot_sandbox.server import serve
from hubspot_sandbox.spec import TIERS, UNLIMITED


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m hubspot_sandbox", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--tier", default="free", choices=[*TIERS, UNLIMITED])
    parser.add_argument("--deals", type=int, default=300, help="shared deals to seed")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-seed", action="store_true", help="start with empty portals")
    args = parser.parse_args(argv)
    serve(
        args.host,
        args.port,
        seed_demo=not args.no_seed,
        tier=args.tier,
        deals=args.deals,
        seed=args.seed,
    )


if __name__ == "__main__":
    main()
