"""Policy expressions in the model read as PostgreSQL reads its policies after the migrations.

The ground-truth test compares policy names, commands and roles only. Here each policy's
expressions, printed from the model's tree, are created again as a probe policy on the same
table in the PostgreSQL that ran the migrations; the probe must print (``pg_get_expr``, what
``pg_policies.qual`` shows) exactly as the original does. PostgreSQL holds a policy by object
ids, so the original follows every table and column rename; the probe is only right if the
model followed them too, and bound each name to the same table the server did.
"""

from __future__ import annotations

import json
from pathlib import Path

import pglast
import pytest
from pglast.stream import RawStream

from rlslint.engine import build_catalog
from rlslint.sql.deparse import print_sql, to_ast
from rlslint.sql.names import quote_ident
from tests.support.pgharness import MigrationError, apply_migrations

REPLAY_DIR = Path(__file__).parents[1] / "fixtures" / "replay"
SCENARIOS = ["policy_renames", "rename", "policies", "search_path"]

def deparse(tree: dict) -> str:
    return print_sql(to_ast(tree))


def test_deparse_matches_pglast():
    sql = ("create policy p on t using (exists (with c as (select 1 as a) select 1 from public.m as x join c on c.a = x.k "
           "where x.u = (select auth.uid()) and x.r in ('a', 'b') and x.n = any (array[1, 2]) and not x.f "
           "union all select 2 from y where coalesce(y.z, 'q')::text is not null))")
    tree = json.loads(pglast.parser.parse_sql_json(sql))["stmts"][0]["stmt"]["CreatePolicyStmt"]["qual"]
    assert deparse(tree) == RawStream()(pglast.parse_sql(sql)[0].stmt.qual)


def probe_sql(catalog) -> str:
    """Probe policies, then a check that raises with every probe that prints differently."""
    lines, checks = [], []
    for table in catalog.tables.values():
        for n, policy in enumerate(table.policies):
            if policy.using is None and policy.with_check is None:
                continue
            probe = f"probe {n} {policy.name}"[:63]
            clauses = "".join(f" {word} ({deparse(expr.tree)})" for word, expr in
                              (("using", policy.using), ("with check", policy.with_check)) if expr is not None)
            lines.append(f"create policy {quote_ident(probe)} on {table.qname} for all{clauses};")
            checks.append(f"('{table.qname}', '{policy.name.replace(chr(39), chr(39) * 2)}', '{probe.replace(chr(39), chr(39) * 2)}')")
    if not checks:
        return ""
    return "\n".join(lines) + f"""
do $$
declare mismatches text;
begin
  select string_agg(format(E'%s %s\\n  %s: postgres %s\\n  %s: model    %s', c.tbl, c.pol,
                           'using', pg_get_expr(o.polqual, o.polrelid), 'using', pg_get_expr(p.polqual, p.polrelid))
                    || format(E'\\n  with check: postgres %s\\n  with check: model    %s',
                              pg_get_expr(o.polwithcheck, o.polrelid), pg_get_expr(p.polwithcheck, p.polrelid)), E'\\n')
    into mismatches
  from (values {", ".join(checks)}) c(tbl, pol, probe)
  join pg_policy o on o.polrelid = c.tbl::regclass and o.polname = c.pol
  join pg_policy p on p.polrelid = c.tbl::regclass and p.polname = c.probe
  where pg_get_expr(o.polqual, o.polrelid) is distinct from pg_get_expr(p.polqual, p.polrelid)
     or pg_get_expr(o.polwithcheck, o.polrelid) is distinct from pg_get_expr(p.polwithcheck, p.polrelid);
  if mismatches is not null then
    raise exception E'policy expressions differ:\\n%', mismatches;
  end if;
end
$$;
"""


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_policy_expressions_match_postgres(pg, tmp_path, scenario):
    migrations = REPLAY_DIR / scenario / "migrations"
    catalog = build_catalog(migrations)
    probes = tmp_path / "zz_probes.sql"
    probes.write_text(probe_sql(catalog), encoding="utf-8")
    try:
        apply_migrations(pg, sorted(migrations.glob("*.sql")) + [probes])
    except MigrationError as exc:
        pytest.fail(exc.stderr)
