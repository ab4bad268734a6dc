"""The schema model must end up where PostgreSQL ends up, for every replay scenario.

Each scenario under tests/fixtures/replay/ is applied to a real server (the `pg` fixture) and
replayed by rlslint; the two catalog snapshots must match table by table.
"""

import json
from pathlib import Path

import pytest

from rlslint.engine import build_catalog
from tests.support.model_snapshot import model_access, model_snapshot
from tests.support.pgharness import apply_migrations, normalise_access, normalise_snapshot

REPLAY_DIR = Path(__file__).parents[1] / "fixtures" / "replay"
SCENARIOS = sorted(p for p in REPLAY_DIR.iterdir() if (p / "migrations").is_dir())

# Scenarios whose SQL is read at run time: the tables it may change are marked, not guessed.
UNKNOWABLE = {"do_unknowable": {"public.registry", "public.orders"}}
# What SQL built at run time can change on a table (the rest stays exact)
UNKNOWN_FIELDS = ("rls", "force_rls", "policies")


def _show(value) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def snapshot_differences(postgres: dict, model: dict) -> list[str]:
    """One readable line per difference, each naming the table (and field) concerned."""
    pg_tables, model_tables = postgres["tables"], model["tables"]
    problems = [f"{name}: in PostgreSQL, missing from the model" for name in pg_tables.keys() - model_tables.keys()]
    problems += [f"{name}: in the model, not in PostgreSQL" for name in model_tables.keys() - pg_tables.keys()]
    for name in sorted(pg_tables.keys() & model_tables.keys()):
        want, got = pg_tables[name], model_tables[name]
        for field in sorted(want.keys() | got.keys()):
            w, g = want.get(field), got.get(field)
            if w == g:
                continue
            if isinstance(w, dict) and isinstance(g, dict):  # policies, by name
                problems += [f"{name}.{field}[{_show(k)}]: PostgreSQL {_show(w.get(k))} != model {_show(g.get(k))}"
                             for k in sorted(w.keys() | g.keys()) if w.get(k) != g.get(k)]
            elif isinstance(w, list) and isinstance(g, list) and field != "columns":
                missing = [x for x in w if x not in g]
                extra = [x for x in g if x not in w]
                problems.append(f"{name}.{field}: model lacks {_show(missing)}, model adds {_show(extra)}")
            else:
                problems.append(f"{name}.{field}: PostgreSQL {_show(w)} != model {_show(g)}")
    return sorted(problems)


def access_differences(postgres: dict, model: dict) -> list[str]:
    """One line per role, membership, object or table whose privileges differ."""
    problems = []
    for key in ("roles", "privileges_of", "schemas", "functions", "sequences", "tables"):
        want, got = postgres[key], model[key]
        problems += [f"{key}[{_show(k)}]: PostgreSQL {_show(want.get(k))} != model {_show(got.get(k))}"
                     for k in sorted(want.keys() | got.keys()) if want.get(k) != got.get(k)]
    if postgres["memberships"] != model["memberships"]:
        problems.append(f"memberships: PostgreSQL {_show(postgres['memberships'])} != model {_show(model['memberships'])}")
    return problems


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda p: p.name)
def test_model_matches_postgres(pg, scenario: Path):
    migrations = scenario / "migrations"
    postgres = apply_migrations(pg, sorted(migrations.glob("*.sql")), with_access=True)
    catalog = build_catalog(migrations, start="supabase")  # the database starts from the Supabase scaffold
    model = normalise_snapshot(model_snapshot(catalog))

    marked = {str(qname) for qname, table in catalog.tables.items() if table.unanalysed}
    assert marked == UNKNOWABLE.get(scenario.name, set()), "tables marked as changed by unanalysed SQL"
    assert bool(catalog.unanalysed) == bool(marked)
    for name in marked:
        for snapshot in (postgres, model):
            for field in UNKNOWN_FIELDS:
                snapshot["tables"].get(name, {}).pop(field, None)

    problems = snapshot_differences(postgres, model)
    problems += access_differences(postgres["access"], normalise_access(model_access(catalog)))
    assert not problems, f"{scenario.name}: model differs from PostgreSQL:\n" + "\n".join(problems)
