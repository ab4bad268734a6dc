"""Fixes are real SQL: applied to PostgreSQL after the migrations, they resolve what they claim to.

For every rule's failing fixture (and the example project), lint with every rule on, write
all the fixes into one new migration after the others, apply the lot to a real server, and
lint again. Every fix must be accepted in that order, every finding whose fix is SQL must be
gone, and no new finding may appear except those listed in ``surfaced_by_enabling_rls``,
whose own fixes must then resolve them. A fix that is only a comment (advice a human has to
follow) leaves its finding in place, and that is all it may leave. RLS002's ``false``
template is applied like any fix: it must be valid SQL, though a human still edits it.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest

from rlslint.diagnostics import Diagnostic
from rlslint.engine import run_rules
from rlslint.rules import ALL_RULES
from rlslint.schema.replay import replay
from rlslint.settings import Settings
from rlslint.sql.deparse import predicate_sql
from rlslint.sql.parse import parse_file
from tests.pgharness import apply_migrations

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures" / "rules"
EVERY_RULE = Settings(enabled=frozenset(rule.code for rule in ALL_RULES))

# Rules that judge only tables with RLS on: their policies are not evaluated otherwise.
RLS_ON_RULES = frozenset({"RLS002", "RLS004", "RLS005", "PERF001"})


def surfaced_by_enabling_rls(new: Diagnostic, before: list[Diagnostic]) -> bool:
    """A finding that the RLS001/RLS003 fix (enable RLS, nothing more) brings into play.

    Enabling RLS is the whole fix for those rules; what the policies should be is for a
    human to decide. On the now-protected table the RLS-only rules speak up: RLS002 for the
    commands no policy grants, PERF001 for per-row calls in policies that now run. Their
    own fixes are applied in a second round.
    """
    return new.code in RLS_ON_RULES and any(d.code in ("RLS001", "RLS003") and d.object == new.object for d in before)


CASES = [pytest.param([path], id=path.parent.name) for path in sorted(FIXTURES.glob("*/fail.sql"))]
CASES.append(pytest.param(sorted((ROOT / "example" / "supabase" / "migrations").glob("*.sql")), id="example"))


def lint(paths: list[Path]) -> list[Diagnostic]:
    parsed = [parse_file(p.as_posix(), p.read_text(encoding="utf-8")) for p in paths]
    assert not [e for f in parsed for e in f.errors]
    diagnostics = run_rules(replay(parsed), EVERY_RULE)
    return sorted(diagnostics, key=lambda d: (d.span.path, d.span.start, d.code))


def is_sql(fix: str) -> bool:
    """The fix holds a statement, not only a comment for a human."""
    return any(line.strip() and not line.strip().startswith("--") for line in fix.splitlines())


@pytest.mark.parametrize("paths", CASES)
def test_fixes_apply_and_resolve_their_findings(pg, tmp_path, paths):
    before = lint(paths)
    after = apply_fixes(pg, tmp_path / "99999999999990_fixes.sql", paths, before)
    advice = Counter(d.identity for d in before if not is_sql(d.fix))
    surfaced = [d for d in after if d.identity not in advice and surfaced_by_enabling_rls(d, before)]
    assert Counter(d.identity for d in after if d not in surfaced) == advice
    # Second round: the fixes of what enabling RLS brought into play.
    if surfaced:
        files = [*paths, tmp_path / "99999999999990_fixes.sql"]
        after = apply_fixes(pg, tmp_path / "99999999999991_fixes.sql", files, surfaced)
        assert Counter(d.identity for d in after) == advice


def apply_fixes(pg, fix_file: Path, paths: list[Path], findings: list[Diagnostic]) -> list[Diagnostic]:
    """Write the findings' SQL fixes as a new migration, apply everything, lint again."""
    fixes = [d.fix for d in findings if is_sql(d.fix)]  # all of them, repeats included: each must be idempotent
    # Two rules asking for the same index must ask in the same words (IF NOT EXISTS, same name).
    indexes = {m.group(2): m.group(1) for f in fixes for m in re.finditer(r"CREATE INDEX IF NOT EXISTS (\S+) ON (.+);", f)}
    assert len(indexes) == len({m for f in fixes for m in re.findall(r"CREATE INDEX .*;", f)}), fixes
    fix_file.write_text("\n\n".join(fixes) + "\n", encoding="utf-8")
    apply_migrations(pg, [*paths, fix_file])  # raises MigrationError if PostgreSQL rejects a fix
    return lint([*paths, fix_file])


