"""A hypothesis strategy for random but valid migration histories.

The generator keeps its own small record of what exists (tables, column types, named
indexes, constraints and policies, the session's search_path) only so that every
statement it emits is one PostgreSQL accepts; PostgreSQL itself is the oracle for what
the statements do. Choices are drawn one by one, so hypothesis shrinks a failing
history towards fewer files, fewer statements and the first alternative of each choice.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hypothesis import strategies as st

from rlslint.sql.names import quote_ident

SCHEMAS = ("public", "App")  # "App" needs quoting: mixed case
TABLE_NAMES = ("items", "tasks", "Orders", "notes", "Team Members")
COLUMN_NAMES = ("owner_id", "team_id", "Title", "score", "parent_id", "Due Date")
ROLES = ("public", "anon", "authenticated", "service_role")
NEW_ROLES = ("app_user", "Auditors")  # created by the histories; "Auditors" needs quoting
TABLE_PRIVILEGES = ("select", "insert", "update", "delete", "truncate", "references", "trigger", "all")
COLUMN_PRIVILEGES = ("select", "insert", "update", "references")
COMMANDS = ("all", "select", "insert", "update", "delete")
ON_DELETE = ("", " on delete no action", " on delete restrict", " on delete cascade", " on delete set null",
             " on delete set default")
TYPES = ("uuid", "bigint", "text")


@dataclass
class _Table:
    schema: str
    name: str
    columns: dict[str, str] = field(default_factory=dict)  # name -> type, in order
    indexes: set[str] = field(default_factory=set)  # names we gave, so they can be dropped/renamed
    constraints: set[str] = field(default_factory=set)
    policies: dict[str, str] = field(default_factory=dict)  # name -> command
    policy_columns: dict[str, set[str]] = field(default_factory=dict)


class _History:
    def __init__(self, draw, cross_table: bool = False) -> None:
        self.draw = draw
        self.cross_table = cross_table  # policies may read other tables in sub-selects
        self.tables: list[_Table] = []
        self.search_path: tuple[str, ...] = ("public",)
        self.counter = 0
        self.roles_made: list[str] = []
        self.memberships: set[tuple[str, str]] = set()  # (role, member)

    # --- names ----------------------------------------------------------------------

    def fresh(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}{self.counter}"

    def ref(self, table: _Table) -> str:
        """The table's name as a statement writes it: unqualified when the search_path finds it."""
        if self.resolves(table) and self.draw(st.booleans()):
            return quote_ident(table.name)
        return f"{quote_ident(table.schema)}.{quote_ident(table.name)}"

    def resolves(self, table: _Table) -> bool:
        for schema in self.search_path:
            if any(t.schema == schema and t.name == table.name for t in self.tables):
                return schema == table.schema
        return False

    def pick(self, items):
        return self.draw(st.sampled_from(list(items)))

    def pick_table(self) -> _Table | None:
        return self.pick(self.tables) if self.tables else None

    # --- statements -------------------------------------------------------------------

    def statement(self, only: tuple[str, ...] = ()) -> str | None:
        if only and self.tables:
            return getattr(self, "_" + self.pick(only))()
        kinds = ["create_table", "add_column", "index", "rls", "policy", "fk", "unique", "alter_policy",
                 "rename_column", "rename_table", "drop_column", "drop_index", "drop_policy", "drop_constraint",
                 "rename_index", "rename_policy", "rename_constraint", "drop_table", "search_path",
                 "grant", "revoke", "grant_in_schema", "default_privileges", "create_role", "alter_role",
                 "grant_role", "revoke_role", "owner", "schema_usage"]
        if not self.tables:
            kinds = ["create_table", "create_role", "default_privileges", "alter_role"]
        return getattr(self, "_" + self.pick(kinds))()

    def _create_table(self) -> str | None:
        schema = self.pick(SCHEMAS)
        free = [n for n in TABLE_NAMES if not any(t.schema == schema and t.name == n for t in self.tables)]
        if not free:
            return None
        table = _Table(schema, self.pick(free))
        columns = ["id bigint primary key"]
        table.columns["id"] = "bigint"
        for name in self.draw(st.lists(st.sampled_from(COLUMN_NAMES), max_size=3, unique=True)):
            columns.append(self.column_def(table, name))
        unqualified = schema == self.first_existing_schema() and self.draw(st.booleans())
        written = quote_ident(table.name) if unqualified else f"{quote_ident(schema)}.{quote_ident(table.name)}"
        self.tables.append(table)
        return f"create table {written} ({', '.join(columns)})"

    def first_existing_schema(self) -> str:
        return self.search_path[0]

    def column_def(self, table: _Table, name: str) -> str:
        """A column definition, sometimes NOT NULL, sometimes an inline foreign key."""
        kind = self.pick(("plain", "not null", "owner fk", "table fk"))
        if kind == "owner fk":
            table.columns[name] = "uuid"
            null = self.pick(("", " not null"))
            return f"{quote_ident(name)} uuid{null} references auth.users{self.pick(ON_DELETE)}"
        if kind == "table fk" and self.tables:
            target = self.pick_table()
            table.columns[name] = "bigint"
            return f"{quote_ident(name)} bigint references {self.ref(target)} (id){self.pick(ON_DELETE)}"
        column_type = self.pick(TYPES)
        table.columns[name] = column_type
        return f"{quote_ident(name)} {column_type}{' not null' if kind == 'not null' else ''}"

    def _add_column(self) -> str | None:
        table = self.pick_table()
        free = [c for c in COLUMN_NAMES if c not in table.columns]
        if not free:
            return None
        name = self.pick(free)
        definition = self.column_def(table, name)
        if_not_exists = self.pick(("", "if not exists "))
        return f"alter table {self.ref(table)} add column {if_not_exists}{definition}"

    def _index(self) -> str | None:
        table = self.pick_table()
        columns = list(table.columns)
        keys = self.draw(st.lists(st.sampled_from(columns), min_size=1, max_size=2, unique=True))
        parts = [quote_ident(c) for c in keys]
        text_columns = [c for c in columns if table.columns[c] == "text"]
        if text_columns and self.draw(st.booleans()):
            parts.insert(self.draw(st.integers(0, len(parts))), f"lower({quote_ident(self.pick(text_columns))})")
        unique = self.pick(("", "unique "))
        named = self.draw(st.booleans())
        name = ""
        if named:
            index_name = self.fresh("ix")
            table.indexes.add(index_name)
            name = index_name + " "
        where = f" where {quote_ident(keys[0])} is not null" if self.draw(st.booleans()) else ""
        return f"create {unique}index {name}on {self.ref(table)} ({', '.join(parts)}){where}"

    def _rls(self) -> str:
        table = self.pick_table()
        action = self.pick(("enable", "disable", "force", "no force"))
        return f"alter table {self.ref(table)} {action} row level security"

    def predicate(self, table: _Table, used: set[str]) -> str:
        uuid_columns = [c for c, t in table.columns.items() if t == "uuid"]
        others = [t for t in self.tables if t is not table and any(k == "uuid" for k in t.columns.values())]
        choices = ["true", "false"] + (["col = uid", "uid = col", "col in"] if uuid_columns else [])
        if self.cross_table and others:
            choices += ["exists", "exists unqualified"]
        form = self.pick(choices)
        if form in ("true", "false"):
            return form
        if form.startswith("exists"):
            return self.sub_select(table, self.pick(others), qualified=form == "exists")
        column = self.pick(uuid_columns)
        used.add(column)
        column = quote_ident(column)
        if form == "col = uid":
            return f"{column} = auth.uid()"
        if form == "uid = col":
            return f"(select auth.uid()) = {column}"
        return f"{column} in (select auth.uid())"

    def sub_select(self, table: _Table, other: _Table, qualified: bool) -> str:
        """``exists (select 1 from other …)``: the policy reads another table, which an index
        there serves; unqualified, its column binds to the innermost table that has it."""
        column = quote_ident(self.pick([c for c, t in other.columns.items() if t == "uuid"]))
        own = f"{quote_ident(table.name)}.id"
        if qualified:
            return f"exists (select 1 from {self.ref(other)} o where o.{column} = (select auth.uid()) and o.id = {own})"
        return f"exists (select 1 from {self.ref(other)} where {column} = auth.uid())"

    def roles(self) -> str:
        roles = self.draw(st.lists(st.sampled_from(ROLES + tuple(self.roles_made)), min_size=1, max_size=2, unique=True))
        return ", ".join(quote_ident(r) if r != "public" else r for r in roles)

    # --- roles and privileges ------------------------------------------------------------

    def privileges(self, table: _Table) -> str:
        chosen = self.draw(st.lists(st.sampled_from(TABLE_PRIVILEGES), min_size=1, max_size=3, unique=True))
        if "all" in chosen:
            return "all"
        if self.draw(st.booleans()):
            columns = self.draw(st.lists(st.sampled_from(list(table.columns)), min_size=1, max_size=2, unique=True))
            chosen = [f"{p} ({', '.join(quote_ident(c) for c in columns)})" if p in COLUMN_PRIVILEGES else p for p in chosen]
        return ", ".join(chosen)

    def _grant(self) -> str:
        table = self.pick_table()
        return f"grant {self.privileges(table)} on {self.pick(('', 'table '))}{self.ref(table)} to {self.roles()}"

    def _revoke(self) -> str:
        table = self.pick_table()
        return f"revoke {self.privileges(table)} on {self.ref(table)} from {self.roles()}"

    def _grant_in_schema(self) -> str:
        schema = quote_ident(self.pick_table().schema)
        privilege = self.pick(("all", "select", "insert, update", "delete"))
        if self.draw(st.booleans()):
            return f"grant {privilege} on all tables in schema {schema} to {self.roles()}"
        return f"revoke {privilege} on all tables in schema {schema} from {self.roles()}"

    def _default_privileges(self) -> str:
        where = self.pick(("", " in schema public", ' in schema "App"'))
        privilege = self.pick(("all", "select", "insert, delete", "update"))
        if self.draw(st.booleans()):
            return f"alter default privileges{where} grant {privilege} on tables to {self.roles()}"
        return f"alter default privileges{where} revoke {privilege} on tables from {self.roles()}"

    def _create_role(self) -> str | None:
        free = [r for r in NEW_ROLES if r not in self.roles_made]
        if not free:
            return None
        name = self.pick(free)
        self.roles_made.append(name)
        login = self.pick(("", " login", " nologin"))
        flags = self.draw(st.lists(st.sampled_from(("bypassrls", "noinherit")), max_size=2, unique=True))
        return f"create role {quote_ident(name)}{login}{''.join(' ' + f for f in flags)}"

    def _alter_role(self) -> str:
        role = self.pick(("anon", "authenticated", "service_role", *self.roles_made))
        flag = self.pick(("inherit", "noinherit", "bypassrls", "nobypassrls"))
        return f"alter role {quote_ident(role)} {flag}"

    def member_roles(self) -> list[str]:
        return ["anon", "authenticated", "service_role", *self.roles_made]

    def reaches(self, start: str, goal: str) -> bool:
        stack, seen = [start], set()
        while stack:
            role = stack.pop()
            if role == goal:
                return True
            seen.add(role)
            stack.extend(r for r, m in self.memberships if m == role and r not in seen)
        return False

    def _grant_role(self) -> str | None:
        role, member = self.pick(self.member_roles()), self.pick(self.member_roles())
        # PostgreSQL refuses circular membership; authenticator's platform grants are left alone.
        if role == member or self.reaches(role, member) or (role, member) in self.memberships:
            return None
        self.memberships.add((role, member))
        inherit = self.pick(("", " with inherit true", " with inherit false"))
        return f"grant {quote_ident(role)} to {quote_ident(member)}{inherit}"

    def _revoke_role(self) -> str | None:
        if not self.memberships:
            return None
        role, member = self.pick(sorted(self.memberships))
        self.memberships.discard((role, member))
        return f"revoke {quote_ident(role)} from {quote_ident(member)}"

    def _owner(self) -> str | None:
        if not self.roles_made:
            return None
        return f"alter table {self.ref(self.pick_table())} owner to {quote_ident(self.pick(self.roles_made + ['postgres']))}"

    def _schema_usage(self) -> str:
        schema = self.pick(('public', '"App"'))
        if self.draw(st.booleans()):
            return f"grant usage on schema {schema} to {self.roles()}"
        return f"revoke usage on schema {schema} from {self.roles()}"

    def _policy(self) -> str:
        table = self.pick_table()
        name = self.pick((self.fresh("p"), self.fresh("Policy ")))
        command = self.pick(COMMANDS)
        used: set[str] = set()
        parts = [f"create policy {quote_ident(name)} on {self.ref(table)}"]
        parts.append(self.pick(("", " as permissive", " as restrictive")))
        parts.append("" if command == "all" and self.draw(st.booleans()) else f" for {command}")
        if self.draw(st.booleans()):
            parts.append(f" to {self.roles()}")
        if command != "insert":
            parts.append(f" using ({self.predicate(table, used)})")
        if command in ("insert", "update", "all") and (command == "insert" or self.draw(st.booleans())):
            parts.append(f" with check ({self.predicate(table, used)})")
        table.policies[name] = command
        table.policy_columns[name] = used
        return "".join(parts)

    def _alter_policy(self) -> str | None:
        table = self.pick_table()
        if not table.policies:
            return None
        name = self.pick(sorted(table.policies))
        command = table.policies[name]
        change = self.pick(("roles", "using", "check"))
        used = table.policy_columns[name]
        head = f"alter policy {quote_ident(name)} on {self.ref(table)}"
        if change == "using" and command != "insert":
            return f"{head} using ({self.predicate(table, used)})"
        if change == "check" and command in ("insert", "update", "all"):
            return f"{head} with check ({self.predicate(table, used)})"
        return f"{head} to {self.roles()}"

    def _fk(self) -> str:
        table = self.pick_table()
        target = self.pick(["auth.users"] + self.tables)
        column = self.fresh("ref")
        column_type = "uuid" if target == "auth.users" else "bigint"
        target_sql = target if target == "auth.users" else f"{self.ref(target)} (id)"
        table.columns[column] = column_type
        constraint = ""
        if self.draw(st.booleans()):
            name = self.fresh("fk")
            table.constraints.add(name)
            constraint = f"constraint {name} "
        return (f"alter table {self.ref(table)} add column {column} {column_type}{self.pick(('', ' not null'))}, "
                f"add {constraint}foreign key ({column}) references {target_sql}{self.pick(ON_DELETE)}")

    def _unique(self) -> str | None:
        table = self.pick_table()
        # Never (id) alone: a foreign key to (id) could then depend on this constraint
        # instead of the primary key, and which one PostgreSQL picks is not worth modelling here.
        keys = self.draw(st.lists(st.sampled_from(list(table.columns)), min_size=1, max_size=2, unique=True))
        if keys == ["id"]:
            return None
        constraint = ""
        if self.draw(st.booleans()):
            name = self.fresh("uq")
            table.constraints.add(name)
            constraint = f"constraint {name} "
        return f"alter table {self.ref(table)} add {constraint}unique ({', '.join(quote_ident(k) for k in keys)})"

    def _rename_column(self) -> str | None:
        table = self.pick_table()
        old_names = [c for c in table.columns if c != "id"]
        free = [c for c in COLUMN_NAMES if c not in table.columns]
        if not old_names or not free:
            return None
        old, new = self.pick(old_names), self.pick(free)
        table.columns = {(new if c == old else c): t for c, t in table.columns.items()}
        table.policy_columns = {p: {new if c == old else c for c in cols} for p, cols in table.policy_columns.items()}
        return f"alter table {self.ref(table)} rename column {quote_ident(old)} to {quote_ident(new)}"

    def _rename_table(self) -> str | None:
        table = self.pick_table()
        free = [n for n in TABLE_NAMES if not any(t.schema == table.schema and t.name == n for t in self.tables)]
        if not free:
            return None
        written = self.ref(table)
        table.name = self.pick(free)
        return f"alter table {written} rename to {quote_ident(table.name)}"

    def _drop_column(self) -> str | None:
        table = self.pick_table()
        columns = [c for c in table.columns if c != "id"]
        if not columns:
            return None
        column = self.pick(columns)
        in_policy = any(column in cols for cols in table.policy_columns.values())
        cascade = " cascade" if in_policy or self.draw(st.booleans()) else ""
        del table.columns[column]
        for name, cols in list(table.policy_columns.items()):
            if column in cols:  # PostgreSQL drops the policy with the column (CASCADE)
                del table.policy_columns[name], table.policies[name]
        # Indexes and constraints on the column go too; forget them so they are not named again.
        table.indexes.clear()
        table.constraints.clear()
        return f"alter table {self.ref(table)} drop column {self.pick(('', 'if exists '))}{quote_ident(column)}{cascade}"

    def _drop_index(self) -> str | None:
        table = self.pick_table()
        if not table.indexes:
            return None
        name = self.pick(sorted(table.indexes))
        table.indexes.discard(name)
        qualified = f"{quote_ident(table.schema)}.{name}" if table.schema not in self.search_path[:1] else name
        return f"drop index {self.pick(('', 'if exists '))}{qualified}"

    def _rename_index(self) -> str | None:
        table = self.pick_table()
        if not table.indexes:
            return None
        old = self.pick(sorted(table.indexes))
        new = self.fresh("ix")
        table.indexes = (table.indexes - {old}) | {new}
        return f"alter index {quote_ident(table.schema)}.{old} rename to {new}"

    def _drop_policy(self) -> str | None:
        table = self.pick_table()
        if not table.policies:
            return None
        name = self.pick(sorted(table.policies))
        del table.policies[name], table.policy_columns[name]
        return f"drop policy {self.pick(('', 'if exists '))}{quote_ident(name)} on {self.ref(table)}"

    def _rename_policy(self) -> str | None:
        table = self.pick_table()
        if not table.policies:
            return None
        old = self.pick(sorted(table.policies))
        new = self.fresh("renamed ")
        table.policies[new] = table.policies.pop(old)
        table.policy_columns[new] = table.policy_columns.pop(old)
        return f"alter policy {quote_ident(old)} on {self.ref(table)} rename to {quote_ident(new)}"

    def _drop_constraint(self) -> str | None:
        table = self.pick_table()
        if not table.constraints:
            return None
        name = self.pick(sorted(table.constraints))
        table.constraints.discard(name)
        # CASCADE: a unique constraint may back a foreign key elsewhere (never here: FKs use id).
        return f"alter table {self.ref(table)} drop constraint {self.pick(('', 'if exists '))}{name} cascade"

    def _rename_constraint(self) -> str | None:
        table = self.pick_table()
        if not table.constraints:
            return None
        old = self.pick(sorted(table.constraints))
        new = self.fresh("con")
        table.constraints = (table.constraints - {old}) | {new}
        return f"alter table {self.ref(table)} rename constraint {old} to {new}"

    def _drop_table(self) -> str:
        table = self.pick_table()
        written = self.ref(table)
        self.tables.remove(table)
        for other in self.tables:  # CASCADE drops foreign keys pointing at it; forget every name
            other.constraints.clear()
        return f"drop table {self.pick(('', 'if exists '))}{written} cascade"

    def _search_path(self) -> str:
        self.search_path = self.pick((("App", "public"), ("public",), ("public", "App")))
        return "set search_path to " + ", ".join(quote_ident(s) for s in self.search_path)

    def file(self, only: tuple[str, ...] = ()) -> str:
        self.search_path = ("public",)  # each migration runs in a fresh session
        lines = []
        for _ in range(self.draw(st.integers(1, 8))):
            stmt = self.statement(only)
            if stmt is None:
                continue
            if not stmt.startswith("set ") and self.draw(st.integers(0, 5)) == 0:
                stmt = f"do $$\nbegin\n  {stmt};\nend\n$$"
            lines.append(stmt + ";")
        return "\n".join(lines) + "\n"


# Statements that change who may do what, and little else.
ACCESS_STATEMENTS = ("grant_role", "revoke_role", "alter_role", "create_role", "schema_usage", "owner", "rls")


@st.composite
def migration_histories(draw, cross_table: bool = False, last: tuple[str, ...] = ()) -> list[str]:
    """The texts of 1–4 migration files, in apply order. ``cross_table``: policies may also
    read other tables in sub-selects (which a column drop or table drop elsewhere may break,
    so the histories are for the model, not for a server). ``last``: the kinds of statement
    (``_History`` method names without the underscore) a last, extra file is made of."""
    history = _History(draw, cross_table)
    files = ['create schema "App";\n' + history.file()]
    for _ in range(draw(st.integers(0, 3))):
        files.append(history.file())
    if last:
        files.append(history.file(last))
    return files
