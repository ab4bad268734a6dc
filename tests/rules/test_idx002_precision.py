"""IDX002 asks for an index exactly where PostgreSQL's planner would use one for the policy.

Each case is one table with one SELECT policy and the indexes a project has. The planner's
answer: with sequential scans switched off, does ``EXPLAIN select * from <table>`` run as
``authenticated`` put an index condition on the table the case names? IDX002 must report a
finding on that table exactly when it does not; and where it does report one, its fix
(applied to a copy) must give the planner the index it lacked.
"""

from __future__ import annotations

import json
import os
import uuid

import pytest

from rlslint.engine import run_rules
from rlslint.rules import unindexed_policy_column
from rlslint.schema.replay import replay
from rlslint.settings import Settings
from rlslint.sql.parse import parse_file
from tests.support.pgharness import drop_database, scaffold_database

# (name, SQL creating table `t` (and helpers), table and column at stake)
CASES = [
    ("plain", "create table t (id bigint primary key, owner_id uuid);"
              "create policy p on t for select using (owner_id = (select auth.uid()));", "t", "owner_id"),
    ("plain_indexed", "create table t (id bigint primary key, owner_id uuid); create index on t (owner_id);"
                      "create policy p on t for select using (owner_id = (select auth.uid()));", "t", "owner_id"),
    ("cast_text", 'create table t (id bigint primary key, "tenantId" text); create index on t ("tenantId");'
                  'create policy p on t for select using ("tenantId"::uuid = (select auth.uid()));', "t", "tenantId"),
    ("cast_own_type", "create table t (id bigint primary key, owner_id uuid); create index on t (owner_id);"
                      "create policy p on t for select using (owner_id::uuid = (select auth.uid()));", "t", "owner_id"),
    ("function", "create table t (id bigint primary key, email text); create index on t (email);"
                 "create policy p on t for select using (lower(email) = 'a@b.c');", "t", "email"),
    ("function_indexed", "create table t (id bigint primary key, email text); create index on t (lower(email));"
                         "create policy p on t for select using (lower(email) = 'a@b.c');", "t", "email"),
    ("partial_not_null", "create table t (id bigint primary key, owner_id uuid);"
                         "create index on t (owner_id) where owner_id is not null;"
                         "create policy p on t for select using (owner_id = (select auth.uid()));", "t", "owner_id"),
    ("partial_same_condition", "create table t (id bigint primary key, owner_id uuid, archived boolean);"
                               "create index on t (owner_id) where not archived;"
                               "create policy p on t for select using (not archived and owner_id = (select auth.uid()));",
     "t", "owner_id"),
    ("partial_not_implied", "create table t (id bigint primary key, owner_id uuid, archived boolean);"
                            "create index on t (owner_id) where archived;"
                            "create policy p on t for select using (owner_id = (select auth.uid()));", "t", "owner_id"),
    ("subselect_inner", "create table m (team_id bigint, user_id uuid);"
                        "create table t (id bigint primary key, team_id bigint);"
                        "create policy p on t for select using (exists (select 1 from m where m.user_id = (select auth.uid())"
                        " and m.team_id = t.team_id));", "m", "user_id"),
    ("subselect_inner_indexed", "create table m (team_id bigint, user_id uuid); create index on m (user_id);"
                                "create table t (id bigint primary key, team_id bigint);"
                                "create policy p on t for select using (exists (select 1 from m where m.user_id = "
                                "(select auth.uid())));", "m", "user_id"),
]

# Comparisons no index of t serves: t has one on the column, the planner does not use it for
# the policy, and IDX002 does not ask for one. The sub-select's own index is used.
NOT_SERVED = [
    # the correlated outer column of a sub-select
    ("correlated_outer", "create table m (team_id bigint, user_id uuid); create index on m (team_id, user_id);"
                         "create table t (id bigint primary key, team_id bigint); create index on t (team_id);"
                         "create policy p on t for select using (exists (select 1 from m where m.team_id = t.team_id"
                         " and m.user_id = (select auth.uid())));"),
    # `x IN (SELECT …)` in a policy is a hashed sub-plan filter, never a join an index could drive
    ("in_subselect", "create table m (team_id bigint, user_id uuid); create index on m (user_id);"
                     "create table t (id bigint primary key, team_id bigint); create index on t (team_id);"
                     "create policy p on t for select using (team_id in (select m.team_id from m"
                     " where m.user_id = (select auth.uid())));"),
]


