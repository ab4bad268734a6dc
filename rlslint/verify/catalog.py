"""Reading PostgreSQL's catalog: which tables a statement changed, and their facts, in one query.

Event triggers that rlslint adds to its own database (schema ``rlslint_verify``, left out
of every comparison) record the tables each DDL command touches, however it ran: a
plain statement, an ``EXECUTE`` in a ``DO`` block, a function or a trigger. After each
statement one query (a function in that schema) takes those records and returns the facts of exactly those
tables and of the ones the model says it changed; nothing is read for the tables the
statement left alone. ``GRANT`` and ``REVOKE`` name no object to an event trigger: after
them the tables whose ``pg_class`` or ``pg_attribute`` rows the file's transaction wrote are
read too.
"""

import json
from typing import Iterable

from rlslint.schema.state import PLATFORM_SCHEMAS
from rlslint.sql.names import QName
from rlslint.verify.facts import TableFacts, catalog_facts
from rlslint.verify.wire import Connection

# The schema of rlslint's own event triggers in the database it verifies in.
OWN_SCHEMA = "rlslint_verify"
_SKIPPED_SCHEMAS = ", ".join(f"'{s}'" for s in sorted({*PLATFORM_SCHEMAS, OWN_SCHEMA}))

# The tables the replay models: plain and partitioned, not temporary, outside the platform's schemas.
_IN_SCOPE = f"""c.relkind in ('r', 'p') and c.relpersistence <> 't'
  and n.nspname not in ({_SKIPPED_SCHEMAS}) and n.nspname not like 'pg\\_%' and n.nspname not like 'supabase\\_%'"""

# SECURITY DEFINER: a migration may run DDL after SET ROLE, and must not fail for want of
# rights on this table.
_TRIGGERS_SQL = f"""
create schema {OWN_SCHEMA};
create unlogged table {OWN_SCHEMA}.changes (relid oid, schema_name text, table_name text, tag text);
create function {OWN_SCHEMA}.ddl_command_end() returns event_trigger language plpgsql
  security definer set search_path = pg_catalog as $$
begin
  insert into {OWN_SCHEMA}.changes (relid, tag)
  select case c.classid
           when 'pg_class'::regclass then coalesce((select i.indrelid from pg_index i where i.indexrelid = c.objid), c.objid)
           when 'pg_policy'::regclass then (select p.polrelid from pg_policy p where p.oid = c.objid)
           when 'pg_constraint'::regclass then (select k.conrelid from pg_constraint k where k.oid = c.objid)
         end, c.command_tag
  from pg_event_trigger_ddl_commands() c;
end $$;
create function {OWN_SCHEMA}.sql_drop() returns event_trigger language plpgsql
  security definer set search_path = pg_catalog as $$
begin
  insert into {OWN_SCHEMA}.changes (schema_name, table_name, tag)
  select d.address_names[1], d.address_names[2], d.object_type from pg_event_trigger_dropped_objects() d
  where d.object_type in ('table', 'table column', 'table constraint', 'policy');
end $$;
create event trigger rlslint_verify_ddl_command_end on ddl_command_end execute function {OWN_SCHEMA}.ddl_command_end();
create event trigger rlslint_verify_sql_drop on sql_drop execute function {OWN_SCHEMA}.sql_drop();
"""

