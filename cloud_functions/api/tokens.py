"""Make an API token: ``python -m cloud_functions.api.tokens --name "Ada" --role admin``.

Prints a new random token (give it to the person, once) and the ``CLASSSIGHT_API_TOKENS`` entry
that admits it: only the token's sha256 goes into the settings. Several entries are merged into
one JSON object, e.g. ``{"<sha256>": {"name": "Ada", "role": "admin"}, ...}``.
"""

from __future__ import annotations

import argparse
import json
import secrets
import sys
from collections.abc import Sequence

from cloud_functions.api.auth import token_digest

TOKEN_BYTES = 32


def new_token_entry(name: str, role: str) -> tuple[str, dict[str, dict[str, str]]]:
    """A fresh token and its settings entry ``{sha256: {name, role}}``."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    return token, {token_digest(token): {"name": name, "role": role}}


def main(argv: Sequence[str] | None = None) -> int:
    """Print a new token and its ``CLASSSIGHT_API_TOKENS`` entry."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--name", required=True, help="Who holds the token (recorded in the audit log).")
    parser.add_argument("--role", required=True, choices=["admin", "teacher"])
    args = parser.parse_args(argv)
    token, entry = new_token_entry(args.name, args.role)
    sys.stdout.write(f"token (give it to {args.name}; it is not stored anywhere): {token}\n")
    sys.stdout.write(f"CLASSSIGHT_API_TOKENS entry: {json.dumps(entry)}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
