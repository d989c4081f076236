"""Plugin discovery (stevedore) and registration (one pluggy PluginManager per run).

* the runtime is ONE driver from the entry-point group ``sealkit.runtimes`` (``DriverManager``);
* add-ons (HA strategies, app installers, extra checks) are ALL entry points of ``sealkit.plugins``;
* built-in behaviour (PKI, HA, registry, file distribution) is registered first as ordinary plugins of the
  same hooks, so a runtime or add-on can override it with ``tryfirst`` or by answering a firstresult hook.

A plugin that fails to import is an error naming its distribution: never silently skipped.
"""

from __future__ import annotations

import difflib
import inspect
import os
import sys
import types
from dataclasses import dataclass
from importlib import metadata
from typing import Any

import pluggy
from stevedore import DriverManager, ExtensionManager

from sealkit import hookspecs
from sealkit.apps.plugins import add_hookspecs as add_app_hookspecs
from sealkit.errors import PluginError

RUNTIME_GROUP = "sealkit.runtimes"
ADDON_GROUP = "sealkit.plugins"


@dataclass(frozen=True)
class InstalledPlugin:
    """One entry point as ``sealkit plugins`` lists it."""

    kind: str  # "runtime" | "addon" | "builtin"
    name: str
    module: str
    distribution: str
    version: str


def _entry_points(group: str) -> list[metadata.EntryPoint]:
    return sorted(metadata.entry_points(group=group), key=lambda ep: ep.name)


def _distribution(ep: metadata.EntryPoint) -> tuple[str, str]:
    """(name, version) of the distribution declaring ``ep``; stevedore's cached entry points lack it."""
    dist = getattr(ep, "dist", None)
    if dist is None:
        for candidate in metadata.distributions():
            if any(e.name == ep.name and e.value == ep.value for e in candidate.entry_points):
                dist = candidate
                break
    if dist is None:
        return ("unknown distribution", "?")
    return (dist.metadata["Name"], dist.version)


def installed(include_builtin: bool = True) -> list[InstalledPlugin]:
    """List runtime and add-on entry points with their distributions, without importing them."""
    out: list[InstalledPlugin] = []
    if include_builtin:
        from sealkit import __version__
        from sealkit.builtin import BUILTIN_PLUGINS

        for name, module in BUILTIN_PLUGINS:
            out.append(InstalledPlugin("builtin", name, module, "sealkit", __version__))
    for kind, group in (("runtime", RUNTIME_GROUP), ("addon", ADDON_GROUP)):
        for ep in _entry_points(group):
            dist, version = _distribution(ep)
            out.append(InstalledPlugin(kind, ep.name, ep.value, dist, version))
    return out


def runtime_names() -> list[str]:
    return [ep.name for ep in _entry_points(RUNTIME_GROUP)]


def _raise_on_load_failure(group: str):
    def callback(_manager: Any, ep: metadata.EntryPoint, err: BaseException) -> None:
        dist, version = _distribution(ep)
        raise PluginError(
            f"plugin {ep.name!r} ({group}) from distribution {dist} {version} failed to load "
            f"{ep.value}: {type(err).__name__}: {err}",
            hint=f"reinstall or uninstall it: pip install --force-reinstall {dist}  |  pip uninstall {dist}",
        ) from err

    return callback


def load_runtime(name: str) -> object:
    """Load the runtime driver ``name``; an unknown name is a usage error listing the installed ones."""
    names = runtime_names()
    if name not in names:
        raise PluginError(
            f"runtime {name!r} is not installed; installed runtimes: {', '.join(names) or 'none'}",
            hint=f"pip install sealkit-{name}  (or pick one of the installed runtimes)",
        )
    mgr = DriverManager(
        RUNTIME_GROUP,
        name,
        invoke_on_load=False,
        on_load_failure_callback=_raise_on_load_failure(RUNTIME_GROUP),
    )
    return _checked_shape(name, mgr.driver)


def _has_hooks(obj: object) -> bool:
    return any(hasattr(getattr(obj, n, None), f"{hookspecs.PROJECT}_impl") for n in spec_names())


