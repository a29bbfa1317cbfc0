"""The public API: ``jobtrail.__all__`` is sorted, complete, and every name in it resolves."""

from __future__ import annotations

import ast
import inspect
import sys
import typing

import jobtrail


def imported_names() -> set[str]:
    """Every name ``jobtrail/__init__.py`` binds by importing it."""
    tree = ast.parse(inspect.getsource(jobtrail))
    return {
        alias.asname or alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
    }


def test_all_is_sorted() -> None:
    """``__all__`` is kept in sorted order, so additions are easy to review."""
    assert jobtrail.__all__ == sorted(jobtrail.__all__)


def test_all_has_no_duplicates() -> None:
    """Each public name is listed once."""
    assert len(jobtrail.__all__) == len(set(jobtrail.__all__))


def test_all_lists_every_public_name_the_package_imports() -> None:
    """Nothing imported into ``jobtrail`` is left out of ``__all__`` (private names aside)."""
    public = {name for name in imported_names() if not name.startswith("_")}
    assert public, "found no imports in jobtrail/__init__.py"
    assert sorted(public - set(jobtrail.__all__)) == []


def test_every_name_in_all_resolves() -> None:
    """``from jobtrail import *`` works: each listed name is an attribute of the package."""
    missing = [name for name in jobtrail.__all__ if not hasattr(jobtrail, name)]
    assert missing == []
    namespace: dict[str, object] = {}
    exec("from jobtrail import *", namespace)
    assert set(jobtrail.__all__) <= set(namespace)


def test_every_public_module_level_name_is_listed() -> None:
    """No public class or function is reachable on the package without being in ``__all__``."""
    exported = {
        name
        for name, value in vars(jobtrail).items()
        if not name.startswith("_") and not inspect.ismodule(value)
    }
    assert sorted(exported - set(jobtrail.__all__)) == []


def test_version_is_a_string() -> None:
    """``jobtrail.__version__`` is set (and is not part of ``__all__``)."""
    assert isinstance(jobtrail.__version__, str) and jobtrail.__version__
    assert "__version__" not in jobtrail.__all__


def _classes_in(hint: object) -> set[type]:
    """The classes a type hint names, through unions and generics."""
    found: set[type] = set()
    origin = typing.get_origin(hint)
    if isinstance(hint, type) and origin is None:
        found.add(hint)
    for arg in typing.get_args(hint):
        found |= _classes_in(arg)
    return found


def test_everything_a_public_method_returns_is_importable_from_jobtrail() -> None:
    """The return type of every public method of the public classes is exported by jobtrail."""
    owners = [jobtrail.App, jobtrail.JobDef, jobtrail.Enqueuing, jobtrail.JobHandle,
              jobtrail.PathsAPI, jobtrail.Context, jobtrail.Worker, jobtrail.DryRun]
    missing = set()
    for owner in owners:
        for name, member in inspect.getmembers(owner):
            function = member.fget if isinstance(member, property) else member
            if name.startswith("_") or not callable(function):
                continue
            hints = typing.get_type_hints(function, vars(sys.modules[function.__module__]))
            for cls in _classes_in(hints.get("return")):
                if cls.__module__.startswith("jobtrail") and cls.__name__ not in jobtrail.__all__:
                    missing.add(f"{owner.__name__}.{name} -> {cls.__module__}.{cls.__name__}")
    assert sorted(missing) == []
