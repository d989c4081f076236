"""Plain-language diagnoses of plugin mistakes, for the contract suite and ``sealkit plugin check``.

Why a module of its own: pluggy reports a misspelled hook as "unknown hook" with the plugin's ``repr``, and an
entry point naming a module as a runtime simply answers nothing; a plugin author needs the hook, the nearest
spec and the fix instead.
"""

from __future__ import annotations

import inspect
import types
from collections.abc import Iterable

__all__ = [
    "entry_point_shape",
    "missing_hooks",
    "misspelled_hooks",
    "nearest_spec",
    "plugin_label",
    "registration_problems",
    "spec_names",
    "unmarked_hooks",
]

from sealkit import hookspecs
from sealkit.plugins import nearest_spec, spec_names


def plugin_label(runtime_name: str, plugin: object) -> str:
    """``runtime 'k3s' (sealkit_k3s.plugin.Runtime)``: never a bare ``<object at 0x…>``."""
    if isinstance(plugin, types.ModuleType):
        where = f"module {plugin.__name__}"
    else:
        cls = plugin if isinstance(plugin, type) else type(plugin)
        where = f"{cls.__module__}.{cls.__qualname__}"
    return f"runtime {runtime_name!r} ({where})"


def _marked(obj: object, attr: str) -> bool:
    return hasattr(getattr(obj, attr, None), f"{hookspecs.PROJECT}_impl")


def misspelled_hooks(plugin: object) -> list[str]:
    """One line per attribute that looks like a hook but matches no spec, with the nearest spec."""
    specs = set(spec_names())
    out = []
    for attr in sorted(dir(plugin)):
        if attr.startswith("_") or attr in specs:
            continue
        marked = _marked(plugin, attr)
        if not (marked or attr.startswith("sealkit_")):
            continue
        near = nearest_spec(attr)
        if near is None and not marked:
            continue
        guess = f"did you mean {near}?" if near else "no hook of sealkit has a similar name"
        out.append(
            f"{attr} is {'marked @hookimpl but ' if marked else ''}not a sealkit hook: {guess} "
            f"(fix: rename it to {near or 'one of sealkit.hookspecs'})"
        )
    return out


def unmarked_hooks(plugin: object) -> list[str]:
    """Methods named exactly like a spec but without ``@hookimpl``: pluggy ignores them silently."""
    return [
        f"{attr} has no @hookimpl marker, so sealkit never calls it "
        "(fix: decorate it with `from sealkit.api import hookimpl`)"
        for attr in spec_names()
        if callable(getattr(plugin, attr, None)) and not _marked(plugin, attr)
    ]


def entry_point_shape(plugin: object, value: str) -> str | None:
    """Why the object an entry point resolves to cannot be a runtime, or None when it can."""
    if isinstance(plugin, types.ModuleType) and not any(_marked(plugin, s) for s in spec_names()):
        classes = [
            n
            for n, c in inspect.getmembers(plugin, inspect.isclass)
            if c.__module__ == plugin.__name__ and any(_marked(c, s) for s in spec_names())
        ]
        target = f"{plugin.__name__}:{classes[0]}" if classes else f"{plugin.__name__}:<YourRuntimeClass>"
        return (
            f"the entry point {value!r} names the module {plugin.__name__}, not the class holding the hooks "
            f'(fix: point it at the class, e.g. {target!r} in [project.entry-points."sealkit.runtimes"])'
        )
    return None


def missing_hooks(plugin: object, required: Iterable[str]) -> list[str]:
    """Required hooks the plugin does not implement (marked), each with the fix."""
    out = []
    for name in required:
        if _marked(plugin, name):
            continue
        near = [a for a in misspelled_hooks(plugin) if nearest_spec(a.split(" ", 1)[0]) == name]
        if near:
            continue  # reported as a misspelling, which names this hook already
        out.append(f"{name} is not implemented (fix: add `@hookimpl def {name}(...)`; see docs/hooks.md)")
    return out


def registration_problems(plugin: object, required: Iterable[str], value: str = "") -> list[str]:
    """Everything wrong with how a plugin presents itself, before any hook is called."""
    shape = entry_point_shape(plugin, value or repr(plugin))
    if shape:
        return [shape]
    return [*misspelled_hooks(plugin), *unmarked_hooks(plugin), *missing_hooks(plugin, required)]
