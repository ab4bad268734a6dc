"""Where a project starts from: the roles, privileges and schemas that exist before its first migration.

A Supabase project's migrations run against a database the platform has already set up;
a plain PostgreSQL project's against a fresh ``initdb``. Both are kept here, as data, in
one place: the replay starts from them (``rlslint.schema.state``), and ``SUPABASE_SCAFFOLD``
builds the same Supabase state in a real PostgreSQL, for the tests and for
``rlslint check --verify``. A test checks that the two agree, flag by flag and privilege
by privilege.

What the platform does, from its own set-up scripts (supabase/postgres, ``init-scripts``):

- ``anon`` (requests without a user), ``authenticated`` (requests with a user's JWT) and
  ``service_role`` (the secret key; BYPASSRLS) are NOLOGIN and NOINHERIT: a role granted
  to one of them passes it no privileges unless the grant says ``WITH INHERIT TRUE``.
- ``authenticator``, the role PostgREST logs in as, is a member of the three and switches
  to one of them per request (``SET ROLE``); ``postgres`` runs the migrations and owns
  what they create.
- ``public`` is usable by the three API-facing roles, and PostgreSQL's own defaults still
  hold for PUBLIC: USAGE on ``public``, EXECUTE on every new function.
- Default privileges in ``public`` grant ALL on the tables, sequences and functions that
  ``postgres`` creates to ``anon``, ``authenticated`` and ``service_role``: a new table
  is readable and writable through the API until RLS or a REVOKE says otherwise.
"""

from __future__ import annotations

from rlslint.schema.model import PRIVILEGES, Membership, Role

MIGRATION_ROLE = "postgres"

# Roles every PostgreSQL has before any migration ran (the bootstrap superuser aside,
# which is the migration role of a plain project).
POSTGRES_ROLES = (Role(MIGRATION_ROLE, superuser=True, bypassrls=True, login=True),)

SUPABASE_API_ROLES = ("anon", "authenticated", "service_role")

# ``postgres`` is not a superuser on the platform; it has BYPASSRLS, and owns the
# project's objects, so it is never subject to their policies either way.
SUPABASE_ROLES = (
    Role(MIGRATION_ROLE, bypassrls=True, login=True),
    Role("anon", inherit=False),
    Role("authenticated", inherit=False),
    Role("service_role", inherit=False, bypassrls=True),
    Role("authenticator", inherit=False, login=True),
)

# authenticator is NOINHERIT, so its memberships only let it SET ROLE.
SUPABASE_MEMBERSHIPS = tuple(Membership(role, "authenticator", inherit=False) for role in SUPABASE_API_ROLES)

# Roles the platform has that the model does not hold (they own none of the project's tables
# and reach them only as superusers): a PL/pgSQL guard that asks for one is left unknown.
SUPABASE_UNMODELLED_ROLE_PREFIXES = ("supabase_", "pgsodium_")
SUPABASE_UNMODELLED_ROLES = ("dashboard_user", "pgbouncer")

# The roles that make a project a Supabase one when a migration names them.
SUPABASE_ROLE_NAMES = frozenset(r.name for r in SUPABASE_ROLES) - {MIGRATION_ROLE}

# Schemas the platform creates, and which of them the API-facing roles may use.
SUPABASE_SCHEMAS = ("auth", "storage", "extensions")
SUPABASE_SCHEMA_USAGE = {
    "public": SUPABASE_API_ROLES,
    "auth": SUPABASE_API_ROLES,
    "storage": SUPABASE_API_ROLES,
    "extensions": SUPABASE_API_ROLES,
}

# (kind of object, schema) whose new objects, created by the migration role, are granted
# ALL to the API-facing roles.
SUPABASE_DEFAULT_GRANTS = (("table", "public"), ("sequence", "public"), ("function", "public"))

# PostgreSQL's own grants to PUBLIC (initdb; PostgreSQL 15 and later no longer grant CREATE
# on ``public``).
PUBLIC_SCHEMA_USAGE = ("public",)

