"""A separate process that increments one counter by compare-and-set.

Run as ``python -m tests.server.storage.kv_increment_worker <kv-url> <increments>``.
Each increment reads the counter and writes ``old + 1`` with ``set_if``, retrying when
another process won the race, so a lost update shows as a final count that is too low.
It opens the store, prints ``ready``, and starts only when a line arrives on stdin, so
several workers really overlap. Prints the number of lost races (retries) on exit.
"""

from __future__ import annotations

import sys

from lakever_server.errors import PreconditionFailed
from lakever_server.storage.kv import open_kv

PARTITION = "counters"
KEY = b"shared"


def increment(url: str, times: int) -> int:
    """Increment the shared counter ``times`` times; return how many races were lost."""
    kv = open_kv(url)
    kv.get(PARTITION, KEY)  # connect before signalling readiness
    print("ready", flush=True)
    sys.stdin.readline()
    retries = 0
    try:
        done = 0
        while done < times:
            old = kv.get(PARTITION, KEY)
            new = str(int(old or b"0") + 1).encode()
            try:
                kv.set_if(PARTITION, KEY, new, old)
            except PreconditionFailed:
                retries += 1
                continue
            done += 1
    finally:
        kv.close()
    return retries


if __name__ == "__main__":
    print(increment(sys.argv[1], int(sys.argv[2])))
