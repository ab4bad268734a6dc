"""Every install snippet in the README names a revision that exists: the current release's tag.

A fresh clone may or may not carry tags, so the test checks what each case can show: the
snippets name ``v`` + the package version and that release has a CHANGELOG entry (always);
and when the clone has tags, the tag exists and points at a commit of that version.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from rlslint import __version__

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")
SNIPPETS = "\n".join(re.findall(r"^```[a-z]*\n(.*?)^```", README, re.MULTILINE | re.DOTALL))  # code blocks only
TAG = f"v{__version__}"

# Each way the README installs rlslint at a revision: (what, pattern capturing the revision).
REVISION_PATTERNS = {
    "pre-commit rev": re.compile(r"^\s*rev:\s*(\S+)\s*$", re.MULTILINE),
    "action uses": re.compile(r"uses:\s*rlslint/rlslint@(\S+)"),
    "pip git URL": re.compile(r"git\+https://github\.com/rlslint/rlslint@([^\s\"'`]+)"),
}


def snippet_revisions() -> list[tuple[str, str]]:
    return [(what, match.group(1)) for what, pattern in REVISION_PATTERNS.items() for match in pattern.finditer(SNIPPETS)]


def git(*args: str) -> str:
    return subprocess.run(["git", "-C", str(ROOT), "-c", "core.fsmonitor=false", *args],
                          capture_output=True, text=True, check=True).stdout


def test_every_snippet_names_the_current_release():
    found = snippet_revisions()
    # The pre-commit config, the workflow's action step, and pip in "Install and run" and the workflow.
    assert sorted(what for what, _ in found) == ["action uses", "pip git URL", "pip git URL", "pre-commit rev"]
    assert [(what, rev) for what, rev in found if rev != TAG] == []


def test_the_release_is_the_package_version_and_has_an_entry():
    with (ROOT / "pyproject.toml").open("rb") as f:
        assert tomllib.load(f)["project"]["version"] == __version__
    assert re.search(rf"^## {re.escape(TAG)}$", (ROOT / "CHANGELOG.md").read_text(encoding="utf-8"), re.MULTILINE)


def test_the_tag_exists_on_a_commit_of_that_version_when_the_clone_has_tags():
    try:
        tags = git("tag", "--list").split()
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout: tags cannot be checked")
    if not tags:
        pytest.skip("this clone carries no tags (a shallow or tag-less clone); the snippets are checked "
                    "against the package version and CHANGELOG only")
    assert TAG in tags, f"the README names {TAG}, but the repository's tags are {sorted(tags)}"
    tagged = tomllib.loads(git("show", f"{TAG}:pyproject.toml"))["project"]["version"]
    assert tagged == __version__, f"{TAG} points at a commit of version {tagged}"
