"""The pre-commit hook, run by the real pre-commit against a snapshot of this checkout.

Slow (pre-commit pip-installs the hook into its own virtualenv), but part of the default run:
the hook manifest is only proven by pre-commit itself.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.ci_support import git, snapshot_repo, snippet

pytestmark = pytest.mark.slow

OLD = "create table public.legacy (id bigint primary key);\n"
NO_RLS = "create table public.notes (id bigint primary key, body text);\n"
CLEAN = """create table public.notes (id bigint primary key, body text);
alter table public.notes enable row level security;
create policy notes_all on public.notes for all to authenticated using (true);
"""
BROKEN = "create table public.notes (id bigint primary key;\n"


@pytest.fixture(scope="module")
def hook_repo(tmp_path_factory) -> tuple[Path, str]:
    repo = tmp_path_factory.mktemp("hook-repo")
    return repo, snapshot_repo(repo)


@pytest.fixture
def project(tmp_path: Path, tmp_path_factory) -> tuple[Path, dict[str, str]]:
    """A Supabase project whose committed history already has a finding (public.legacy)."""
    root = tmp_path / "project"
    (root / "supabase" / "migrations").mkdir(parents=True)
    (root / "supabase" / "config.toml").write_text('[api]\nschemas = ["public"]\n')
    (root / "supabase" / "migrations" / "20240101000000_legacy.sql").write_text(OLD)
    git("init", "-q", cwd=root)
    git("add", "-A", cwd=root)
    git("commit", "-q", "-m", "legacy", cwd=root)
    home = tmp_path_factory.getbasetemp() / "pre-commit-home"  # shared: the hook env is built once
    bin_dir = str(Path(sys.executable).parent)
    env = {**os.environ, "PRE_COMMIT_HOME": str(home), "PATH": bin_dir + os.pathsep + os.environ["PATH"],
           "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.invalid",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.invalid", "NO_COLOR": "1"}
    env.pop("GITHUB_ACTIONS", None)
    return root, env


def _stage(root: Path, name: str, sql: str) -> str:
    path = f"supabase/migrations/{name}"
    (root / path).write_text(sql)
    git("add", path, cwd=root)
    return path


def _run(args: list[str], root: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    """stderr joins stdout: git hands a hook's output to stderr."""
    return subprocess.run(args, cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=600)


def test_try_repo_fails_a_migration_that_creates_a_table_without_rls(hook_repo, project):
    repo, _ = hook_repo
    root, env = project
    path = _stage(root, "20240201000000_notes.sql", NO_RLS)
    done = _run([sys.executable, "-m", "pre_commit", "try-repo", str(repo), "rlslint", "--verbose"], root, env)
    out = done.stdout
    assert done.returncode == 1, out
    assert "rlslint..................................................................Failed" in out
    assert (f"{path}:1:1: RLS001 [error] table public.notes is exposed through the API (schema public) but it is "
            "created without row level security: anon and authenticated can SELECT, INSERT, UPDATE and DELETE every row") in out
    assert "legacy" not in out  # the old file's finding is not this commit's business
    assert "Found 1 finding (1 error) in 1 file." in out


def test_the_documented_hook_gates_commits(hook_repo, project):
    repo, rev = hook_repo
    root, env = project
    config = snippet("pre-commit-config").replace("https://github.com/rlslint/rlslint", str(repo)).replace("v0.1.0", rev)
    (root / ".pre-commit-config.yaml").write_text(config + "\n")
    git("add", ".pre-commit-config.yaml", cwd=root)
    installed = _run([sys.executable, "-m", "pre_commit", "install"], root, env)
    assert installed.returncode == 0, installed.stdout

    # A clean migration commits although the history it replays has a finding.
    _stage(root, "20240201000000_notes.sql", CLEAN)
    clean = _run(["git", "commit", "-m", "notes"], root, env)
    assert clean.returncode == 0, clean.stdout
    assert "rlslint..................................................................Passed" in clean.stdout

    # A table without RLS does not commit, and the finding is on screen.
    path = _stage(root, "20240202000000_drafts.sql", NO_RLS.replace("notes", "drafts"))
    bad = _run(["git", "commit", "-m", "drafts"], root, env)
    assert bad.returncode == 1
    assert "rlslint..................................................................Failed" in bad.stdout
    assert f"{path}:1:1: RLS001 [error] table public.drafts is exposed through the API" in bad.stdout
    assert "public.legacy" not in bad.stdout

    # Neither does a file rlslint cannot parse.
    git("rm", "-q", "--cached", path, cwd=root)
    path = _stage(root, "20240203000000_broken.sql", BROKEN)
    broken = _run(["git", "commit", "-m", "broken"], root, env)
    assert broken.returncode == 1
    assert f"{path}:1:49: error: syntax error at or near \";\"" in broken.stdout
    assert git("log", "--format=%s", cwd=root).split() == ["notes", "legacy"]
