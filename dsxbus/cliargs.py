"""Arguments every `dsx-bus` subcommand shares, whichever module registers it."""

from __future__ import annotations

import argparse
from pathlib import Path


def project_dir_option(parser: argparse.ArgumentParser) -> None:
    """`--dir` after the subcommand too (`dsx-bus local up --dir DIR`); SUPPRESS keeps the top-level value."""
    parser.add_argument("--dir", type=Path, default=argparse.SUPPRESS, help="the project directory")
