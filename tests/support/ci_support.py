"""Helpers shared by the integration tests: the SARIF schema, doc snippets, a repository snapshot."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import jsonschema

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "README.md"

_SNIPPET = re.compile(r"<!-- snippet: ([\w-]+) -->\n```\w*\n(.*?)\n```", re.DOTALL)


def snippet(name: str) -> str:
    """A fenced block of README.md, marked ``<!-- snippet: NAME -->``."""
    found = dict(_SNIPPET.findall(DOC.read_text(encoding="utf-8")))
    return found[name]


def sarif_errors(text: str) -> list[str]:
    # The official OASIS schema (sarif-2.1/schema/sarif-schema-2.1.0.json), JSON Schema draft-04.
    schema = json.loads((ROOT / "tests" / "data" / "sarif-schema-2.1.0.json").read_text(encoding="utf-8"))
    validator = jsonschema.Draft4Validator(schema)
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(json.loads(text))]


def git(*args: str, cwd: Path) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.invalid",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.invalid"}
    return subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True).stdout


def snapshot_repo(dest: Path) -> str:
    """This checkout as it is on disk (tracked and untracked, not ignored) committed into ``dest``.

    pre-commit's try-repo and a pip install see what a user would get from the repository,
    uncommitted work included, without touching the checkout's own git state.
    """
    listed = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"], cwd=ROOT,
                            check=True, capture_output=True).stdout.decode().split("\0")
    for name in filter(None, listed):
        source = ROOT / name
        if source.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)
    git("init", "-q", cwd=dest)
    git("add", "-A", cwd=dest)
    git("commit", "-q", "-m", "snapshot", cwd=dest)
    return git("rev-parse", "HEAD", cwd=dest).strip()
