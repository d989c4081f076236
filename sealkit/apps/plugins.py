"""Registering the app hooks and the built-in installers in a PluginManager.

Until ``sealkit.plugins.new_manager`` calls :func:`add_hookspecs` itself, :func:`manager` builds a
manager with sealkit's hook specs (minus the two placeholder app hooks of ``sealkit.hookspecs``, which
these specs replace) plus the app specs, for tests and for the lead's wiring.
"""

from __future__ import annotations

import importlib
import types

import pluggy

from sealkit import hookspecs as core_specs
from sealkit.apps import BUILTIN_INSTALLERS
from sealkit.apps import hookspecs as app_specs

#: app hooks that replace the placeholders of the same name in sealkit.hookspecs
REPLACED = ("sealkit_install_app", "sealkit_remove_app")


def add_hookspecs(pm: pluggy.PluginManager) -> None:
    """Add the app hook specs to ``pm`` (whose core specs no longer define the replaced hooks)."""
    pm.add_hookspecs(app_specs)


def core_without_placeholders() -> types.SimpleNamespace:
    """sealkit.hookspecs without the app placeholders (a no-op filter once they are removed there)."""
    names = [n for n in dir(core_specs) if n.startswith("sealkit_") and n not in REPLACED]
    return types.SimpleNamespace(**{n: getattr(core_specs, n) for n in names})


def installer_plugins() -> list[tuple[str, object]]:
    out: list[tuple[str, object]] = []
    for name, target in BUILTIN_INSTALLERS:
        module_name, _, attr = target.partition(":")
        out.append((name, getattr(importlib.import_module(module_name), attr)()))
    return out


def manager(*plugins: tuple[str, object], builtins: bool = True) -> pluggy.PluginManager:
    """Core + app specs, the built-in installers (unless ``builtins=False``) and ``plugins``."""
    pm = pluggy.PluginManager(core_specs.PROJECT)
    pm.add_hookspecs(core_without_placeholders())
    add_hookspecs(pm)
    for name, plugin in [*(installer_plugins() if builtins else []), *plugins]:
        pm.register(plugin, name=name)
    pm.check_pending()
    return pm
