"""Entry-point wrapper: a UserError becomes one `error:` line and exit status 2."""

import sys
from collections.abc import Callable


def run_stage(main: Callable[[list[str]], None]) -> None:
    from stitchkit.errors import UserError

    try:
        main(sys.argv[1:])
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
