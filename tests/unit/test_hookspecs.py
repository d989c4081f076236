"""The plugin contract is documented: every hook says when it fires, its scope and what it returns."""

from __future__ import annotations

import inspect

import pytest

from sealkit import hookspecs

HOOKS = [
    (name, fn)
    for name, fn in inspect.getmembers(hookspecs, inspect.isfunction)
    if name.startswith("sealkit_")
]


def test_there_are_hooks_for_every_family():
    names = {n for n, _ in HOOKS}
    for family_member in (
        "sealkit_init_cluster",
        "sealkit_join_node",
        "sealkit_configure_lb",
        "sealkit_apiserver_endpoint",
        "sealkit_registry_mirror_config",
        "sealkit_sync_images",
        "sealkit_cert_specs",
        "sealkit_install_certs",
        "sealkit_install_app",
        "sealkit_pre_phase",
        "sealkit_post_phase",
    ):
        assert family_member in names


@pytest.mark.parametrize(("name", "fn"), HOOKS, ids=[n for n, _ in HOOKS])
def test_hook_is_documented(name, fn):
    doc = inspect.getdoc(fn) or ""
    for section in ("When:", "Scope:", "Returns:"):
        assert section in doc, f"{name}: docstring lacks {section!r}"
    assert len(doc.splitlines()[0]) > 20, f"{name}: first line must say what the hook is for"


@pytest.mark.parametrize(("name", "fn"), HOOKS, ids=[n for n, _ in HOOKS])
def test_hook_is_typed(name, fn):
    sig = inspect.signature(fn)
    for p in sig.parameters.values():
        assert p.annotation is not inspect.Parameter.empty, f"{name}({p.name}) has no type"
    assert sig.return_annotation is not inspect.Signature.empty, f"{name} has no return type"


@pytest.mark.parametrize(("name", "fn"), HOOKS, ids=[n for n, _ in HOOKS])
def test_firstresult_hooks_say_so(name, fn):
    opts = getattr(fn, hookspecs.PROJECT + "_spec")
    doc = inspect.getdoc(fn) or ""
    assert opts.get("firstresult", False) == ("firstresult" in doc), (
        f"{name}: firstresult={opts.get('firstresult')} but the docstring "
        f"{'does not say' if opts.get('firstresult') else 'says'} so"
    )
