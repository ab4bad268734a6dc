"""Where a project starts from: the model's starting state is what the scaffold builds in PostgreSQL.

The replay starts a Supabase project from rlslint.platform's data, and the tests and
``--verify`` build the same state with rlslint.platform.SUPABASE_SCAFFOLD; this checks the
two against each other in a real server: role flags, memberships, schema and function
privileges, and the default privileges a new table, sequence and function receive.
"""

from __future__ import annotations

import json
import os
import uuid

from rlslint.schema import acl
from rlslint.schema.model import PRIVILEGES
from rlslint.schema.replay import replay
from rlslint.sql.parse import parse_file
from tests.support.pgharness import drop_database, scaffold_database

# The server's own bootstrap superuser stands in for the platform's postgres role: it runs the
# migrations, but it cannot be made a non-superuser, so its flags are not compared.
ROLES = ("anon", "authenticated", "service_role", "authenticator")
SCHEMAS = ("public", "auth", "storage", "extensions")

NEW_OBJECTS = """
create table public.probe_table (id bigint);
create sequence public.probe_sequence;
create function public.probe_function() returns int language sql as 'select 1';
"""


def _query(pg, dbname: str, sql: str):
    return json.loads(pg.psql(dbname, "-A", "-t", "-c", sql))


def _catalog_state(pg, dbname: str) -> dict:
    roles = ", ".join(f"'{r}'" for r in ROLES)
    flags = _query(pg, dbname, f"""
        select json_object_agg(rolname, json_build_array(rolsuper, rolbypassrls, rolinherit, rolcanlogin))
        from pg_roles where rolname in ({roles})""")
    members = _query(pg, dbname, f"""
        select coalesce(json_agg(json_build_array(g.rolname, m.rolname, a.inherit_option) order by 1), '[]')
        from pg_auth_members a join pg_roles g on g.oid = a.roleid join pg_roles m on m.oid = a.member
        where g.rolname in ({roles}) or m.rolname in ({roles})""")
    checks = []
    for role in ROLES:
        for schema in SCHEMAS:
            for privilege in PRIVILEGES["schema"]:
                checks.append(f"json_build_array('schema', '{role}', '{schema}', '{privilege}', "
                              f"has_schema_privilege('{role}', '{schema}', '{privilege}'))")
        for function in ("auth.uid()", "auth.jwt()", "auth.role()", "auth.email()", "public.probe_function()"):
            checks.append(f"json_build_array('function', '{role}', '{function}', 'EXECUTE', "
                          f"has_function_privilege('{role}', '{function}', 'EXECUTE'))")
        for privilege in PRIVILEGES["table"]:
            checks.append(f"json_build_array('table', '{role}', 'public.probe_table', '{privilege}', "
                          f"has_table_privilege('{role}', 'public.probe_table', '{privilege}'))")
        for privilege in PRIVILEGES["sequence"]:
            checks.append(f"json_build_array('sequence', '{role}', 'public.probe_sequence', '{privilege}', "
                          f"has_sequence_privilege('{role}', 'public.probe_sequence', '{privilege}'))")
    privileges = _query(pg, dbname, f"select json_build_array({', '.join(checks)})")
    return {"flags": flags, "members": [tuple(m) for m in members], "privileges": {tuple(p[:4]): p[4] for p in privileges}}


def _model_state(tmp_path) -> dict:
    path = tmp_path / "probe.sql"
    path.write_text(NEW_OBJECTS)
    # The probe names no Supabase role, so it says where it starts from.
    catalog = replay([parse_file(str(path), NEW_OBJECTS)], start="supabase")
    access = catalog.access
    flags = {r: [access.roles[r].superuser, access.roles[r].bypassrls, access.roles[r].inherit, access.roles[r].login]
             for r in ROLES}
    members = sorted((m.role, m.member, m.inherit) for m in access.memberships)
    routines = {f"{r.schema}.{r.name}()": r for r in access.routines}
    table = next(iter(catalog.tables.values()))
    privileges = {}
    for role in ROLES:
        for schema in SCHEMAS:
            for privilege in PRIVILEGES["schema"]:
                privileges[("schema", role, schema, privilege)] = acl.has_schema_privilege(access, role, schema, privilege)
        for name in ("auth.uid()", "auth.jwt()", "auth.role()", "auth.email()", "public.probe_function()"):
            found = routines.get(name)
            privileges[("function", role, name, "EXECUTE")] = found is not None and acl.has_function_privilege(access, role, found)
        for privilege in PRIVILEGES["table"]:
            privileges[("table", role, "public.probe_table", privilege)] = acl.has_table_privilege(access, role, table, privilege)
        sequence = access.sequence_acl.get(("public", "probe_sequence"), frozenset())
        for privilege in PRIVILEGES["sequence"]:
            privileges[("sequence", role, "public.probe_sequence", privilege)] = acl.holds(access, role, sequence, privilege)
    return {"flags": flags, "members": members, "privileges": privileges}


def test_model_starts_where_the_scaffold_starts(pg, tmp_path):
    dbname = f"platform_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    pg.psql("postgres", "-c", f'create database "{dbname}"')
    try:
        scaffold_database(pg, dbname)
        pg.psql(dbname, input=NEW_OBJECTS)
        postgres = _catalog_state(pg, dbname)
    finally:
        drop_database(pg, dbname)
    model = _model_state(tmp_path)
    assert model["flags"] == postgres["flags"]
    assert model["members"] == sorted(postgres["members"])
    differences = {k: (model["privileges"].get(k), v) for k, v in postgres["privileges"].items() if model["privileges"].get(k) != v}
    assert differences == {}, "(model, PostgreSQL) per check"
    # The checks are not all one answer: the API roles can use public but not create in it.
    assert {True, False} <= set(postgres["privileges"].values())


def test_a_plain_project_starts_with_no_api_roles(tmp_path):
    text = "create table public.items (id bigint primary key);\n"
    catalog = replay([parse_file(str(tmp_path / "a.sql"), text)])
    assert set(catalog.access.roles) == {"postgres"}
    assert catalog.access.platform == "postgres"
    (table,) = catalog.tables.values()
    assert {grantee for grantee, _ in table.acl} == {"postgres"}


def test_naming_a_supabase_role_makes_a_supabase_project(tmp_path):
    text = "create table public.items (id bigint primary key);\nrevoke all on public.items from anon;\n"
    catalog = replay([parse_file(str(tmp_path / "a.sql"), text)])
    assert catalog.access.platform == "supabase"
    (table,) = catalog.tables.values()
    assert {grantee for grantee, _ in table.acl} == {"postgres", "authenticated", "service_role"}


def test_revoking_from_several_roles_revokes_from_each(tmp_path):
    text = "revoke usage on schema public from public, anon, authenticated;\n"
    access = replay([parse_file(str(tmp_path / "a.sql"), text)], start="supabase").access
    assert [r for r in ("public", "anon", "authenticated", "service_role")
            if acl.has_schema_privilege(access, r, "public", "USAGE")] == ["service_role"]
