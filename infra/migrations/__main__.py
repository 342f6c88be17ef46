"""CLI: ``python -m infra.migrations {upgrade,downgrade} [REVISION]``."""

from __future__ import annotations

import argparse
import logging

from cloud_functions.core.settings import DatabaseSettings, load_settings
from infra.migrations import downgrade, upgrade


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m infra.migrations",
        description="Apply database migrations. The URL comes from CLASSSIGHT_DATABASE_URL.",
    )
    parser.add_argument("action", choices=["upgrade", "downgrade"])
    parser.add_argument("revision", nargs="?", help="target revision (default: head / base)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    url = load_settings(DatabaseSettings).database_url
    if args.action == "upgrade":
        upgrade(url, args.revision or "head")
    else:
        downgrade(url, args.revision or "base")


if __name__ == "__main__":
    main()
