"""Benchmarks: rlslint against pglast's parse floor on a generated Supabase-style history.

    python bench/run.py [COUNT]        (default 500 files; needs shared/bench/gen_synthetic.py)

Prints the median of several runs for: the parse floor (pglast's C parser plus
json.loads, nothing else), rlslint's whole pipeline in-process, the CLI cold from a
fresh interpreter on the whole directory, and the CLI on one new file (the usual
pre-commit run, which still replays the whole history for context).
"""

from __future__ import annotations

import gc
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("RLSLINT_SHARED") or ROOT.parent / "shared")
RUNS = 5


def median_seconds(action, runs: int = RUNS) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 500
    work = Path(tempfile.mkdtemp(prefix="rlslint-bench-"))
    migrations = work / "supabase" / "migrations"
    subprocess.run([sys.executable, str(SHARED / "bench" / "gen_synthetic.py"), str(count), str(migrations)],
                   check=True, capture_output=True)
    files = sorted(migrations.glob("*.sql"))
    texts = [f.read_text(encoding="utf-8") for f in files]

    from pglast.parser import parse_sql_json

    from rlslint.config import settings_for_root
    from rlslint.engine import lint

    floor_with_gc = median_seconds(lambda: [json.loads(parse_sql_json(t)) for t in texts])
    # Measured as the CLI runs: with the cyclic garbage collector off (see rlslint/cli.py).
    gc.disable()
    floor = median_seconds(lambda: [json.loads(parse_sql_json(t)) for t in texts])
    pipeline = median_seconds(lambda: lint([str(migrations)], work, lambda s: settings_for_root(s.root)))
    gc.enable()
    cli = [sys.executable, "-m", "rlslint", "--format", "json"]
    cold = median_seconds(lambda: subprocess.run([*cli, "--no-cache", str(migrations)], capture_output=True, cwd=work))
    one_file = median_seconds(lambda: subprocess.run([*cli, "--no-cache", str(files[-1])], capture_output=True, cwd=work))
    # The usual pre-commit run: the history is unchanged since the last run, one file is new.
    cache_env = {**os.environ, "RLSLINT_CACHE_DIR": str(work / "cache")}
    new_file = migrations / "99999999999999_new.sql"
    new_file.write_text("create table public.bench_new (id bigint primary key);\n", encoding="utf-8")
    subprocess.run([*cli, str(files[-1])], capture_output=True, cwd=work, env=cache_env)  # warm: history without new_file
    warm = median_seconds(lambda: subprocess.run([*cli, str(new_file)], capture_output=True, cwd=work, env=cache_env))
    startup = median_seconds(lambda: subprocess.run([sys.executable, "-m", "rlslint", "--version"], capture_output=True))

    statements = sum(len(json.loads(parse_sql_json(t))["stmts"]) for t in texts)
    print(f"{len(files)} files, {statements} statements, {sum(len(t) for t in texts) / 1e6:.2f} MB (median of {RUNS})")
    rows = [
        ("parse floor: parse_sql_json + json.loads, gc on", floor_with_gc),
        ("parse floor: parse_sql_json + json.loads, gc off", floor),
        ("rlslint pipeline in-process (parse, replay, rules)", pipeline),
        ("rlslint CLI cold, whole directory", cold),
        ("rlslint CLI cold, one file (pre-commit)", one_file),
        ("rlslint CLI, one new file, history cached", warm),
        ("rlslint --version (start-up)", startup),
    ]
    for label, seconds in rows:
        print(f"  {label:<52} {seconds * 1000:8.1f} ms")
    print(f"  pipeline / parse floor: {pipeline / floor:.1f}x (gc off), {pipeline / floor_with_gc:.1f}x of the gc-on floor")


if __name__ == "__main__":
    main()
