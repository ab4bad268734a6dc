"""Benchmarks: what a user waits for, rlslint against its peers, as whole processes.

    python bench/run.py [--runs N] [--json PATH] [--quick]

Each figure is a whole process, measured by the operating system (CPU = user + system time of
the finished child, wall time, peak resident memory), and each comparison interleaves the
two commands (A B A B ...) in the same run so that the machine's drift cancels out of the
ratio; the table shows medians of those pairs. Corpora come from the shared generator
(``$RLSLINT_SHARED/bench/gen_synthetic.py``): 500 files, 5,000 files, and the 500 with
non-ASCII comments added. Peers (squawk, pgrls) are installed from PyPI into
``bench/.peers``, a virtual environment of their own; a peer that cannot be installed is
reported as such in the table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("RLSLINT_SHARED") or ROOT.parent / "shared")
PEERS = ROOT / "bench" / ".peers"
PEER_PACKAGES = ("squawk-cli", "pgrls")
RLSLINT = [sys.executable, "-m", "rlslint"]
NEW_FILE = "29991231235959_new.sql"  # sorts after every generated migration
NON_ASCII = "-- Überprüfung: Zugriff nur für Mitglieder des Mandanten ✓ — データ\n"


@dataclass(frozen=True)
class Sample:
    cpu: float
    wall: float
    peak_mib: float
    status: int


def measure(cmd: list[str], env: dict | None = None, cwd: Path | None = None) -> Sample:
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, cwd=cwd)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    return Sample(usage.ru_utime + usage.ru_stime, wall, usage.ru_maxrss / 1024, proc.returncode)


# Issue 11's targets, by figure: ("ratio", x) is the CPU ratio at most x; ("above", ms) is
# rlslint's CPU at most that many milliseconds above the reference's; ("peak", MB) is
# rlslint's peak resident memory at most that many megabytes (10^6 bytes).
TARGETS = {
    "cold, 500 files / parse floor": ("ratio", 2.0),
    "cold, 500 files / squawk": ("ratio", 2.5),
    "warm, 500 files / squawk": ("ratio", 1.0),
    "pre-commit (newest file, history cached) / squawk on the whole set": ("ratio", 1.0),
    "pre-commit (a new newest file each run) / squawk on the whole set": ("ratio", 1.0),
    "500 files non-ASCII / ASCII, rlslint": ("ratio", 1.1),
    "one-file lint / python -c pass": ("above", 60),
    "--version / python -c pass": ("above", 60),
    "cold, 5,000 files / 500 files": ("ratio", 11.0),
    "peak memory, 5,000 files cold": ("peak", 150),
}


@dataclass
class Figure:
    name: str
    a: str
    b: str | None
    a_cpu: float
    a_wall: float
    a_peak_mib: float
    b_cpu: float | None = None
    b_wall: float | None = None
    b_peak_mib: float | None = None
    cpu_ratio: float | None = None  # median of the pairs' A/B
    wall_ratio: float | None = None
    note: str = ""
    target: str = ""  # issue 11's target for this figure, and whether this run met it


def compare(name: str, a: tuple[str, list[str], dict], b: tuple[str, list[str], dict] | None, runs: int,
            cwd: Path) -> Figure:
    """A and B in turn, one warm-up each, then ``runs`` pairs."""
    measure(a[1], a[2], cwd)
    if b is not None:
        measure(b[1], b[2], cwd)
    pairs = []
    for _ in range(runs):
        first = measure(a[1], a[2], cwd)
        second = measure(b[1], b[2], cwd) if b is not None else None
        pairs.append((first, second))
    med = lambda values: statistics.median(values)  # noqa: E731
    figure = Figure(name, a[0], b[0] if b else None, med(p[0].cpu for p in pairs), med(p[0].wall for p in pairs),
                    max(p[0].peak_mib for p in pairs))
    if b is not None:
        figure.b_cpu = med(p[1].cpu for p in pairs)
        figure.b_wall = med(p[1].wall for p in pairs)
        figure.b_peak_mib = max(p[1].peak_mib for p in pairs)
        figure.cpu_ratio = med(p[0].cpu / max(p[1].cpu, 1e-6) for p in pairs)
        figure.wall_ratio = med(p[0].wall / max(p[1].wall, 1e-6) for p in pairs)
    return figure


def generate(work: Path, count: int) -> Path:
    project = work / f"p{count}"
    migrations = project / "supabase" / "migrations"
    subprocess.run([sys.executable, str(SHARED / "bench" / "gen_synthetic.py"), str(count), str(migrations)],
                   check=True, capture_output=True)
    (project / ".git").mkdir()  # a checkout, as users have it
    return project


def non_ascii_copy(project: Path, work: Path) -> Path:
    other = work / (project.name + "-non-ascii")
    shutil.copytree(project, other)
    for path in sorted((other / "supabase" / "migrations").glob("*.sql")):
        text = path.read_text(encoding="utf-8")
        path.write_text("".join(NON_ASCII + line if line.startswith("create") else line
                                for line in text.splitlines(keepends=True)), encoding="utf-8")
    return other


def install_peers() -> dict[str, str]:
    """Each peer's executable, or why it is missing."""
    found: dict[str, str] = {}
    python = PEERS / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(PEERS)], check=True, capture_output=True)
    for package in PEER_PACKAGES:
        proc = subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", package],
                              capture_output=True, text=True)
        executable = PEERS / "bin" / ("squawk" if package == "squawk-cli" else package)
        if proc.returncode == 0 and executable.exists():
            found[package] = str(executable)
        else:
            found[package] = "not installable here: " + (proc.stderr.strip().splitlines() or ["no executable"])[-1]
    return found


