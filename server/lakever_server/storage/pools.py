"""Process-wide thread pools, each created on first use and shared by every caller.

The stores and the tree run blocking work (fsyncs, hashing, remote reads and writes)
beside the caller's thread. One pool per kind of work, made lazily so a process that
never needs it starts no thread.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor


class SharedPool:
    """``pool()`` is the one ``ThreadPoolExecutor`` of ``workers`` threads named
    ``name-N``, created by the first call."""

    def __init__(self, workers: int, name: str) -> None:
        self.workers = workers
        self.name = name
        self._pool: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()

    def __call__(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix=self.name)
            return self._pool