def test_each_index_is_created_once(pg, tmp_path):
    """IDX001 and IDX002 (four policies on one column) ask for the same index in the same words."""
    path = tmp_path / "tasks.sql"
    path.write_text(
        "create table public.tasks (id bigint primary key, user_id uuid references auth.users on delete cascade);\n"
        "alter table public.tasks enable row level security;\n"
        + "".join(f"create policy p_{c} on public.tasks for {c} to authenticated "
                  f"{'with check' if c == 'insert' else 'using'} ((select auth.uid()) = user_id);\n"
                  for c in ("select", "insert", "update", "delete")),
        encoding="utf-8",
    )
    found = lint([path])
    assert [(d.code, d.columns) for d in found] == [("IDX001", ("user_id",)), ("IDX002", ("user_id",))]
    idx002 = found[1]
    assert idx002.message.startswith('policies "p_select", "p_insert", "p_update", "p_delete" on public.tasks filter on public.tasks.user_id')
    assert {d.fix for d in found} == {"CREATE INDEX IF NOT EXISTS tasks_user_id_idx ON public.tasks (user_id);"}


def test_rls002_never_copies_an_always_true_or_select_predicate():
    sql = (
        "create table public.profiles (id uuid primary key references auth.users on delete cascade);\n"
        "alter table public.profiles enable row level security;\n"
        'create policy "Public profiles are viewable by everyone." on public.profiles for select using (true);\n'
    )
    (d,) = [d for d in run_rules(replay([parse_file("a.sql", sql)]), EVERY_RULE) if d.code == "RLS002"]
    assert d.fix.splitlines()[0] == (
        "CREATE POLICY profiles_insert ON public.profiles FOR INSERT TO authenticated WITH CHECK ((SELECT auth.uid()) = id);")
    assert "TRUE" not in d.fix.upper()
    assert d.message.endswith(
        "no permissive policy for INSERT, UPDATE, DELETE: inserts fail with a policy violation; "
        "updates and deletes silently change zero rows")


def test_rls002_copies_a_write_policy_with_its_roles_and_wraps_auth_calls():
    sql = (
        "create table public.notes (id bigint primary key, author uuid);\n"
        "alter table public.notes enable row level security;\n"
        "create policy notes_add on public.notes for insert to anon with check (true);\n"
        "create policy notes_edit on public.notes for update to authenticated using (auth.uid() = author);\n"
    )
    (d,) = [d for d in run_rules(replay([parse_file("a.sql", sql)]), EVERY_RULE) if d.code == "RLS002"]
    assert d.commands == ("SELECT", "DELETE")
    assert d.message.endswith("no permissive policy for SELECT, DELETE: reads return no rows; deletes silently change zero rows")
    assert d.fix == (
        "CREATE POLICY notes_select ON public.notes FOR SELECT TO authenticated USING ((SELECT auth.uid()) = author);\n"
        "CREATE POLICY notes_delete ON public.notes FOR DELETE TO authenticated USING ((SELECT auth.uid()) = author);")


def test_rls002_without_policies_or_owner_writes_false_for_a_human():
    sql = "create table public.secrets (id bigint primary key);\nalter table public.secrets enable row level security;\n"
    (d,) = [d for d in run_rules(replay([parse_file("a.sql", sql)]), EVERY_RULE) if d.code == "RLS002"]
    assert d.message == (
        "table public.secrets has row level security enabled but no policy at all: reads return no rows; "
        "inserts fail with a policy violation; updates and deletes silently change zero rows")
    assert d.fix.startswith("-- replace false with the rows each command may touch\n")
    assert "TO authenticated USING (false);" in d.fix


def test_a_predicate_is_printed_from_the_model_not_from_text_a_rename_made_stale(pg, tmp_path):
    """After RENAME COLUMN the statement text names the old column; the fix prints the model's tree."""
    path = tmp_path / "renamed.sql"
    path.write_text(
        "create table public.docs (id bigint primary key, user_id uuid references auth.users on delete cascade);\n"
        "create index on public.docs (user_id);\n"
        "alter table public.docs enable row level security;\n"
        "create policy docs_edit on public.docs for update to authenticated using ((select auth.uid()) = user_id);\n"
        "alter table public.docs rename column user_id to owner_id;\n",
        encoding="utf-8",
    )
    catalog = replay([parse_file(path.as_posix(), path.read_text(encoding="utf-8"))])
    (policy,) = next(iter(catalog.tables.values())).policies
    assert predicate_sql(policy.using) == "(SELECT auth.uid()) = owner_id"  # the text still says user_id
    (d,) = [d for d in lint([path]) if d.code == "RLS002"]
    assert "user_id" not in d.fix and "(SELECT auth.uid()) = owner_id" in d.fix
    fix_file = tmp_path / "fix.sql"
    fix_file.write_text(d.fix + "\n", encoding="utf-8")
    apply_migrations(pg, [path, fix_file])
    assert [x.code for x in lint([path, fix_file])] == []


def test_perf001_names_the_call_it_found():
    sql = (
        "create table public.posts (id bigint primary key, org text);\n"
        "alter table public.posts enable row level security;\n"
        "create policy posts_org on public.posts for select using (org = auth.jwt() ->> 'org');\n"
    )
    (d,) = [d for d in run_rules(replay([parse_file("a.sql", sql)]), EVERY_RULE) if d.code == "PERF001"]
    assert "write (select auth.jwt()) so PostgreSQL evaluates it once per statement" in d.message
    assert "auth.uid" not in d.message