# "$WHERE" is replaced by the condition that picks the tables. The session user, who runs
# the migrations here, stands for the migration role of the model.
_FACTS_SQL = f"""
select n.nspname, c.relname, json_build_array(
  c.relkind, c.relrowsecurity, c.relforcerowsecurity,
  (select coalesce(json_agg(json_build_array(a.attname, a.attnotnull, format_type(a.atttypid, null), a.atttypid) order by a.attnum), '[]')
   from pg_attribute a where a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped),
  (select coalesce(json_agg(json_build_array(p.polname,
      case p.polcmd when '*' then 'ALL' when 'r' then 'SELECT' when 'a' then 'INSERT'
                    when 'w' then 'UPDATE' when 'd' then 'DELETE' end,
      p.polpermissive,
      (select json_agg(case when r = 0 then 'public' else pg_get_userbyid(r) end) from unnest(p.polroles) r),
      pg_get_expr(p.polqual, p.polrelid), pg_get_expr(p.polwithcheck, p.polrelid))), '[]')
   from pg_policy p where p.polrelid = c.oid),
  (select coalesce(json_agg(json_build_array(ic.relname,
      (select json_agg(att.attname order by k.ord)
       from unnest(i.indkey::int2[]) with ordinality k(attnum, ord)
       left join pg_attribute att on att.attrelid = i.indrelid and att.attnum = k.attnum
       where k.ord <= i.indnkeyatts),
      i.indisunique, i.indpred is not null, i.indisprimary)), '[]')
   from pg_index i join pg_class ic on ic.oid = i.indexrelid where i.indrelid = c.oid),
  (select coalesce(json_agg(json_build_array(con.conname,
      (select json_agg(att.attname order by k.ord) from unnest(con.conkey) with ordinality k(attnum, ord)
       join pg_attribute att on att.attrelid = con.conrelid and att.attnum = k.attnum),
      (select format('%I.%I', rn.nspname, rc.relname)
       from pg_class rc join pg_namespace rn on rn.oid = rc.relnamespace where rc.oid = con.confrelid),
      (select json_agg(att.attname order by k.ord) from unnest(con.confkey) with ordinality k(attnum, ord)
       join pg_attribute att on att.attrelid = con.confrelid and att.attnum = k.attnum),
      case con.confdeltype when 'a' then 'NO ACTION' when 'r' then 'RESTRICT' when 'c' then 'CASCADE'
                           when 'n' then 'SET NULL' when 'd' then 'SET DEFAULT' end)), '[]')
   from pg_constraint con
   where con.conrelid = c.oid and con.contype = 'f'
     -- one hidden row per partition of a referenced partitioned table: not declared by anyone
     and not exists (select from pg_constraint pc where pc.oid = con.conparentid and pc.conrelid = con.conrelid)),
  (select coalesce(json_agg(json_build_array(
      case when g.grantee = 0 then 'public' when g.grantee = s.oid then 'postgres' else pg_get_userbyid(g.grantee) end,
      g.privilege_type)), '[]')
   from aclexplode(coalesce(c.relacl, acldefault('r', c.relowner))) g
   where g.privilege_type <> 'MAINTAIN'),
  (select coalesce(json_agg(json_build_array(a.attname,
      case when g.grantee = 0 then 'public' when g.grantee = s.oid then 'postgres' else pg_get_userbyid(g.grantee) end,
      g.privilege_type)), '[]')
   from pg_attribute a, aclexplode(a.attacl) g
   where a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped and a.attacl is not null)
)
from pg_class c join pg_namespace n on n.oid = c.relnamespace
cross join (select oid from pg_roles where rolname = session_user) s
where {_IN_SCOPE} and ($WHERE)
"""

# One more row after the facts: the model's type spellings ($TYPES, a text[]) resolved as the
# session resolves them now (its search_path, not the catalog function's), by oid and name.
_TYPES_SQL = """select null::name, null::name, coalesce((select json_object_agg(t, json_build_array(to_regtype(t)::oid,
  format_type(to_regtype(t), null))) from unnest($TYPES) t), '{}')"""

# The catalog function prints expressions and types with this search_path; so must everything
# compared with what it prints (``everything``, ``rlslint.verify.expressions``).
PRINTING_PATH = "pg_catalog"

