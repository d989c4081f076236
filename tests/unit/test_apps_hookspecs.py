"""The app hooks follow the contract's conventions and every manager has them; the record is safe."""

from __future__ import annotations

import inspect
import json
import stat

import pluggy
import pytest

from sealkit import plugins
from sealkit.apps import hookspecs as app_specs
from sealkit.apps.plugins import manager
from sealkit.apps.record import AppRecord, AppsRecord
from sealkit.errors import SealkitError


def specs():
    return [(n, f) for n, f in inspect.getmembers(app_specs, inspect.isfunction) if n.startswith("sealkit_")]


def test_every_app_hook_is_documented():
    assert {n for n, _ in specs()} >= {"sealkit_install_app", "sealkit_remove_app", "sealkit_app_installers"}
    for name, fn in specs():
        doc = inspect.getdoc(fn) or ""
        for line in ("When:", "Scope:", "Returns:"):
            assert line in doc, f"{name} lacks {line}"


@pytest.mark.parametrize("name", [n for n, _ in specs()])
def test_every_app_hook_is_typed_and_says_if_firstresult(name):
    fn = getattr(app_specs, name)
    sig = inspect.signature(fn)
    assert all(p.annotation is not inspect.Parameter.empty for p in sig.parameters.values())
    assert sig.return_annotation is not inspect.Signature.empty
    firstresult = fn.sealkit_spec.get("firstresult", False)
    assert firstresult == ("firstresult" in (inspect.getdoc(fn) or ""))


def test_every_manager_has_the_app_hooks_and_the_builtin_installers():
    built = plugins.build_manager(None, load_entry_points=False)
    assert sorted(n for names in built.hook.sealkit_app_installers() for n in names) == [
        "cmd",
        "helm",
        "manifests",
    ]
    pm = manager()
    assert sorted(n for names in pm.hook.sealkit_app_installers() for n in names) == [
        "cmd",
        "helm",
        "manifests",
    ]
    assert pm.hook.sealkit_install_app.spec.opts["firstresult"]


def test_a_misspelled_app_hook_fails_loudly():
    class Typo:
        @pluggy.HookimplMarker("sealkit")
        def sealkit_instal_app(self, ctx, app):
            return None

    with pytest.raises(pluggy.PluginValidationError):
        manager(("typo", Typo()))


def test_record_is_atomic_private_and_readable(tmp_path):
    store = AppsRecord(tmp_path)
    rec = AppRecord("redis", "r:1", "r", "sha256:1", "1", "helm", "redis", env_keys=["PW"])
    store.put(rec)
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    assert store.get("redis").env_keys == ["PW"] and store.get("redis").updated
    assert [p.name for p in tmp_path.iterdir()] == ["apps.json"], "no temp file left behind"
    store.delete("redis")
    assert store.load() == {}
    store.path.write_text(json.dumps({"apps": {"x": {"nope": 1}}}))
    with pytest.raises(SealkitError, match="is corrupt"):
        store.load()