# Functions every policy may call on Supabase, and the extension function migrations use
# most: schema, name, argument types.
SUPABASE_FUNCTIONS = (
    ("auth", "uid", ()),
    ("auth", "jwt", ()),
    ("auth", "role", ()),
    ("auth", "email", ()),
    ("extensions", "uuid_generate_v4", ()),
)


def default_privileges(kind: str, grantees: tuple[str, ...]) -> frozenset[tuple[str, str]]:
    return frozenset((grantee, privilege) for grantee in grantees for privilege in PRIVILEGES[kind])


def _roles_sql() -> str:
    lines = []
    for role in SUPABASE_ROLES:
        if role.name == MIGRATION_ROLE:
            continue  # the server's own superuser runs the migrations in a scratch database
        flags = " ".join((
            "SUPERUSER" if role.superuser else "NOSUPERUSER",
            "BYPASSRLS" if role.bypassrls else "NOBYPASSRLS",
            "INHERIT" if role.inherit else "NOINHERIT",
            "LOGIN" if role.login else "NOLOGIN",
        ))
        # Roles belong to the cluster, not the database: made once, their flags reset each time.
        lines.append(
            f"do $$ begin if not exists (select from pg_roles where rolname = '{role.name}') then "
            f"create role {role.name}; end if; end $$;\n"
            f"alter role {role.name} {flags};"
        )
    for membership in SUPABASE_MEMBERSHIPS:
        # No WITH INHERIT (PostgreSQL 16 syntax): the member's NOINHERIT decides on 15 and 16 alike.
        lines.append(f"grant {membership.role} to {membership.member};")
    return "\n".join(lines)


def _privileges_sql() -> str:
    lines = [f"create schema if not exists {schema};" for schema in SUPABASE_SCHEMAS]
    for schema, grantees in SUPABASE_SCHEMA_USAGE.items():
        lines.append(f"grant usage on schema {schema} to {', '.join(grantees)};")
    kinds = {"table": "tables", "sequence": "sequences", "function": "functions"}
    for kind, schema in SUPABASE_DEFAULT_GRANTS:
        lines.append(f"alter default privileges for role {MIGRATION_ROLE} in schema {schema} "
                     f"grant all on {kinds[kind]} to {', '.join(SUPABASE_API_ROLES)};")
    return "\n".join(lines)


# The platform's objects that migrations and policies use. auth.uid() reads the user's id
# from the JWT claims PostgREST sets per request (``request.jwt.claims``), as GoTrue's own
# definition does, with the older per-claim setting first.
_PLATFORM_OBJECTS_SQL = r"""
create table if not exists auth.users (
  id uuid primary key, email text, role text, raw_user_meta_data jsonb, raw_app_meta_data jsonb);
create or replace function auth.uid() returns uuid language sql stable as $f$
  select coalesce(nullif(current_setting('request.jwt.claim.sub', true), ''),
                  (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub'))::uuid $f$;
create or replace function auth.jwt() returns jsonb language sql stable as $f$
  select coalesce(nullif(current_setting('request.jwt.claim', true), ''),
                  nullif(current_setting('request.jwt.claims', true), ''), '{}')::jsonb $f$;
create or replace function auth.role() returns text language sql stable as $f$
  select coalesce(nullif(current_setting('request.jwt.claim.role', true), ''),
                  (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'role'))::text $f$;
create or replace function auth.email() returns text language sql stable as $f$
  select coalesce(nullif(current_setting('request.jwt.claim.email', true), ''),
                  (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'email'))::text $f$;

create table if not exists storage.buckets (id text primary key, name text, owner uuid, public boolean default false);
create table if not exists storage.objects (
  id uuid primary key, bucket_id text references storage.buckets (id), name text, owner uuid);
alter table storage.objects enable row level security;
alter table storage.buckets enable row level security;
grant all on storage.objects, storage.buckets to anon, authenticated, service_role;

create or replace function extensions.uuid_generate_v4() returns uuid language sql volatile
  as $f$ select gen_random_uuid() $f$;
"""

# Run once in a fresh database, as the server's superuser, before the migrations.
SUPABASE_SCAFFOLD = "\n".join((_roles_sql(), _privileges_sql(), _PLATFORM_OBJECTS_SQL))