# $1, $2: schemas and names of the tables the model changed; $3: the id of the file's
# transaction, whose own writes (and its subtransactions') are no older than it. Each
# branch finds its tables through an index, and the tables are read through pg_class's
# index on their oids (``= any`` of one array), so the cost follows what the statement touched.
_CHANGED_SQL = f"""
with gone as (delete from {OWN_SCHEMA}.changes returning relid, schema_name, table_name, tag),
granted as (select exists (select from gone where tag in ('GRANT', 'REVOKE')) as found),
named as (select schema_name, table_name from gone where table_name is not null
          union select * from unnest($1, $2)),
targets as (
  select relid as oid from gone where relid is not null
  union select c.oid from named x join pg_namespace n on n.nspname = x.schema_name
                     join pg_class c on c.relnamespace = n.oid and c.relname = x.table_name
  union select oid from pg_class where (select found from granted) and age(xmin) <= age($3)
  union select attrelid from pg_attribute where (select found from granted) and age(xmin) <= age($3))
""" + _FACTS_SQL.replace("$WHERE", "c.oid = any ((select array_agg(oid) from targets)::oid[])")

# The catalog query as a function of rlslint's schema, made once per run in the database
# every set's database is copied from. Planning the query costs four times running it, so
# its plan is made once per session (plan_cache_mode) and kept: a plan made while the
# catalogs are small must not keep sequential scans of catalogs that grow by thousands of
# rows during a run (never analysed), hence index scans wherever there is an index
# (enable_seqscan, for this function only). SECURITY DEFINER, and the schema open to every
# role: a migration may SET ROLE, and the read after its statements must still run.
CHANGED_FUNCTION_SQL = f"""
create function {OWN_SCHEMA}.changed(text[], text[], xid) returns table (nspname name, relname name, facts json)
  language plpgsql volatile security definer
  set search_path = {PRINTING_PATH} set plan_cache_mode = force_generic_plan set enable_seqscan = off as $fn$
#variable_conflict use_column
begin
  return query {_CHANGED_SQL.strip()};
end $fn$;
grant usage on schema {OWN_SCHEMA} to public;
"""

# Run once in the database every migration set's database is copied from.
SETUP_SQL = _TRIGGERS_SQL + CHANGED_FUNCTION_SQL


# The current transaction's id (assigning one): what the file's writes are no older than.
TRANSACTION_ID_SQL = "select pg_current_xact_id()::xid::text"


def literal(text: str) -> str:
    """A string literal; standard_conforming_strings is on in every supported PostgreSQL."""
    return "'" + text.replace("'", "''") + "'"


def _array(items: list[str]) -> str:
    return f"array[{', '.join(literal(i) for i in items)}]::text[]"


class CatalogReader:
    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.details: dict[QName, list] = {}  # the last rows read, names included, for the catalog's own model
        self.types: dict[str, str | None] = {}  # the model's type spellings as the last read resolved them

    def changed_sql(self, transaction: str, names: Iterable[QName], spellings: Iterable[str]) -> str:
        """The query for the facts of the tables the statement just run changed, and of the tables
        ``names`` (those that exist), and for the type ``spellings``; sent with the statement,
        its rows go to ``facts``."""
        names = list(names)
        return (f"select * from {OWN_SCHEMA}.changed({_array([q.schema for q in names])}, "
                f"{_array([q.name for q in names])}, {literal(transaction)}) union all "
                + _TYPES_SQL.replace("$TYPES", _array(sorted(spellings))))

    def everything(self, spellings: Iterable[str]) -> dict[QName, TableFacts]:
        self.connection.query(f"delete from {OWN_SCHEMA}.changes")
        types = self.connection.query(_TYPES_SQL.replace("$TYPES", _array(sorted(spellings)))).rows
        facts = self.connection.query(f"begin; set local search_path = {PRINTING_PATH}; "
                                      f"{_FACTS_SQL.replace('$WHERE', 'true')}; commit").rows
        return self.facts([*facts, *types])

    def _read(self, sql: str) -> dict[QName, TableFacts]:
        return self.facts(self.connection.query(sql).rows)

    def facts(self, rows) -> dict[QName, TableFacts]:
        found = {}
        for schema, name, facts in rows:
            if schema is None:
                self.types = json.loads(facts)
                continue
            qname = QName(schema, name)
            row = json.loads(facts)
            self.details[qname] = row
            found[qname] = catalog_facts(*row)
        return found
