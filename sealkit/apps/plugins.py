"""Registering the app hooks and the built-in installers in a PluginManager.

``sealkit.plugins.new_manager`` adds the app specs to every manager and the built-in installers are among
sealkit's built-in plugins; :func:`manager` builds a standalone one for tests.
"""

from __future__ import annotations

import importlib

import pluggy

from sealkit import hookspecs as core_specs
from sealkit.apps import BUILTIN_INSTALLERS
from sealkit.apps import hookspecs as app_specs


def add_hookspecs(pm: pluggy.PluginManager) -> None:
    """Add the app hook specs to ``pm`` (``sealkit.plugins.new_manager`` does it for every manager)."""
    pm.add_hookspecs(app_specs)


def installer_plugins() -> list[tuple[str, object]]:
    out: list[tuple[str, object]] = []
    for name, target in BUILTIN_INSTALLERS:
        module_name, _, attr = target.partition(":")
        out.append((name, getattr(importlib.import_module(module_name), attr)()))
    return out


def manager(*plugins: tuple[str, object], builtins: bool = True) -> pluggy.PluginManager:
    """Core + app specs, the built-in installers (unless ``builtins=False``) and ``plugins``."""
    pm = pluggy.PluginManager(core_specs.PROJECT)
    pm.add_hookspecs(core_specs)
    add_hookspecs(pm)
    for name, plugin in [*(installer_plugins() if builtins else []), *plugins]:
        pm.register(plugin, name=name)
    pm.check_pending()
    return pm
