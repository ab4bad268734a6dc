"""Benchmark of ``rlslint check --verify``: 500 generated files applied to a throwaway PostgreSQL.

    python bench/verify.py [--files N] [--runs N] [--json PATH]

Each run is a whole process (``python -m rlslint check --verify --no-cache``), from the
server's start to its removal, measured by the operating system: wall time, and the CPU
time (user + system) of rlslint and of the programs it waited for (initdb, pg_ctl). The
server's own processes are not rlslint's children once pg_ctl has started them, so their
CPU is not in that figure; the wall time includes it. Each verify run is paired with a
static run of the same files (``rlslint check --no-cache``), so the ratio of the two, taken
in one run, cancels the machine's drift. The budget is 30 s of wall time for 500 files.
"""

from __future__ import annotations

import argparse
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
BUDGET_SECONDS = 30.0


def measure(cmd: list[str], cwd: Path) -> tuple[float, float, int]:
    """(wall seconds, CPU seconds, exit status) of one whole process."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    if proc.stderr is not None:
        proc.stderr.close()
    return wall, usage.ru_utime + usage.ru_stime, os.waitstatus_to_exitcode(status)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=500)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    # Under the system's temporary directory, so PostgreSQL's own system user can reach it when run as root.
    with tempfile.TemporaryDirectory(prefix="rlslint-bench-verify-") as work:
        project = Path(work)
        project.chmod(0o755)
        migrations = project / "supabase" / "migrations"
        subprocess.run([sys.executable, str(SHARED / "bench" / "gen_synthetic.py"), str(args.files), str(migrations),
                        "--manifest", str(project / "manifest.json")], check=True, capture_output=True)
        rlslint = [sys.executable, "-m", "rlslint", "check", "--no-cache", "--format", "concise"]
        pairs = []
        for _ in range(args.runs):
            verify = measure([*rlslint, "--verify"], project)
            static = measure(rlslint, project)
            pairs.append((verify, static))
    verify_wall = statistics.median(v[0] for v, _ in pairs)
    verify_cpu = statistics.median(v[1] for v, _ in pairs)
    static_wall = statistics.median(s[0] for _, s in pairs)
    ratio = statistics.median(v[0] / s[0] for v, s in pairs)
    statuses = sorted({v[2] for v, _ in pairs})
    print(f"rlslint check --verify, {args.files} generated files, {args.runs} runs (medians):")
    print(f"  wall {verify_wall:.1f} s (budget {BUDGET_SECONDS:.0f} s: {'within' if verify_wall < BUDGET_SECONDS else 'OVER'})")
    print(f"  CPU of rlslint and the programs it waited for {verify_cpu:.1f} s (the server's own is in the wall time only)")
    print(f"  the static check of the same files: wall {static_wall:.2f} s; verify / static = {ratio:.1f}x")
    print(f"  exit status {', '.join(map(str, statuses))} (1: findings; 2: PostgreSQL rejected statements of the corpus)")
    if args.json:
        args.json.write_text(json.dumps({"files": args.files, "runs": args.runs, "verify_wall": verify_wall,
                                         "verify_cpu": verify_cpu, "static_wall": static_wall, "ratio": ratio,
                                         "statuses": statuses}, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
