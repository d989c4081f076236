"""The plugin contract is documented: every hook says when it fires, its scope and what it returns."""

from __future__ import annotations

import inspect

import pytest

from sealkit import hookspecs
from sealkit.apps import hookspecs as app_hookspecs

HOOKS = [
    (name, fn)
    for module in (hookspecs, app_hookspecs)
    for name, fn in inspect.getmembers(module, inspect.isfunction)
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


@pytest.mark.parametrize(
    "group",
    [hookspecs.RUNTIME_REQUIRED_HOOKS, hookspecs.APP_INSTALLER_HOOKS, hookspecs.HA_STRATEGY_HOOKS],
    ids=["runtime", "app-installer", "ha"],
)
def test_hook_groups_name_real_specs(group):
    names = {n for n, _ in HOOKS}
    assert set(group) <= names, f"not specs: {set(group) - names}"


def test_required_answers_say_what_nothing_to_do_returns():
    """The two hooks whose "nothing to do" is easy to get wrong say it is empty, never None."""
    for name in ("sealkit_cert_specs", "sealkit_registry_mirror_config"):
        doc = inspect.getdoc(getattr(hookspecs, name)) or ""
        assert "never None" in doc, name


def test_docs_match_who_answers_the_endpoint():
    """The spec says builtin:ha answers the endpoint for every strategy; so does the plugin manager."""
    from sealkit import plugins

    doc = inspect.getdoc(hookspecs.sealkit_apiserver_endpoint) or ""
    assert "builtin:ha" in doc and "native" in doc
    pm = plugins.build_manager(None, load_entry_points=False)
    impls = pm.hook.sealkit_apiserver_endpoint.get_hookimpls()
    assert [i.plugin_name for i in impls] == ["builtin:ha"] and impls[0].trylast


def test_runtime_info_doc_names_only_fields_that_exist():
    import dataclasses
    import re

    from sealkit.context import RuntimeInfo

    doc = inspect.getdoc(hookspecs.sealkit_runtime_info) or ""
    fields = {f.name for f in dataclasses.fields(RuntimeInfo)}
    for word in re.findall(r"``(\w+)``", doc):
        if (word.islower() and "_" in word) or word == "name":
            assert word in fields, f"sealkit_runtime_info mentions {word!r}, RuntimeInfo has no such field"
    assert "version it installs" not in doc
