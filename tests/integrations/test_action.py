"""The composite action, run step by step as a GitHub runner would.

Each `run:` script goes through `bash --noprofile --norc -eo pipefail` (the runner's bash
invocation) with the `GITHUB_*` and `RUNNER_*` variables a runner sets, `${{ inputs.* }}`
expanded from the documented workflow's `with:`. `uses:` steps (setup-python) are the
runner's business: the test's own Python stands in for them. The install step really
pip-installs a snapshot of this checkout into a fresh virtualenv, which makes this slow.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import yaml

from tests.support.ci_support import ROOT, sarif_errors, snapshot_repo, snippet

pytestmark = pytest.mark.slow

LEGACY = "create table public.legacy (id bigint primary key, owner uuid references auth.users);\n"
CLEAN = """create table public.notes (id bigint primary key, body text);
alter table public.notes enable row level security;
create policy notes_all on public.notes for all to authenticated using (true);
"""
EXPRESSION = re.compile(r"\$\{\{\s*inputs\.([\w-]+)\s*\}\}")


@pytest.fixture(scope="module")
def action_path(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("action")
    snapshot_repo(path)
    return path


@pytest.fixture(scope="module")
def runner_temp(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("runner-temp")  # shared, like one job's RUNNER_TEMP


def documented_step() -> tuple[dict, dict]:
    workflow = yaml.safe_load(snippet("workflow"))
    steps = workflow["jobs"]["rlslint"]["steps"]
    ours = next(s for s in steps if s.get("uses", "").startswith("rlslint/rlslint@"))
    return workflow, ours


def expand(text: str, inputs: dict[str, str]) -> str:
    expanded = EXPRESSION.sub(lambda m: inputs[m.group(1)], text)
    assert "${{" not in expanded, f"the test runner only knows inputs.*: {expanded}"
    return expanded


def run_action(action_path: Path, workspace: Path, runner_temp: Path, with_: dict[str, str],
               extra_env: dict[str, str] | None = None) -> tuple[int, str, str]:
    """(exit status of the first failing step or 0, the steps' stdout, the step summary)."""
    action = yaml.safe_load((ROOT / "action.yml").read_text(encoding="utf-8"))
    assert action["runs"]["using"] == "composite"
    unknown = set(with_) - set(action["inputs"])
    assert not unknown, f"the workflow passes inputs the action does not declare: {unknown}"
    inputs = {name: str(spec.get("default", "")) for name, spec in action["inputs"].items()} | with_
    summary = workspace.parent / "step-summary.md"
    summary.write_text("earlier output\n")
    base_env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "RUNNER_"))}
    base_env |= {
        "PATH": str(Path(sys.executable).parent) + os.pathsep + os.environ["PATH"],  # what setup-python provides
        "CI": "true", "GITHUB_ACTIONS": "true", "GITHUB_ACTION_PATH": str(action_path),
        "GITHUB_WORKSPACE": str(workspace), "RUNNER_TEMP": str(runner_temp),
        "GITHUB_STEP_SUMMARY": str(summary), "GITHUB_OUTPUT": str(workspace.parent / "output"),
    }
    stdout = ""
    for step in action["runs"]["steps"]:
        if "uses" in step:
            assert step["uses"].startswith("actions/setup-python@")
            continue
        assert step["shell"] == "bash"
        env = base_env | (extra_env or {}) | {k: expand(str(v), inputs) for k, v in step.get("env", {}).items()}
        script = workspace.parent / "step.sh"
        script.write_text(expand(step["run"], inputs))
        done = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)], cwd=workspace, env=env,
                              capture_output=True, text=True, timeout=600)
        stdout += done.stdout
        if done.returncode:
            return done.returncode, stdout, summary.read_text(encoding="utf-8")
    return 0, stdout, summary.read_text(encoding="utf-8")


def _project(tmp_path: Path, *migrations: tuple[str, str]) -> Path:
    workspace = tmp_path / "workspace"
    (workspace / "supabase" / "migrations").mkdir(parents=True)
    (workspace / "supabase" / "config.toml").write_text('[api]\nschemas = ["public"]\n')
    for name, sql in migrations:
        (workspace / "supabase" / "migrations" / name).write_text(sql)
    return workspace


def _rlslint(workspace: Path, *args: str) -> str:
    env = {k: v for k, v in os.environ.items() if k != "GITHUB_ACTIONS"} | {"NO_COLOR": "1"}
    return subprocess.run([sys.executable, "-m", "rlslint", *args], cwd=workspace, env=env, capture_output=True,
                          text=True).stdout