def _checked_shape(name: str, obj: object) -> object:
    """A runtime entry point naming a module whose hooks live in a class is refused with that class's
    name: registered as is, the module would answer no hook and every step would report "no plugin"."""
    if isinstance(obj, types.ModuleType) and not _has_hooks(obj):
        classes = [
            cls
            for cls_name, cls in inspect.getmembers(obj, inspect.isclass)
            if cls.__module__ == obj.__name__ and _has_hooks(cls)
        ]
        target = f"{obj.__name__}:{classes[0].__name__}" if classes else f"{obj.__name__}:<ClassWithHooks>"
        raise PluginError(
            f"runtime {name!r}: its entry point names the module {obj.__name__}, which implements no hook",
            hint=f'point it at the class holding the hooks: {name} = "{target}" '
            '(pyproject.toml, [project.entry-points."sealkit.runtimes"]), then reinstall it',
        )
    return _as_plugin(obj)


def spec_names() -> list[str]:
    """Every hook sealkit specifies."""
    return sorted(n for n, f in vars(hookspecs).items() if n.startswith("sealkit_") and callable(f))


def nearest_spec(name: str) -> str | None:
    """The hook spec a misspelled hook name most likely meant, or None."""
    wanted = name if name.startswith("sealkit_") else f"sealkit_{name}"
    found = difflib.get_close_matches(wanted, spec_names(), n=1, cutoff=0.75)
    return found[0] if found else None


def load_addons() -> list[tuple[str, object]]:
    """Load every add-on of ``sealkit.plugins``; a broken one raises PluginError."""
    mgr = ExtensionManager(
        ADDON_GROUP,
        invoke_on_load=False,
        on_load_failure_callback=_raise_on_load_failure(ADDON_GROUP),
    )
    return [(ext.name, _as_plugin(ext.plugin)) for ext in sorted(mgr, key=lambda e: e.name)]


def _as_plugin(obj: object) -> object:
    """Entry points may name a module, a class (instantiated with no args) or an instance."""
    if isinstance(obj, type):
        return obj()
    return obj


def new_manager() -> pluggy.PluginManager:
    """A PluginManager with sealkit's hook specs and nothing registered."""
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    add_app_hookspecs(pm)
    if os.environ.get("SEALKIT_TRACE_PLUGINS") == "1":
        pm.trace.root.setwriter(lambda msg: sys.stderr.write(f"[plugins] {msg}"))
        pm.enable_tracing()
    return pm


def build_manager(
    runtime: str | None,
    *,
    extra: list[tuple[str, object]] | None = None,
    load_entry_points: bool = True,
) -> pluggy.PluginManager:
    """Register built-ins, then the selected runtime, add-ons and ``extra`` plugins; check the contract.

    ``load_entry_points=False`` is for unit tests that register plugins explicitly.
    """
    from sealkit.builtin import builtin_plugins

    pm = new_manager()
    for name, plugin in builtin_plugins():
        pm.register(plugin, name=f"builtin:{name}")
    if load_entry_points:
        if runtime:
            pm.register(load_runtime(runtime), name=f"runtime:{runtime}")
        for name, plugin in load_addons():
            pm.register(plugin, name=f"addon:{name}")
    for name, plugin in extra or []:
        pm.register(plugin, name=name)
    check_contract(pm)
    return pm


def check_contract(pm: pluggy.PluginManager) -> None:
    """Fail loudly on a hookimpl with no matching spec (usually a typo) or a wrong signature."""
    try:
        pm.check_pending()
    except pluggy.PluginValidationError as err:
        name = pm.get_name(err.plugin) or type(err.plugin).__name__
        unknown = [
            n
            for n in dir(err.plugin)
            if not n.startswith("_")
            and hasattr(getattr(err.plugin, n, None), f"{hookspecs.PROJECT}_impl")
            and n not in spec_names()
        ]
        guesses = [f"{n} → did you mean {nearest_spec(n)}?" for n in unknown if nearest_spec(n)]
        raise PluginError(
            f"plugin {name!r} breaks the hook contract: {err}" + "".join(f"\n  {g}" for g in guesses),
            hint="hook names must match sealkit.hookspecs (docs/hooks.md, `sealkit plugins --hooks`)",
        ) from err
