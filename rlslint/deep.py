"""Room for the nesting PostgreSQL accepts.

PostgreSQL's grammar takes about 10,000 levels of nesting (bison's stack; beyond it the
parser says "memory exhausted"), and each level is several levels of the JSON parse tree.
``json.loads``, pickling and the tree walks recurse once per level, so Python's default
limit of 1,000 fails long before the parser does. The pipeline therefore runs in a thread
whose stack has room for the deepest tree the parser can return.
"""

from __future__ import annotations

import sys
import threading
from typing import Callable, TypeVar

T = TypeVar("T")
_inside = threading.local()

STACK_BYTES = 512 * 1024 * 1024  # address space reserved, not memory used: pages are touched as needed
RECURSION_LIMIT = 400_000  # arrow chains and sums are the deepest trees: 16,000 levels, ~20 frames each


def run_deep(function: Callable[..., T], *args, **kwargs) -> T:
    """``function(*args, **kwargs)`` with room to recurse; its exception, if any, is raised here."""
    if getattr(_inside, "deep", False):
        return function(*args, **kwargs)
    outcome: dict[str, object] = {}

    def target() -> None:
        _inside.deep = True
        try:
            outcome["value"] = function(*args, **kwargs)
        except BaseException as exc:  # handed to the caller, traceback included
            outcome["error"] = exc

    previous_limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(previous_limit, RECURSION_LIMIT))
    previous_stack = threading.stack_size(STACK_BYTES)
    try:
        # daemon: Ctrl-C in the main thread ends the process instead of waiting for the worker.
        worker = threading.Thread(target=target, name="rlslint-pipeline", daemon=True)
        worker.start()
    finally:
        threading.stack_size(previous_stack)
    try:
        worker.join()
    finally:
        # The limit is process-wide, and the main thread's own stack is the usual 8 MiB.
        if not worker.is_alive():
            sys.setrecursionlimit(previous_limit)
    if "error" in outcome:
        raise outcome["error"]  # type: ignore[misc]
    return outcome["value"]  # type: ignore[return-value]