def test_the_documented_workflow_uploads_the_sarif_the_action_writes():
    workflow, ours = documented_step()
    upload = next(s for s in workflow["jobs"]["rlslint"]["steps"] if s.get("uses", "").startswith("github/codeql-action/upload-sarif@"))
    assert upload["with"]["sarif_file"] == ours["with"]["sarif"]
    assert f"hashFiles('{ours['with']['sarif']}')" in upload["if"] and "!cancelled()" in upload["if"]
    assert workflow["permissions"]["security-events"] == "write"


def test_action_annotates_fails_and_writes_the_summary_and_sarif(action_path, runner_temp, tmp_path):
    workspace = _project(tmp_path, ("20240101000000_legacy.sql", LEGACY))
    _, ours = documented_step()
    status, stdout, summary = run_action(action_path, workspace, runner_temp, {k: str(v) for k, v in ours["with"].items()})
    assert status == 1
    annotations = [line for line in stdout.splitlines() if line.startswith("::")]
    path = "supabase/migrations/20240101000000_legacy.sql"
    assert annotations == [
        f"::error file={path},line=1,col=1,endLine=1,endColumn=85,title=RLS001%3A table-without-rls::table public.legacy "
        "is exposed through the API (schema public) but it is created without row level security: anon and "
        "authenticated can SELECT, INSERT, UPDATE and DELETE every row%0AFix (in a new migration):%0A-- with row level security on, public.legacy is "
        "deny-all for SELECT, INSERT, UPDATE, DELETE to the API's roles (anon, authenticated)%0A-- until policies grant "
        "them: the app stops reading or writing it.%0AALTER TABLE public.legacy ENABLE ROW LEVEL SECURITY;%0A-- decide "
        "which rows SELECT, INSERT, UPDATE, DELETE may touch on public.legacy: no policy guards writes and no owner column "
        "says who may change a row.%0A-- Replace <condition>, or grant nothing on purpose and suppress the finding:%0A"
        "-- CREATE POLICY legacy_select ON public.legacy FOR SELECT TO authenticated USING (<condition>);%0A"
        "-- CREATE POLICY legacy_insert ON public.legacy FOR INSERT TO authenticated WITH CHECK (<condition>);%0A"
        "-- CREATE POLICY legacy_update ON public.legacy FOR UPDATE TO authenticated USING (<condition>) WITH CHECK "
        "(<condition>);%0A-- CREATE POLICY legacy_delete ON public.legacy FOR DELETE TO authenticated USING (<condition>);",
        f"::error file={path},line=1,col=63,endLine=1,endColumn=84,title=FK001%3A owner-fk-without-cascade::foreign key "
        "legacy_owner_fkey on public.legacy references owner table auth.users with ON DELETE NO ACTION: deleting a user "
        "fails while rows of public.legacy point at them%0AFix (in a new migration):%0A-- decide what deleting a user does "
        "to the rows of public.legacy that public.legacy.owner points at;%0A-- rlslint cannot tell whether the column "
        "owns the row or records who acted. Either:%0A-- the row belongs to the user, and goes with them:%0A-- ALTER "
        "TABLE public.legacy%0A--   DROP CONSTRAINT legacy_owner_fkey,%0A--   ADD CONSTRAINT legacy_owner_fkey FOREIGN "
        "KEY (owner) REFERENCES auth.users (id) ON DELETE CASCADE;%0A-- or the column records who acted, and the row "
        "stays without them:%0A-- ALTER TABLE public.legacy%0A--   DROP CONSTRAINT legacy_owner_fkey,%0A--   ADD "
        "CONSTRAINT legacy_owner_fkey FOREIGN KEY (owner) REFERENCES auth.users (id) ON DELETE SET NULL;",
        f"::warning file={path},line=1,col=63,endLine=1,endColumn=84,title=IDX001%3A unindexed-foreign-key::foreign key "
        "legacy_owner_fkey on public.legacy (owner) has no index: deletes from auth.users and joins on this key scan the "
        "whole table%0AFix (in a new migration):%0ACREATE INDEX IF NOT EXISTS legacy_owner_idx ON public.legacy (owner);",
    ]
    assert stdout.startswith(f"{path}:1:1: RLS001 [error] table public.legacy")  # the text report too, for the log
    assert summary == "earlier output\n" + _rlslint(workspace, "--format", "markdown")
    assert "| `public.legacy` | ❌ | ➖ | ➖ | ➖ | ➖ | ❌ | ❌ |" in summary
    sarif = (workspace / ours["with"]["sarif"]).read_text(encoding="utf-8")
    assert sarif_errors(sarif) == []
    assert [r["ruleId"] for r in json.loads(sarif)["runs"][0]["results"]] == ["RLS001", "FK001", "IDX001"]


