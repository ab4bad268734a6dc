"""Where one CLI run spends its time, stage by stage, in this process.

    python bench/stages.py [--profile FILE] -- check --no-cache --format json DIR

Runs ``rlslint ARGS`` once with a timer around each stage function (discovery and reading,
cache keys/load/store, parse, replay, rules, suppressions, fixes, the JSON report) and
prints each stage's wall time; what is left over is the command line, settings and the
engine's own bookkeeping. ``--profile FILE`` also writes a cProfile of the run (read it with
``python -m pstats FILE``). The pipeline normally runs in a thread with a large stack
(``rlslint.deep``), where a profiler started here would see nothing; this harness runs it
in the main thread instead, with the same recursion limit, which the benchmark corpora fit.
Imports are timed separately: ``python -X importtime -m rlslint …`` shows them module by module.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import sys
import time

STAGES = (  # (module, attribute, label), in pipeline order
    ("rlslint.sources", "discover", "discover + read"),
    ("rlslint.cache", "ReplayCache.prefix_keys", "cache keys"),
    ("rlslint.cache", "ReplayCache.load_longest", "cache load"),
    ("rlslint.sql.parse", "parse_file", "parse"),  # looked up where each is called: the history imports them late
    ("rlslint.schema.replay", "replay_file", "replay"),
    ("rlslint.cache", "ReplayCache.store", "cache store"),
    ("rlslint.engine", "run_rules", "rules"),
    ("rlslint.suppress", "apply", "suppressions"),
    ("rlslint.diagnostics", "Diagnostic.with_fix", "fixes"),
    ("rlslint.report.json", "render", "report (json)"),
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", help="write a cProfile of the run to this file")
    parser.add_argument("args", nargs=argparse.REMAINDER, help="rlslint's arguments, after --")
    options = parser.parse_args()
    args = options.args[1:] if options.args[:1] == ["--"] else options.args

    started = time.perf_counter()
    import importlib

    from rlslint import deep
    from rlslint.cli import main as cli

    sys.setrecursionlimit(deep.RECURSION_LIMIT)
    deep._inside.deep = True  # run the pipeline in this thread, where the timers and the profiler are
    spent: dict[str, float] = {}
    for module_name, attribute, label in STAGES:
        owner = importlib.import_module(module_name)
        *path, name = attribute.split(".")
        for part in path:
            owner = getattr(owner, part)
        setattr(owner, name, _timed(getattr(owner, name), label, spent))
    imported = time.perf_counter() - started

    profiler = None
    if options.profile:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    started = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        try:
            cli(args, standalone_mode=False)
        except SystemExit:
            pass
    total = time.perf_counter() - started
    if profiler is not None:
        profiler.disable()
        profiler.dump_stats(options.profile)
    print(f"imports {imported * 1000:.0f} ms (rlslint and what it loads at start)")
    print(f"run {total * 1000:.0f} ms, of which:")
    for _, _, label in STAGES:
        if label in spent:
            print(f"  {label:<16} {spent[label] * 1000:7.0f} ms")
    print(f"  {'the rest':<16} {(total - sum(spent.values())) * 1000:7.0f} ms")


def _timed(function, label: str, spent: dict[str, float]):
    def timed(*args, **kwargs):
        start = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            spent[label] = spent.get(label, 0.0) + time.perf_counter() - start

    return timed


if __name__ == "__main__":
    main()
