"""A stage's entry point: a UserError becomes one `error:` line and exit status 2."""

import sys
from collections.abc import Callable

from stitchkit.common.errors import UserError


def run_stage(main: Callable[[list[str]], None]) -> None:
    """Run ``main`` on the command line's arguments."""
    try:
        main(sys.argv[1:])
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
