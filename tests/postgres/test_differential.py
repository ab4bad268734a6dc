"""Differential replay: random valid histories, applied to PostgreSQL and replayed by rlslint.

The model must end where PostgreSQL ends (tables, columns, RLS flags, policies, indexes,
foreign keys and their actions), and each checklist rule computed straight from
PostgreSQL's catalog must give the findings the rules give on the model.

The number of examples comes from the hypothesis profile (tests/conftest.py): "ci" by
default, ``--hypothesis-profile=thorough`` for a long local run. A failure prints the
shrunk history; save it under tests/fixtures/replay/<name>/migrations/ as a scenario.
"""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path

from hypothesis import given, note, seed, settings
from pglast import parser as pg

from rlslint.engine import run_rules
from rlslint.schema.model import COMMANDS
from rlslint.schema.replay import replay
from rlslint.settings import Settings
from rlslint.sql.names import quote_ident
from rlslint.sql.parse import parse_file
from tests.support.histories import migration_histories
from tests.support.model_snapshot import model_access, model_snapshot
from tests.support.pgharness import (access_snapshot, catalog_snapshot, drop_database, normalise_access, normalise_snapshot,
                             scaffold_database)
from tests.postgres.test_ground_truth import access_differences, snapshot_differences

OWNER = "auth.users"
CHECKED_RULES = ("RLS001", "RLS002", "IDX001", "IDX002", "FK001")

POLICY_EXPRESSIONS_SQL = r"""
select coalesce(json_agg(json_build_array(format('%I.%I', n.nspname, c.relname), p.polname,
                                          pg_get_expr(p.polqual, p.polrelid), pg_get_expr(p.polwithcheck, p.polrelid))), '[]')
from pg_policy p join pg_class c on c.oid = p.polrelid join pg_namespace n on n.oid = c.relnamespace
where n.nspname not in ('auth', 'storage')
"""

# Partial indexes: (table, leading column, predicate as PostgreSQL prints it)
PARTIAL_INDEXES_SQL = r"""
select coalesce(json_agg(json_build_array(format('%I.%I', n.nspname, c.relname), a.attname,
                                          pg_get_expr(i.indpred, i.indrelid))), '[]')
from pg_index i join pg_class c on c.oid = i.indrelid join pg_namespace n on n.oid = c.relnamespace
left join pg_attribute a on a.attrelid = i.indrelid and a.attnum = i.indkey[0]
where i.indpred is not null and n.nspname not in ('auth', 'storage')
"""


def apply_and_read(server, files: list[Path]) -> tuple[dict, tuple[list, list], dict]:
    """Like pgharness.apply_migrations, and also reads the policy expressions, the partial
    indexes and who holds what before the drop."""
    dbname = f"diff_{os.getpid()}_{uuid.uuid4().hex[:10]}"
    server.psql("postgres", "-c", f'create database "{dbname}"')
    try:
        scaffold_database(server, dbname)
        for f in files:
            server.psql(dbname, "-f", str(f), what=str(f))
        expressions = json.loads(server.psql(dbname, "-A", "-t", "-c", POLICY_EXPRESSIONS_SQL))
        partial = json.loads(server.psql(dbname, "-A", "-t", "-c", PARTIAL_INDEXES_SQL))
        return catalog_snapshot(server, dbname), (expressions, partial), access_snapshot(server, dbname)
    finally:
        drop_database(server, dbname)


# --- the checklist, computed from PostgreSQL's catalog ------------------------------------


def _leads_index(table: dict, columns: list[str]) -> bool:
    wanted = set(columns)
    return any(not partial and set(cols[: len(wanted)]) == wanted for cols, _unique, partial, _primary in table["indexes"])


def _compared_columns(expression: str | None) -> set[str]:
    """Columns compared with = or IN in a deparsed policy expression (pglast parses it)."""
    if not expression:
        return set()
    tree = json.loads(pg.parse_sql_json(f"select where {expression}"))
    found: set[str] = set()
    stack = [tree]
    while stack:
        item = stack.pop()
        if isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, dict):
            operands = []
            # Not `x IN (SELECT …)`: a policy runs it as a hashed sub-plan, which no index serves.
            if "A_Expr" in item and item["A_Expr"].get("kind") == "AEXPR_OP":
                operands = [item["A_Expr"].get("lexpr"), item["A_Expr"].get("rexpr")]
            for operand in operands:
                fields = (operand or {}).get("ColumnRef", {}).get("fields", [])
                if len(fields) == 1 and "String" in fields[0]:
                    found.add(fields[0]["String"]["sval"])
            stack.extend(v for v in item.values() if isinstance(v, (dict, list)))
    return found


API_ROLES = ("anon", "authenticated")


def _api_access(name: str, table: dict, access: dict) -> dict[str, set[str]]:
    """API role -> the commands it may run on the table, RLS aside, as PostgreSQL answers:
    USAGE on the schema and the command's privilege on the table or on some column."""
    schema = name.split(".")[0]
    granted = access["tables"][name]
    reach = {}
    for role in API_ROLES:
        if [role, "USAGE"] not in access["schemas"].get(schema, []):
            continue
        held = {p for r, p in granted["privileges"] if r == role} | {p for r, _c, p in granted["column_privileges"] if r == role}
        reach[role] = held & set(COMMANDS)
    return reach


