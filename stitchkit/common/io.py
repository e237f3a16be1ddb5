"""Atomic file writes (temp file + rename) and safe torch loading.

torch is imported inside the torch functions only, so that figure stages, which need
just the atomic writes, start without it (about 2 s each on a laptop CPU).
"""

import io
import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from stitchkit.common.errors import UserError


@contextmanager
def atomic_path(path: Path | str) -> Iterator[Path]:
    """Yield a temp path beside ``path``; rename it to ``path`` only if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_json(path: Path | str, obj: Any) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, sort_keys=True) + "\n")


def save_torch(obj: Any, path: Path | str) -> None:
    """torch.save whose bytes depend only on ``obj`` (not on the temp file's name)."""
    import torch

    buffer = io.BytesIO()
    torch.save(obj, buffer)
    with atomic_path(path) as tmp:
        tmp.write_bytes(buffer.getbuffer())


def load_torch(path: Path | str, fix: str) -> Any:
    """``torch.load(weights_only=True)``; a missing or damaged file is a UserError with ``fix``."""
    import torch

    path = Path(path)
    if not path.exists():
        raise UserError(f"{path} does not exist; {fix}")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several types for damaged archives
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise UserError(f"{path} is truncated or corrupt ({reason}); {fix}") from exc
