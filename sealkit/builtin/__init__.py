"""Built-in behaviour, registered as ordinary plugins of the same hooks (so runtimes can override it)."""

from __future__ import annotations

import importlib

from sealkit.apps import BUILTIN_INSTALLERS

#: (name, "module:Class") of every built-in plugin, in registration order
BUILTIN_PLUGINS: tuple[tuple[str, str], ...] = (
    ("preflight", "sealkit.builtin.preflight:PreflightPlugin"),
    ("pki", "sealkit.builtin.certs:CertFilesPlugin"),
    ("ha", "sealkit.ha.plugin:HAPlugin"),
    ("registry", "sealkit.registry.plugin:RegistryPlugin"),
    *BUILTIN_INSTALLERS,
)


def builtin_plugins() -> list[tuple[str, object]]:
    """Instantiate every built-in plugin."""
    out: list[tuple[str, object]] = []
    for name, target in BUILTIN_PLUGINS:
        module_name, _, attr = target.partition(":")
        cls = getattr(importlib.import_module(module_name), attr)
        out.append((name, cls()))
    return out
