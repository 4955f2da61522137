"""``dmp-gateway mllp --processes N``: N listener processes on one port, supervised.

Each child runs :func:`gateway.cli.mllp.listen` with SO_REUSEPORT (the kernel spreads
new connections among them) and its own database pool; migrations ran once before.
SIGTERM or Ctrl-C to the parent stops every child gracefully (messages in progress
finish and are acknowledged). If a child exits on its own, the others are stopped and
the parent exits with its code: a supervisor (systemd, Docker) restarts the whole
listener rather than leave it running short of a process.
"""

from __future__ import annotations

import multiprocessing
import signal
import sys
from dataclasses import replace
from multiprocessing.connection import wait
from multiprocessing.process import BaseProcess
from types import FrameType

from gateway.cli.mllp import ListenerOptions

GRACE_SECONDS = 40.0  # a child's own grace for messages in progress is 30 s


def _child(options: ListenerOptions) -> None:
    from gateway.cli.mllp import listen

    try:
        listen(options)
    except Exception as exc:  # typer.Exit (click's Exit) is not a SystemExit: keep its code
        code = getattr(exc, "exit_code", None)
        if isinstance(code, int):
            sys.exit(code)
        raise


def supervise(options: ListenerOptions, processes: int) -> int:
    """Run ``processes`` listeners until a signal or a child's exit; return the exit code."""
    context = multiprocessing.get_context("spawn")  # no inherited pools, threads or locks
    children: list[BaseProcess] = []
    stopping = False

    def stop(_signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True
        for child in children:
            if child.is_alive() and child.pid is not None:
                child.terminate()  # SIGTERM: a graceful close in the child

    previous = {s: signal.signal(s, stop) for s in (signal.SIGTERM, signal.SIGINT)}
    ended_alone: BaseProcess | None = None
    try:
        for index in range(processes):
            child_options = replace(
                options,
                reuse_port=True,
                migrate=False,
                announce=index == 0,
                metrics_port=None if options.metrics_port is None else options.metrics_port + index,
            )
            child = context.Process(target=_child, args=(child_options,), name=f"mllp-{index}")
            child.start()
            children.append(child)
        # The first to end, or every one on a signal. A sentinel is ready as the child
        # ends, a moment before the child can be reaped: tell them apart by sentinel.
        ready = wait([c.sentinel for c in children])
        if not stopping:
            ended_alone = next(c for c in children if c.sentinel in ready)
    finally:
        stop(signal.SIGTERM, None)  # whatever happened, no listener outlives the parent
        for running in children:
            running.join(GRACE_SECONDS)
            if running.is_alive():
                running.kill()
                running.join()
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    if ended_alone is None:
        return 0  # stopped by a signal, gracefully
    code = ended_alone.exitcode
    return code if code is not None and code > 0 else 1