def _bypasses(role: str, table: dict, owner: str, access: dict) -> bool:
    superuser, bypassrls = access["roles"][role][:2]
    return superuser or bypassrls or (not table["force_rls"] and owner in access["privileges_of"][role])


def _applies(policy: dict, role: str, access: dict) -> bool:
    return "public" in policy["roles"] or bool(set(policy["roles"]) & set(access["privileges_of"][role]))


def _enforced(policy: dict, table: dict, owner: str, access: dict) -> bool:
    """Some role RLS applies to is subject to it; the server's superuser (not in ``access``) never is."""
    return "public" in policy["roles"] or any(r in access["roles"] and not _bypasses(r, table, owner, access)
                                              for r in policy["roles"])


def catalog_findings(snapshot: dict, read: tuple[list, list], access: dict) -> set[tuple]:
    expressions, partial = read
    found = set()
    for name, table in snapshot["tables"].items():
        exposed = name.split(".")[0] == "public"
        reach = _api_access(name, table, access) if exposed else {}
        if exposed and not table["rls"] and any(reach.values()):
            found.add(("RLS001", name, (), ()))
        if exposed and table["rls"]:
            owner = access["tables"][name]["owner"]
            missing = []
            for command in COMMANDS:
                subject = [r for r, held in reach.items() if command in held and not _bypasses(r, table, owner, access)]
                covered = any(p["permissive"] and p["command"] in ("ALL", command) and any(_applies(p, r, access) for r in subject)
                              for p in table["policies"].values())
                if subject and not covered:
                    missing.append(command)
            if missing:
                found.add(("RLS002", name, (), tuple(missing)))
        columns_not_null = dict((c, nn) for c, nn in table["columns"])
        for columns, ref_table, _ref_columns, action in table["foreign_keys"]:
            if not _leads_index(table, columns):
                found.add(("IDX001", name, tuple(columns), ()))
            blocks = action not in ("CASCADE", "SET NULL", "SET DEFAULT") or (action == "SET NULL" and any(columns_not_null[c] for c in columns))
            if ref_table == OWNER and blocks:
                found.add(("FK001", name, tuple(columns), ()))
    for name, policy, using, with_check in expressions:
        table = snapshot["tables"][name]
        if not _enforced(table["policies"][policy], table, access["tables"][name]["owner"], access):
            continue  # every role it is for bypasses RLS: it never runs
        for column in _compared_columns(using) | _compared_columns(with_check):
            if _leads_index(snapshot["tables"][name], [column]):
                continue
            # `column = …` never holds for NULL, so it implies a `column IS NOT NULL` predicate.
            if [name, column, f"({quote_ident(column)} IS NOT NULL)"] in partial:
                continue
            if ("IDX001", name, (column,), ()) in found:
                continue  # one finding for both reasons
            found.add(("IDX002", name, (column,), ()))
    return found


def model_findings(catalog) -> set[tuple]:
    diagnostics = run_rules(catalog, Settings())
    return {(d.code, d.object, d.columns if d.code != "RLS002" else (), d.commands)
            for d in diagnostics if d.code in CHECKED_RULES}


# --- the property ----------------------------------------------------------------------------


def check_history(pg_server, texts: list[str], directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for old in directory.glob("*.sql"):
        old.unlink()
    files = []
    for i, text in enumerate(texts):
        path = directory / f"2024010100000{i}_step.sql"
        path.write_text(text, encoding="utf-8")
        files.append(path)
    note("\n".join(f"-- {f.name}\n{t}" for f, t in zip(files, texts)))
    postgres, read, access = apply_and_read(pg_server, files)
    # The database starts from the Supabase scaffold, so the replay does too.
    catalog = replay([parse_file(f.name, t) for f, t in zip(files, texts)], strict=True, start="supabase")
    model = normalise_snapshot(model_snapshot(catalog))
    problems = snapshot_differences(postgres, model) + access_differences(access, normalise_access(model_access(catalog)))
    assert not problems, "model differs from PostgreSQL:\n" + "\n".join(problems)
    from_catalog, from_model = catalog_findings(postgres, read, access), model_findings(catalog)
    assert from_model == from_catalog, (
        f"rules on the model disagree with the catalog:\nonly from the catalog: {sorted(from_catalog - from_model)}\n"
        f"only from the model: {sorted(from_model - from_catalog)}")


# The profile's examples, drawn by several tests so that pytest-xdist spreads them over its
# workers (one test of them all was the suite's last to finish). Each draws its share plus
# one: every test's first example is the simplest history. Where the profile draws the same
# examples run to run, each test has a seed of its own, else they would all draw the same.
SHARDS = 4


def _shard(number: int):
    examples = -(-settings().max_examples // SHARDS) + 1

    @settings(max_examples=examples)
    @given(texts=migration_histories())
    def test(pg, tmp_path_factory, texts):
        check_history(pg, texts, tmp_path_factory.getbasetemp() / f"differential-{number}")

    return seed(number)(test) if settings().derandomize else test


test_model_and_rules_match_postgres_0 = _shard(0)
test_model_and_rules_match_postgres_1 = _shard(1)
test_model_and_rules_match_postgres_2 = _shard(2)
test_model_and_rules_match_postgres_3 = _shard(3)
