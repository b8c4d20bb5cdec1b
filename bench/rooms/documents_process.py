"""Documents alone in this process, for bench/rooms/run.py: its settings arrive pickled on
stdin, and it serves as production does (``servicekit.server.serve``).

With ``RATHAUS_BENCH_TRACE=<prefix>`` it runs under tracemalloc and writes a snapshot to
``<prefix>-<n>.snap`` on every SIGUSR1, for the benchmark to compare.
"""

from __future__ import annotations

import os
import pickle
import signal
import sys
import tracemalloc
from pathlib import Path
from types import FrameType

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from documents.main import create_app
from documents.settings import DocumentsSettings
from servicekit.server import serve


def _trace(prefix: str) -> None:
    tracemalloc.start(int(os.environ.get("RATHAUS_BENCH_TRACE_FRAMES", "1")))
    taken = [0]

    def dump(_signal: int, _frame: FrameType | None) -> None:
        path = f"{prefix}-{taken[0]}.snap"
        taken[0] += 1
        tracemalloc.take_snapshot().dump(path + ".tmp")
        os.replace(path + ".tmp", path)

    signal.signal(signal.SIGUSR1, dump)


def main() -> None:
    settings = pickle.load(sys.stdin.buffer)
    assert isinstance(settings, DocumentsSettings)
    prefix = os.environ.get("RATHAUS_BENCH_TRACE")
    if prefix:
        _trace(prefix)
    serve(create_app(settings), settings)


if __name__ == "__main__":
    main()
