"""pglast read from its files without importing it (rlslint/sql/installed.py): the keywords
are pglast's own, and the cache keys change whenever its installed files do."""

from __future__ import annotations

import os
from pathlib import Path

import pglast
import pglast.keywords

from rlslint.cache import ReplayCache
from rlslint.sql import installed

KEYWORD_SETS = ("RESERVED_KEYWORDS", "TYPE_FUNC_NAME_KEYWORDS", "COL_NAME_KEYWORDS", "UNRESERVED_KEYWORDS")


def test_the_keywords_read_from_pglasts_files_are_the_ones_it_imports():
    read = installed.read_keywords(str(Path(pglast.__file__).parent))
    assert read is not None and read is not pglast.keywords
    for name in KEYWORD_SETS:
        assert getattr(read, name) == getattr(pglast.keywords, name) and getattr(read, name)


def test_a_folder_without_keywords_reads_none(tmp_path):
    assert installed.read_keywords(str(tmp_path)) is None


def test_the_identity_is_pglasts_folder_and_follows_its_files(tmp_path, monkeypatch):
    assert installed._folder() == str(Path(pglast.__file__).parent)  # noqa: SLF001
    fake = tmp_path / "pglast"
    fake.mkdir()
    (fake / "__init__.py").write_text("__version__ = 'v8.7'\n")
    (fake / "parser.so").write_bytes(b"\0" * 10)
    monkeypatch.setattr(installed, "_folder", lambda: str(fake))
    identity = installed.identity.__wrapped__
    seen = {identity()}
    (fake / "parser.so").write_bytes(b"\0" * 11)  # an upgrade that changes the parser
    seen.add(identity())
    os.utime(fake / "__init__.py", ns=(0, 0))  # a reinstall of the same files
    seen.add(identity())
    (fake / "ast.py").write_text("")
    seen.add(identity())
    assert len(seen) == 4


def test_the_cache_keys_hold_the_identity(tmp_path, monkeypatch):
    cache = ReplayCache(tmp_path / "cache")
    files = [("m/1.sql", "select 1;\n")]
    before = cache.prefix_keys(tmp_path, files, False)
    monkeypatch.setattr(installed, "identity", lambda: "another pglast")
    after = cache.prefix_keys(tmp_path, files, False)
    assert len(before) == len(after) == 2 and not set(before) & set(after)
