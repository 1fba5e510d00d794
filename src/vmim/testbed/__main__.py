"""``python -m vmim.testbed build|demo``: the test guest and the demo host."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from vmim.errors import VmimError
from vmim.testbed import demo
from vmim.testbed.guest import DEFAULT_CACHE, TestGuest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m vmim.testbed")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    sub = parser.add_subparsers(dest="what", required=True)
    sub.add_parser("build", help="download and build the tiny test guest (cached)")
    run_demo = sub.add_parser("demo", help="make a demo host and run vmim on it")
    run_demo.add_argument("--dir", type=Path, default=demo.DEFAULT_DIR)
    args = parser.parse_args(argv)
    try:
        guest = TestGuest(args.cache).build()
        if args.what == "build":
            print(f"test guest: {guest.kernel} {guest.initrd}")
            return 0
        return demo.run_demo(guest, args.dir)
    except VmimError as error:
        print(f"vmim testbed: error: {error}", file=sys.stderr)
        return error.exit_code


if __name__ == "__main__":
    sys.exit(main())