FLOOR = """
import json, sys
from pathlib import Path
from pglast.parser import parse_sql_json
for path in sorted(Path(sys.argv[1]).glob("*.sql")):
    json.loads(parse_sql_json(path.read_text(encoding="utf-8")))
"""

# pglast's parser, imported as ``python -m rlslint`` imports it (rlslint.deferred).
PARSER_AS_LOADED = """
from rlslint.deferred import defer
defer("pglast", ("ast", "enums"))
import pglast.parser
"""


def compile_bytecode() -> None:
    """Byte-compile rlslint as ``pip install`` does for a wheel.

    An editable checkout compiles its modules on first import and caches them in
    ``__pycache__``; where ``PYTHONDONTWRITEBYTECODE`` is set (CI images often set it) that
    cache is never written, and every run would compile rlslint's sources again (about
    170 ms of the start-up here), which no installed copy pays. The peers are installed
    from wheels and so are compiled already.
    """
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "rlslint")], check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="pairs per figure (default 5)")
    parser.add_argument("--json", type=Path, default=ROOT / "bench" / "results.json", help="where to write the figures")
    parser.add_argument("--quick", action="store_true", help="skip the 5,000-file corpus")
    parser.add_argument("--only", action="append", default=[], metavar="TEXT",
                        help="run only the figures whose name contains TEXT (repeatable), e.g. --only 'cold, 500'")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="rlslint-bench-"))
    peers = install_peers()
    compile_bytecode()
    squawk, pgrls = peers["squawk-cli"], peers["pgrls"]
    cache = work / "cache"
    env = {**os.environ, "RLSLINT_CACHE_DIR": str(cache)}
    env.pop("RLSLINT_STRICT", None)
    figures: list[Figure] = []
    runs = args.runs

    def run(name, a, b=None, at=None, count=runs):
        if args.only and not any(text in name for text in args.only):
            return None
        figure = compare(name, a, b, count, at or work)
        figure.target = judge(figure)
        figures.append(figure)
        print(_row(figure), flush=True)
        return figure

    small = generate(work, 500)
    small_set = small / "supabase" / "migrations"
    files = sorted(small_set.glob("*.sql"))
    floor = ("parse floor", [sys.executable, "-c", FLOOR, str(small_set)], env)
    cold = ("rlslint cold", [*RLSLINT, "check", "--no-cache", "--format", "json", str(small_set)], env)
    warm = ("rlslint warm", [*RLSLINT, "check", "--format", "json", str(small_set)], env)
    newest = ("rlslint pre-commit", [*RLSLINT, "check", "--format", "json", str(files[-1])], env)
    # What a commit that adds a migration runs: the file is new (its content differs each run,
    # the shell's pid in it), and the history before it was judged by the run before.
    fresh = f'printf "create table public.t%s (id int primary key);\\n" "$$" > {small_set / NEW_FILE} && exec "$@"'
    new_file = ("rlslint pre-commit, new file",
                ["sh", "-c", fresh, "sh", *RLSLINT, "check", "--format", "json", str(small_set / NEW_FILE)], env)
    load_before = os.getloadavg()
    print(f"{platform.node()} {platform.machine()} {os.cpu_count()} CPUs, Python {platform.python_version()}, "
          f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; medians of {runs} interleaved pairs; "
          f"load average {load_before[0]:.1f}")
    run("cold, 500 files / parse floor", cold, floor, small)
    squawk_all = ("squawk, 500 files", [squawk, *map(str, files)], env) if os.path.isabs(squawk) else None
    if squawk_all:
        run("cold, 500 files / squawk", cold, squawk_all, small)
    subprocess.run(warm[1], env=env, capture_output=True, cwd=small)
    if squawk_all:
        run("warm, 500 files / squawk", warm, squawk_all, small)
        run("pre-commit (newest file, history cached) / squawk on the whole set", newest, squawk_all, small)
        run("pre-commit (a new newest file each run) / squawk on the whole set", new_file, squawk_all, small)
    else:
        run("warm, 500 files / cold", warm, cold, small)
        run("pre-commit (newest file, history cached) / cold", newest, cold, small)
        run("pre-commit (a new newest file each run) / cold", new_file, cold, small)
    (small_set / NEW_FILE).unlink(missing_ok=True)
    if os.path.isabs(pgrls):
        offline = [pgrls, "lint", *[arg for f in files for arg in ("--sql-file", str(f))]]
        run("cold, 500 files / pgrls (offline)", cold, ("pgrls", offline, env), small, count=max(1, runs // 2))
    non_ascii = non_ascii_copy(small, work)
    non_ascii_set = non_ascii / "supabase" / "migrations"
    run("500 files non-ASCII / ASCII, rlslint", ("rlslint non-ASCII", [*cold[1][:-1], str(non_ascii_set)], env), cold,
        non_ascii)
    run("500 files non-ASCII / ASCII, parse floor", ("floor non-ASCII", [sys.executable, "-c", FLOOR, str(non_ascii_set)], env),
        floor, non_ascii)
    one = work / "one" / "supabase" / "migrations"
    one.mkdir(parents=True)
    shutil.copy(files[0], one)
    python_pass = ("python -c pass", [sys.executable, "-c", "pass"], env)
    run("one-file lint / python -c pass", ("rlslint one file", [*RLSLINT, "check", "--no-cache", str(one)], env),
        python_pass, one.parent.parent)
    run("--version / python -c pass", ("rlslint --version", [*RLSLINT, "--version"], env), python_pass)
    # The floor under a one-file lint: its two dependencies' imports, pglast's as rlslint loads it.
    run("import click / python -c pass", ("import click", [sys.executable, "-c", "import click"], env), python_pass)
    run("import pglast.parser, as rlslint does / python -c pass",
        ("import pglast.parser", [sys.executable, "-c", PARSER_AS_LOADED], env), python_pass)
    run("both imports / python -c pass",
        ("import click, pglast.parser", [sys.executable, "-c", PARSER_AS_LOADED + "import click\n"], env), python_pass)
    scaled = None
    if not args.quick and (not args.only or any(text in "cold, 5,000 files / 500 files" for text in args.only)):
        big = generate(work, 5000)
        big_cold = ("rlslint cold 5,000", [*cold[1][:-1], str(big / "supabase" / "migrations")], env)
        scaled = run("cold, 5,000 files / 500 files", big_cold, cold, big, count=max(1, runs // 2))
    if scaled is not None:
        memory = Figure("peak memory, 5,000 files cold", scaled.a, None, scaled.a_cpu, scaled.a_wall, scaled.a_peak_mib)
        memory.target = judge(memory)
        figures.append(memory)
        print(_row(memory), flush=True)
    result = {
        "machine": {"node": platform.node(), "machine": platform.machine(), "cpus": os.cpu_count(),
                    "python": platform.python_version(), "platform": platform.platform()},
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "runs": runs,
        # Other work on the machine slows both sides of a pair; the ratios hold better than the times.
        "load_average": {"start": load_before[0], "end": os.getloadavg()[0]},
        "peers": peers,
        "figures": [asdict(f) for f in figures],
    }
    args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print()
    print(markdown_table(figures))
    print()
    for package, where in peers.items():
        if not os.path.isabs(where):
            print(f"{package}: {where}")
    print(f"figures written to {args.json}")
    shutil.rmtree(work, ignore_errors=True)


def judge(f: Figure) -> str:
    """``≤ 2x: met`` / ``≤ 2x: missed``; empty for a figure without a target."""
    if f.name not in TARGETS:
        return ""
    kind, bound = TARGETS[f.name]
    if kind == "ratio":
        met, said = f.cpu_ratio is not None and f.cpu_ratio <= bound, f"≤ {bound:g}x"
    elif kind == "above":
        met, said = f.b_cpu is not None and (f.a_cpu - f.b_cpu) * 1000 <= bound, f"≤ +{bound} ms"
    else:
        met, said = f.a_peak_mib * 2**20 / 1e6 <= bound, f"≤ {bound} MB"
    return f"{said}: {'met' if met else 'missed'}"


def markdown_table(figures: list[Figure]) -> str:
    """The table the README quotes: CPU medians, the median of the pairs' ratios, the target."""
    lines = ["| figure | rlslint CPU | reference CPU | ratio | target |", "|---|---|---|---|---|"]
    for f in figures:
        if f.name.startswith("peak memory"):
            lines.append(f"| {f.name} | {f.a_peak_mib:.0f} MiB | | | {f.target} |")
            continue
        if f.b_cpu is None:
            lines.append(f"| {f.name} | {f.a_cpu * 1000:.0f} ms | | | {f.target} |")
            continue
        above = TARGETS.get(f.name, ("",))[0] == "above" or f.b == "python -c pass"
        ratio = f"+{(f.a_cpu - f.b_cpu) * 1000:.0f} ms" if above else f"{f.cpu_ratio:.2f}x"
        lines.append(f"| {f.name} | {f.a_cpu * 1000:.0f} ms | {f.b_cpu * 1000:.0f} ms | {ratio} | {f.target} |")
    return "\n".join(lines)


def _row(f: Figure) -> str:
    a = f"{f.a_cpu * 1000:7.0f} ms cpu {f.a_wall * 1000:7.0f} ms wall {f.a_peak_mib:6.1f} MiB"
    if f.b is None:
        return f"{f.name:<66} {a} {f.target}"
    b = f"{f.b_cpu * 1000:7.0f} ms cpu {f.b_peak_mib:6.1f} MiB"
    return f"{f.name:<66} {a} | {b} | cpu x{f.cpu_ratio:.2f} wall x{f.wall_ratio:.2f} {f.target}"


if __name__ == "__main__":
    main()
