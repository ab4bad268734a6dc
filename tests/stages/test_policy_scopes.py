"""Name binding in policy trees: what the replay qualifies, and what it leaves alone."""

from __future__ import annotations

from rlslint.schema.replay import replay
from rlslint.sql.parse import parse_file


def _rangevars(tree):
    stack, found = [tree], []
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if "RangeVar" in item:
                found.append((item["RangeVar"].get("schemaname"), item["RangeVar"]["relname"]))
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return sorted(found, key=str)


def test_qualifies_known_tables_only():
    sql = """
    create schema app;
    create table app.members (user_id uuid);
    create table public.docs (id bigint primary key);
    set search_path to app, auth, public;
    create policy p on public.docs using (exists (
      with mine as (select 1 from members where user_id = (select auth.uid()))
      select 1 from mine, users where users.id = (select auth.uid())));
    """
    catalog = replay([parse_file("a.sql", sql)])
    (policy,) = catalog.tables[("public", "docs")].policies
    # the project's table gets its schema; the CTE and the platform table stay as written
    assert _rangevars(policy.using.tree) == [("app", "members"), (None, "mine"), (None, "users")]
