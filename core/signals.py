"""How a run stops when asked to: SIGTERM (a scheduler's way) and SIGINT (Ctrl-C).

The first signal only marks the run (``run.signal``); the engine stops it after the step in
progress, so the checkpointing plugin writes a checkpoint of a whole state, the tracker
marks the run KILLED, and the process exits 128 + the signal's number (143, 130). A second
Ctrl-C stops at once.
"""
from __future__ import annotations

import signal
import sys
from contextlib import contextmanager
from typing import Any, Iterator

STOPPING = (signal.SIGTERM, signal.SIGINT)


def signal_name(number: int) -> str:
    return signal.Signals(number).name


@contextmanager
def stop_on_signals(run: Any) -> Iterator[None]:
    """While training ``run``, turn SIGTERM and SIGINT into a stop at the next step boundary."""

    def handler(number: int, frame: Any) -> None:
        if run.signal is None:
            run.signal = number
            print(f"ganrun: {signal_name(number)} received: stopping after this step, with a "
                  f"checkpoint (Ctrl-C again to stop at once, without one)", file=sys.stderr)
        elif number == signal.SIGINT:
            raise KeyboardInterrupt

    try:
        previous = {s: signal.signal(s, handler) for s in STOPPING}
    except ValueError:  # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    finally:
        for s, old in previous.items():
            signal.signal(s, old)
