"""pglast as installed, read without importing its package.

``import pglast`` (or any of its modules) runs the package's ``__init__``, which loads the
parser extension, its node classes and its enums: 40 to 70 ms of a run. A run the cache
answers whole (nothing changed) parses nothing, yet still needs two things from pglast:
who it is, for the cache keys, and PostgreSQL's keywords, to quote names. Both are read
from its files here; where pglast is not one folder of files (a zip, say), or is loaded
already, it is simply imported.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import os
import sys
from types import ModuleType


@functools.lru_cache(maxsize=1)
def _folder() -> str | None:
    spec = importlib.util.find_spec("pglast")  # finds it without importing it
    folders = list(spec.submodule_search_locations or ()) if spec is not None else []
    return folders[0] if len(folders) == 1 and os.path.isdir(folders[0]) else None


@functools.lru_cache(maxsize=1)
def identity() -> str:
    """Each file of pglast's package by name, size and modification time: an upgrade or a
    reinstall changes them, so the cache keys hold pglast's version and more."""
    folder = _folder()
    if folder is not None:
        try:
            with os.scandir(folder) as entries:
                return json.dumps(sorted((e.name, e.stat().st_size, e.stat().st_mtime_ns)
                                         for e in entries if e.is_file()))
        except OSError:
            pass
    import pglast

    return pglast.__version__


@functools.lru_cache(maxsize=1)
def keywords() -> ModuleType:
    """``pglast.keywords`` (a module of plain sets, generated from PostgreSQL's kwlist.h)."""
    folder = _folder()
    if "pglast" not in sys.modules and folder is not None:
        module = read_keywords(folder)
        if module is not None:
            return module
    import pglast.keywords

    return pglast.keywords


def read_keywords(folder: str) -> ModuleType | None:
    """The keywords module in pglast's ``folder``, run on its own (not registered: a later
    ``import pglast`` loads its own); None where there is none."""
    path = os.path.join(folder, "keywords.py")
    spec = importlib.util.spec_from_file_location("pglast.keywords", path) if os.path.isfile(path) else None
    if spec is None or spec.loader is None:
        return None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
