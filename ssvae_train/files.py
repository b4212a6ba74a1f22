"""Atomic writes (temp file + rename): a reader never sees a half-written checkpoint, bundle file or result.

Torch-free, so tools that must not load torch (the edge benchmarks) can use it too.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path


def write_atomic(path: str | Path, write: Callable[[Path], object]) -> None:
    """Call write(tmp_path) in the destination's folder, then rename over `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(Path(tmp))
        os.chmod(tmp, user_mode())  # mkstemp makes it 0600; the file is the user's, made like any other
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def user_mode(mode: int = 0o666) -> int:
    """`mode` less the process umask: what `open()` would have given a new file."""
    umask = os.umask(0)
    os.umask(umask)
    return mode & ~umask


def write_text_atomic(path: str | Path, text: str) -> None:
    write_atomic(path, lambda tmp: tmp.write_text(text))
