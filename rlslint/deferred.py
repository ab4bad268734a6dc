"""Modules of a dependency executed when first used rather than when first imported.

pglast's parser extension imports ``pglast.ast`` (a Python class per node type) and its
package imports ``pglast.enums`` (every PostgreSQL enum as a Python ``Enum``) at start:
together more than half the cost of importing the parser, and a lint never uses either,
since it parses to JSON. Only printing a fix's predicate does (``rlslint.sql.deparse``).

``defer`` puts such a module in ``sys.modules`` as the real module object, found by the
import system as usual and with its spec, file and package path set, but not yet executed:
an ``import`` of it, or of one of its submodules, binds it as it is; the first attribute it
does not have yet executes its code, in place, exactly as the import would have, and from
then on it is an ordinary module. The standard library's ``importlib.util.LazyLoader`` is
not enough here: on Python < 3.12 the import statement itself reads ``__spec__`` through the
lazy module and so executes it.
"""

from __future__ import annotations

import _thread
import importlib.util
import sys
import types

_LOCK = _thread.RLock()
_EXECUTING: set[str] = set()


class _Deferred(types.ModuleType):
    def __getattr__(self, name: str):
        with _LOCK:
            if type(self) is _Deferred:
                if self.__name__ in _EXECUTING:  # its own code asking for what it has not defined yet
                    raise AttributeError(f"partially initialized module {self.__name__!r} has no attribute {name!r}")
                _execute(self)
        return getattr(self, name)


def _execute(module: _Deferred) -> None:
    _EXECUTING.add(module.__name__)
    try:
        module.__spec__.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(module.__name__, None)  # as a failed import leaves it: the next import tries again
        raise
    finally:
        _EXECUTING.discard(module.__name__)
    module.__class__ = types.ModuleType


def defer(package: str, submodules: tuple[str, ...]) -> None:
    """Each of ``package``'s ``submodules`` executed on first use; nothing is done to a package
    already imported or a submodule that cannot be found (it is then imported as usual)."""
    if package in sys.modules:
        return
    found = importlib.util.find_spec(package)  # finds the package without executing it
    if found is None or found.submodule_search_locations is None:
        return
    deferred = []
    for name in submodules:
        spec = _find(f"{package}.{name}", found.submodule_search_locations)
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            continue
        module = importlib.util.module_from_spec(spec)
        if type(module) is not types.ModuleType:  # a loader that makes its own kind of module
            continue
        module.__class__ = _Deferred
        sys.modules[spec.name] = module
        deferred.append(name)
    if deferred and found.loader is not None and hasattr(found.loader, "exec_module"):
        sys.meta_path.insert(0, _PackageFinder(found, tuple(deferred)))


class _PackageFinder:
    """Finds the package, as the import system would, with a loader that binds the deferred
    submodules to it: the import system binds a submodule to its package only when it loads
    the submodule, and these are loaded already, so ``import pglast.ast`` followed by
    ``pglast.ast`` would otherwise not find the attribute. It answers until the package has
    run, however often the package is looked up before (``importlib.util.find_spec``, as
    the cache keys do), then leaves the import system as it was."""

    def __init__(self, spec: importlib.machinery.ModuleSpec, submodules: tuple[str, ...]) -> None:
        self.spec, self.loader, self.submodules = spec, spec.loader, submodules
        spec.loader = self  # until the package runs

    def find_spec(self, name: str, path=None, target=None) -> importlib.machinery.ModuleSpec | None:
        return self.spec if name == self.spec.name else None

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module: types.ModuleType) -> None:
        if self in sys.meta_path:
            sys.meta_path.remove(self)
        self.spec.loader = module.__loader__ = self.loader  # the package keeps its own loader
        self.loader.exec_module(module)
        for name in self.submodules:
            child = sys.modules.get(f"{module.__name__}.{name}")
            if child is not None and name not in vars(module):
                setattr(module, name, child)


def _find(name: str, path) -> importlib.machinery.ModuleSpec | None:
    """What ``import name`` would find, as the import system searches, without importing the parent."""
    for finder in sys.meta_path:
        find_spec = getattr(finder, "find_spec", None)
        spec = find_spec(name, path) if find_spec is not None else None
        if spec is not None:
            return spec
    return None