def test_action_passes_a_clean_project_and_honours_fail_on(action_path, runner_temp, tmp_path):
    workspace = _project(tmp_path, ("20240101000000_notes.sql", CLEAN))
    status, stdout, summary = run_action(action_path, workspace, runner_temp, {})
    assert status == 0
    assert [line for line in stdout.splitlines() if line.startswith("::")] == []
    assert summary == "earlier output\n" + _rlslint(workspace, "--format", "markdown")
    assert "✅ No findings in 1 file." in summary
    assert "| `public.notes` | ✅ | ✅ | ✅ | ✅ | ✅ | ➖ | ➖ |" in summary

    # Only an IDX001 warning: fails at the default threshold, passes with fail-on: error.
    (workspace / "supabase" / "migrations" / "20240102000000_fk.sql").write_text(
        "alter table public.notes add column parent bigint references public.notes;\n")
    assert run_action(action_path, workspace, runner_temp, {"paths": "supabase/migrations"})[0] == 1
    status, stdout, _ = run_action(action_path, workspace, runner_temp, {"fail-on": "error", "args": "--select IDX"})
    assert status == 0
    assert [line.split("::")[1] for line in stdout.splitlines() if line.startswith("::")] == [
        "warning file=supabase/migrations/20240102000000_fk.sql,line=1,col=51,endLine=1,endColumn=74,"
        "title=IDX001%3A unindexed-foreign-key"]


def test_action_inputs_cannot_inject_shell(action_path, runner_temp, tmp_path):
    workspace = _project(tmp_path, ("20240101000000_notes.sql", CLEAN))
    status, stdout, _ = run_action(action_path, workspace, runner_temp, {"args": "$(touch pwned) `touch pwned2`"})
    assert status == 2  # rlslint saw the text as (unknown) paths, and the shell ran nothing
    assert not (workspace / "pwned").exists() and not (workspace / "pwned2").exists()


def test_the_documented_cli_step_writes_the_summary(tmp_path):
    workspace = _project(tmp_path, ("20240101000000_legacy.sql", LEGACY))
    steps = yaml.safe_load(snippet("workflow-cli-step"))
    assert steps[0]["run"].startswith("pip install ")  # the test's Python already has rlslint
    summary = tmp_path / "summary.md"
    env = {k: v for k, v in os.environ.items() if not k.startswith("GITHUB_")} | {
        "GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": str(summary), "NO_COLOR": "1",
        "PATH": str(Path(sys.executable).parent) + os.pathsep + os.environ["PATH"]}
    done = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", steps[1]["run"]], cwd=workspace,
                          env=env, capture_output=True, text=True)
    assert done.returncode == 1
    assert summary.read_text(encoding="utf-8") == _rlslint(workspace, "--format", "markdown")
    assert sarif_errors((workspace / "rlslint.sarif").read_text(encoding="utf-8")) == []
    assert sum(line.startswith("::") for line in done.stdout.splitlines()) == 3


def test_action_verify_input_applies_the_migrations_to_postgresql(action_path, runner_temp, tmp_path):
    trigger = (Path(__file__).parents[1] / "fixtures" / "verify" / "VER001-model-differs-from-catalog" / "fail.sql")
    workspace = _project(tmp_path, ("20240101000000_notes.sql", trigger.read_text(encoding="utf-8")))
    scratch = Path(tempfile.mkdtemp(prefix="rlslint-action-verify-"))  # reachable by the server's own user as root
    scratch.chmod(0o755)
    if os.geteuid() == 0:  # as root the server runs as another user, who must reach the venv's binaries too
        for directory in (runner_temp, *runner_temp.parents):
            if directory == Path(tempfile.gettempdir()):
                break
            directory.chmod(directory.stat().st_mode | 0o011)
    try:
        status, stdout, _ = run_action(action_path, workspace, runner_temp, {"verify": "true"}, {"TMPDIR": str(scratch)})
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    assert status == 1, stdout
    annotations = [line for line in stdout.splitlines() if line.startswith("::") and "VER001" in line]
    assert len(annotations) == 2 and all("line=17," in line for line in annotations)
