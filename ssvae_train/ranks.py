"""Is this process one torchrun rank of several, and how such a process ends. Torch-free, so the CLI can ask on
every exit (`--help` and `--version` included) without importing torch."""

from __future__ import annotations

import os
import sys
from typing import NoReturn


def is_rank() -> bool:
    """Was this process started by torchrun as one rank of several?"""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def is_first_rank() -> bool:
    """Is this process the one that writes a run's files (a single process, or torchrun's rank 0)?"""
    return not is_rank() or os.environ.get("RANK", "0") == "0"


def leave(code: int) -> NoReturn:
    """End a torchrun rank's process now, its output flushed, without the interpreter's shutdown.

    Once DistributedDataParallel has used the gloo process group, torch 2.13 keeps the group, and its worker
    threads, alive after `destroy_process_group`. A worker still releasing a finished collective's tensors
    needs the GIL; when the interpreter is already shutting down, the thread is cancelled inside a destructor
    and the process aborts (SIGABRT, "terminate called without an active exception"; 2 rank exits in 81 on
    this project's CPU test, benchmarks/torchrun-exit.md). Everything a run writes is written and renamed
    before this, and the project registers no atexit handler, so skipping the shutdown loses nothing.
    """
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # the reader left (a closed pipe) or the stream is closed: nothing to keep
            pass
    os._exit(code)
