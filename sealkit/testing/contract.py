"""The contract every runtime plugin passes. Subclass in your plugin's tests::

    from sealkit.testing.contract import RuntimeContract

    class TestContract(RuntimeContract):
        runtime_name = "rke2"

It checks discovery (entry point, stevedore), the hook contract (pluggy ``check_pending``), that every hook a
runtime must answer is answered, and that the runtime's certificate layout signs and verifies with sealkit's
PKI — all without machines, over recording connections.
"""

from __future__ import annotations

from importlib import metadata
from pathlib import Path
from typing import ClassVar

import pytest

from sealkit import plugins
from sealkit.context import ClusterContext, RuntimeInfo
from sealkit.testing.fixtures import make_context

#: firstresult hooks a runtime must answer itself (HA and certs installation have built-in answers)
REQUIRED_HOOKS: tuple[str, ...] = (
    "sealkit_runtime_info",
    "sealkit_init_cluster",
    "sealkit_join_master",
    "sealkit_join_node",
    "sealkit_drain_host",
    "sealkit_reset_host",
    "sealkit_upgrade_host",
    "sealkit_get_kubeconfig",
    "sealkit_runtime_version",
    "sealkit_cert_specs",
    "sealkit_registry_mirror_config",
)


class RuntimeContract:
    """Base test class; set ``runtime_name`` to the entry-point name in ``sealkit.runtimes``."""

    runtime_name: ClassVar[str] = ""

    @pytest.fixture
    def runtime(self) -> object:
        assert self.runtime_name, "set runtime_name on the contract subclass"
        return plugins.load_runtime(self.runtime_name)

    def _two_masters_one_node(self, runtime: object, tmp_path: Path) -> ClusterContext:
        return make_context(
            runtime,
            masters=["10.0.0.1", "10.0.0.2"],
            nodes=["10.0.0.3"],
            state_dir=tmp_path,
            runtime_name=self.runtime_name,
        )

    def test_entry_point_is_declared(self) -> None:
        eps = [
            ep for ep in metadata.entry_points(group=plugins.RUNTIME_GROUP) if ep.name == self.runtime_name
        ]
        assert len(eps) == 1, f"expected one entry point {self.runtime_name!r}, found {len(eps)}"
        assert eps[0].dist is not None, "entry point must belong to an installed distribution"

    def test_registers_cleanly(self, runtime: object) -> None:
        pm = plugins.build_manager(None, extra=[("runtime", runtime)], load_entry_points=False)
        pm.check_pending()
        assert pm.is_registered(runtime)

    def test_runtime_info_names_itself(self, runtime: object) -> None:
        pm = plugins.build_manager(None, extra=[("runtime", runtime)], load_entry_points=False)
        info = pm.hook.sealkit_runtime_info()
        assert isinstance(info, RuntimeInfo)
        assert info.name == self.runtime_name
        assert info.default_ha in ("haproxy", "ipvs", "native")

    def test_answers_every_required_hook(self, runtime: object) -> None:
        pm = plugins.build_manager(None, extra=[("runtime", runtime)], load_entry_points=False)
        missing = [
            name
            for name in REQUIRED_HOOKS
            if not any(impl.plugin is runtime for impl in getattr(pm.hook, name).get_hookimpls())
        ]
        assert not missing, f"runtime {self.runtime_name} does not implement: {missing}"

    def test_certificates_sign_and_verify(self, runtime: object, tmp_path: Path) -> None:
        from sealkit.pki.check import verify_chain

        ctx = self._two_masters_one_node(runtime, tmp_path)
        for host in ctx.hosts.values():
            layout = ctx.pm.hook.sealkit_cert_specs(ctx=ctx, host=host)
            if layout is None:
                continue
            files = {f.path: f for f in ctx.pki.render(layout)}
            for spec in layout.certs:
                verify_chain(files[spec.cert_path].content, ctx.pki.get_ca(spec.ca).cert_pem)
            for path, f in files.items():
                if path.endswith(".key") or f.secret:
                    assert f.mode & 0o077 == 0, f"{path} must not be group/other readable"

    def test_leaves_it_mints_can_be_renewed(self, runtime: object, tmp_path: Path) -> None:
        """A runtime that mints leaves itself (``Layout.minted``) must renew them on ``cert renew``;
        otherwise they would outlive every renewal sealkit reports."""
        ctx = self._two_masters_one_node(runtime, tmp_path)
        layouts = [ctx.pm.hook.sealkit_cert_specs(ctx=ctx, host=h) for h in ctx.hosts.values()]
        if not any(layout is not None and layout.minted for layout in layouts):
            return
        impls = ctx.pm.hook.sealkit_renew_minted_certs.get_hookimpls()
        assert any(impl.plugin is runtime for impl in impls), (
            f"runtime {self.runtime_name} lists minted leaves but does not implement "
            "sealkit_renew_minted_certs"
        )
        for layout in layouts:
            for path in layout.minted if layout is not None else ():
                assert path.startswith("/") and path.endswith((".crt", ".pem")), path

    def test_reset_is_idempotent_on_a_clean_host(self, runtime: object, tmp_path: Path) -> None:
        ctx = make_context(runtime, masters=["10.0.0.1"], state_dir=tmp_path, runtime_name=self.runtime_name)
        host = ctx.hosts["10.0.0.1"]
        ctx.pm.hook.sealkit_reset_host(ctx=ctx, host=host)
        first = list(host.conn.commands)  # type: ignore[attr-defined]
        ctx.pm.hook.sealkit_reset_host(ctx=ctx, host=host)
        assert host.conn.commands[len(first) :] == first, "reset must do the same thing twice"  # type: ignore[attr-defined]
