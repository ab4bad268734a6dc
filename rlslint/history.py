"""The history stage: parse a migration set and replay it, file by file, into the model.

It also answers the question a run on named files (pre-commit) asks: what would the model
be had those files never been written? That replay is a copy of the state taken at the
first named file, which then goes on without them. With a cache, the longest stored
prefix of the set is loaded instead of replayed, and only the files after it are parsed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable, NamedTuple, Protocol

from rlslint.cache import ReplayCache, Snapshot
from rlslint.diagnostics import SourceError
from rlslint.sources import MigrationSet
from rlslint.sql.problems import strict_mode

if TYPE_CHECKING:  # loaded by what replays: a run the cache answered whole parses and replays nothing
    from rlslint.schema.model import Catalog
    from rlslint.schema.replay import Observer
    from rlslint.sql.parse import ParsedFile


class History(NamedTuple):
    catalog: Catalog
    errors: tuple[SourceError, ...]  # what parsing the files reported
    # The parsed files later stages asked to keep (``keep``); no other parse tree outlives
    # the replay of its file.
    kept: tuple[ParsedFile, ...]
    # With named files: the model had they never been written, to tell what they caused.
    without_targets: Catalog | None


def start_of(migration_set: MigrationSet, platform: str | None) -> str | None:
    """Where the set's replay starts (see rlslint.schema.access.AccessState): ``platform``
    when the settings name one, and a Supabase layout starts from the platform's roles even
    where they do not."""
    return platform or ("supabase" if migration_set.layout.startswith("supabase") else None)


class FileObserver(Protocol):
    """Told where each file starts and of each statement replayed (``rlslint.verify.trace``)."""

    def start_file(self, path: str) -> None: ...

    observe: Observer


def replay_set(migration_set: MigrationSet, keep: Callable[[str], bool], cache: ReplayCache | None = None,
               observer: FileObserver | None = None, start: str | None = None, keys: list[str] | None = None) -> History:
    """Replay the readable files of a set in order; ``keep(text)`` says whose parse to return;
    ``start``: where the project starts from (see rlslint.schema.access.AccessState);
    ``keys``: the cache's prefix keys of the set, when the caller has them already.

    An ``observer`` sees every statement of every file, so the cache is not used with one.
    """
    from rlslint.schema.replay import replay_file
    from rlslint.schema.state import ReplayState
    from rlslint.sql.parse import parse_file

    if observer is not None:
        cache = None
    readable = [f for f in migration_set.files if f.text is not None]
    targets = migration_set.targets
    named = lambda f: targets is not None and f.display in targets  # noqa: E731
    first_target = next((i for i, f in enumerate(readable) if named(f)), len(readable))
    state = ReplayState(strict_mode(), start)
    if cache is None:
        keys = []
    elif keys is None:
        keys = prefix_keys(migration_set, cache, start)
    loaded = cache.load_longest(migration_set.root, keys[: first_target + 1]) if cache else None
    start, errors = 0, []
    if loaded is not None:
        start, state, errors = loaded.files, loaded.state, list(loaded.errors)
    # Files the snapshot covers are parsed again only when a later stage wants their parse.
    kept = [parse_file(f.display, f.text) for f in readable[:start] if keep(f.text)]
    before_last: Snapshot | None = None  # stored too, so amending the newest file stays cheap
    without: ReplayState | None = None
    for k, file in enumerate(readable[start:], start):
        if cache is not None and k == len(readable) - 1 and k > start:
            before_last = Snapshot(k, state.copy(), tuple(errors))
        if k == first_target:
            without = state.copy()
        try:
            parsed = parse_file(file.display, file.text)
            errors.extend(parsed.errors)
            if observer is None:
                replay_file(parsed, state)
            else:
                observer.start_file(file.display)
                replay_file(parsed, state, observer.observe)
            if without is not None and not named(file):
                replay_file(parsed, without)
        except Exception as exc:  # this file is reported; the files after it are still replayed
            if state.strict:
                raise
            errors.append(SourceError.internal(file.display, "parsing and replaying this file", exc))
            continue
        if keep(file.text):
            kept.append(parsed)
    if cache is not None and _worth_storing(len(readable), start, targets is not None):
        cache.store(migration_set.root, keys, Snapshot(len(readable), state, tuple(errors)), before_last)
    if targets is not None and without is None:  # none of the named files is in the set's replay
        without = state
    return History(state.catalog(), tuple(errors), tuple(kept), without.catalog() if without is not None else None)



def _worth_storing(files: int, loaded: int, named: bool) -> bool:
    """Whether to store the state after the set's last file, having started from the state
    after ``loaded`` files.

    A run on named files (pre-commit) whose stored state was only a few files short does not
    store the one after them: they are work in progress that may change before it is
    committed (each change is a new key), the next run replays those few files again in
    milliseconds from the state it loaded, and encoding and writing the whole state costs
    about as much as loading it. A run over whole sets stores it, and so does a run on named
    files that had to replay a twentieth of its set or more, so a run of commits checked
    file by file never drifts far from a stored state."""
    return not named or loaded == 0 or (files - loaded) * 20 >= files


def prefix_keys(migration_set: MigrationSet, cache: ReplayCache, start: str | None) -> list[str]:
    """The cache's key of the set's state after each prefix of its readable files (``ReplayCache.prefix_keys``)."""
    readable = [(f.display, f.text) for f in migration_set.files if f.text is not None]
    return cache.prefix_keys(migration_set.root, readable, strict_mode(), start)


def parsed_files(migration_set: MigrationSet, keep: Callable[[str], bool]) -> tuple[ParsedFile, ...]:
    """The parses ``keep`` asks for, when the set's findings are stored and nothing is replayed."""
    wanted = [f for f in migration_set.files if f.text is not None and keep(f.text)]
    if not wanted:
        return ()  # the parser is not even loaded
    from rlslint.sql.parse import parse_file

    return tuple(parse_file(f.display, f.text) for f in wanted)