def _index_conditions(server, dbname: str, table: str) -> list[str]:
    """The conditions the plan looks up through an index of `table`."""
    out = server.psql(dbname, "-A", "-t", input=(
        "set role authenticated; set enable_seqscan = off;"
        "set request.jwt.claim.sub = '00000000-0000-0000-0000-000000000001';"
        "explain (format json) select * from t;"))
    found, stack = [], [json.loads(out)]
    while stack:
        node = stack.pop()
        if isinstance(node, list):
            stack.extend(node)
        elif isinstance(node, dict):
            if node.get("Relation Name") == table or node.get("Node Type") == "Bitmap Index Scan":
                found.extend(node[key] for key in ("Index Cond", "Recheck Cond") if key in node)
            stack.extend(v for v in node.values() if isinstance(v, (dict, list)))
    return found


def _findings(sql: str, table: str) -> list:
    parsed = parse_file("case.sql", sql)
    rule = unindexed_policy_column.RULE
    return [d for d in run_rules(replay([parsed]), Settings(enabled=frozenset({rule.code})), [rule])
            if d.object == f"public.{table}"]


def _database(server, sql: str) -> str:
    dbname = f"planner_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    server.psql("postgres", "-c", f'create database "{dbname}"')
    scaffold_database(server, dbname)
    server.psql(dbname, input=sql + ";alter table t enable row level security;"
                "grant usage on schema auth to authenticated; grant select on all tables in schema public to authenticated;"
                "analyze;")
    return dbname


@pytest.mark.parametrize("name, sql, table, column", CASES, ids=[c[0] for c in CASES])
def test_idx002_agrees_with_the_planner(pg, name, sql, table, column):
    findings = [d for d in _findings(sql, table) if d.columns == (column,)]
    dbname = _database(pg, sql)
    try:
        used = any(column in condition for condition in _index_conditions(pg, dbname, table))
        assert used == (not findings), findings
        for finding in findings:
            pg.psql(dbname, "-c", finding.fix)
        pg.psql(dbname, "-c", "analyze")
        assert any(column in condition for condition in _index_conditions(pg, dbname, table)), [f.fix for f in findings]
    finally:
        drop_database(pg, dbname)


@pytest.mark.parametrize("name, sql", NOT_SERVED, ids=[c[0] for c in NOT_SERVED])
def test_idx002_does_not_ask_for_an_index_the_planner_would_not_use(pg, name, sql):
    assert not _findings(sql, "t")
    dbname = _database(pg, sql)
    try:
        assert not _index_conditions(pg, dbname, "t")  # t's index on team_id does not serve the policy
        assert _index_conditions(pg, dbname, "m")  # the sub-select's own index does
    finally:
        drop_database(pg, dbname)


FK_FILTERED = """
create table public.docs (id bigint primary key, owner_id uuid references auth.users (id) on delete cascade);
alter table public.docs enable row level security;
create policy docs_own on public.docs for all using (owner_id = (select auth.uid()));
"""


def _codes(selection: set[str]) -> list:
    from rlslint.rules import ALL_RULES

    rules = [r for r in ALL_RULES if r.code in selection]
    return run_rules(replay([parse_file("fk.sql", FK_FILTERED)]), Settings(enabled=frozenset(selection)), rules)


def test_unindexed_foreign_key_filtered_by_a_policy_is_one_finding_with_both_reasons():
    (finding,) = [d for d in _codes({"IDX001", "IDX002"}) if d.columns == ("owner_id",)]
    assert finding.code == "IDX001"
    assert 'policy "docs_own" on public.docs filters on it' in finding.message


def test_idx002_reports_the_foreign_key_column_when_idx001_is_not_selected():
    assert [d.code for d in _codes({"IDX002"})] == ["IDX002"]
