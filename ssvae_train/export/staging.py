"""A bundle is built in a hidden folder beside its destination and renamed into place only once complete:
a destination holds a finished, validated bundle (a folder with a manifest) or nothing at all."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ssvae_edge.contract import MANIFEST_FILE
from ssvae_train.errors import UserError

MANIFEST = MANIFEST_FILE


def check_destination(out: Path, force: bool) -> None:
    if not out.exists() and not out.is_symlink():
        return
    if not force:
        raise UserError(f"{out} already exists: pass --force to replace it")
    if not out.is_dir() or (any(out.iterdir()) and not (out / MANIFEST).is_file()):
        raise UserError(f"--force replaces an earlier bundle only, and {out} is not one (no {MANIFEST})")


@contextmanager
def staging(out: Path, force: bool) -> Iterator[Path]:
    """A hidden folder beside `out` to build the bundle in; renamed to `out` only if the body succeeds."""
    missing = [p for p in (out.parent, *out.parent.parents) if not p.exists()]
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.", suffix=".partial"))
    try:
        umask = os.umask(0)
        os.umask(umask)
        tmp.chmod(0o777 & ~umask)  # mkdtemp makes it private; a bundle is for sharing
        yield tmp
        check_destination(out, force)  # something may have appeared there meanwhile
        old = None
        if out.exists():
            old = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.", suffix=".old"))
            os.replace(out, old / "bundle")
        os.replace(tmp, out)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        for p in missing:  # the folders made for the bundle, innermost first, if still empty
            try:
                p.rmdir()
            except OSError:
                break
        raise
