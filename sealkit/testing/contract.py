"""The contract every runtime plugin passes. Subclass it in your plugin's tests::

    from sealkit.testing.contract import RuntimeContract

    class TestContract(RuntimeContract):
        runtime_name = "rke2"            # the entry-point name in sealkit.runtimes

        def script_host(self, conn):     # what a healthy host answers (regex → rc, stdout)
            conn.answer(r"rke2 --version", 0, "rke2 version v1.30.4+rke2r1\\n")

Three layers, all without machines (hosts are :class:`~sealkit.testing.recording.RecordingConnection`):

* registration: the entry point exists and names a class or instance, every hook name matches a spec (a typo
  gets "did you mean"), every hook a runtime must answer is implemented;
* each hook on its own: it answers with the right type (a Layout, a list of files, True, a version, a YAML
  kubeconfig), does not raise on a healthy host, and init/join are idempotent;
* the plan: the real engine's plans run → re-run → add → delete → upgrade → reset
  (:mod:`sealkit.testing.lifecycle`); a re-run must plan nothing.

Every failure names the plugin, the hook, what it did and the fix (docs/plugins.md has the same table).
"""

from __future__ import annotations

import ipaddress
from importlib import metadata
from pathlib import Path
from typing import Any, ClassVar, NoReturn
from urllib.parse import urlsplit

import pytest
import yaml

from sealkit import hookspecs, plugins
from sealkit.context import ClusterContext, HostRef, RuntimeInfo
from sealkit.engine import versions
from sealkit.errors import PluginError, SealkitError
from sealkit.pki.model import FileSpec, Layout
from sealkit.testing import diagnose
from sealkit.testing.fixtures import make_context
from sealkit.testing.lifecycle import PlanHarness
from sealkit.testing.recording import RecordingConnection

#: firstresult hooks a runtime must answer itself (HA and certs installation have built-in answers)
REQUIRED_HOOKS: tuple[str, ...] = hookspecs.RUNTIME_REQUIRED_HOOKS

#: what each checked hook must return, as the fix in a failure message says it
EXPECTED: dict[str, str] = {
    "sealkit_runtime_info": "return RuntimeInfo(name=<your entry-point name>, ...)",
    "sealkit_cert_specs": "return a Layout for every host; Layout() when the runtime needs no certificate "
    "there",
    "sealkit_registry_mirror_config": "return a list of FileSpec; [] when the runtime needs no mirror file",
    "sealkit_init_cluster": "return True once the control plane answers; raise StepFailed(msg, host=, step=, "
    "hint=) only when the host really failed",
    "sealkit_join_master": "return True once the master joined; calling it again on a joined master must "
    "also return True",
    "sealkit_join_node": "return True once the node joined; calling it again on a joined node must also "
    "return True",
    "sealkit_drain_host": "return True once the host left the cluster (also when it was already gone)",
    "sealkit_upgrade_host": "return True once the host runs to_version",
    "sealkit_runtime_version": "return the installed version (like 'v1.30.4') or None when nothing is "
    "installed; never raise for a host without the runtime",
    "sealkit_get_kubeconfig": "return the admin kubeconfig as YAML text whose clusters[].cluster.server is "
    "an https URL the controller reaches (not 127.0.0.1)",
    "sealkit_reset_host": "return None; remove only what the plugin created, without failing when it is "
    "already gone",
}

#: a kubeconfig as runtimes print it on a master (placeholders, no real key material)
SAMPLE_KUBECONFIG = """\
apiVersion: v1
kind: Config
clusters:
- cluster:
    certificate-authority-data: Q0E=
    server: https://127.0.0.1:6443
  name: default
contexts:
- context: {cluster: default, user: default}
  name: default
current-context: default
users:
- name: default
  user: {client-certificate-data: Q0VSVA==, client-key-data: S0VZ}
"""

MASTERS = ["10.0.0.1", "10.0.0.2"]
NODES = ["10.0.0.3"]


def broken(text: str) -> NoReturn:
    """Fail the test with ``text`` only: the author needs the hook and the fix, not our traceback."""
    __tracebackhide__ = True
    pytest.fail(text, pytrace=False)


class RuntimeContract:
    """Base test class; set ``runtime_name`` to the entry-point name in ``sealkit.runtimes``."""

    runtime_name: ClassVar[str] = ""
    #: (installed, upgraded-to) releases for the lifecycle; default: from RuntimeInfo's support range
    releases: ClassVar[tuple[str, str] | None] = None

    # ------------------------------------------------------------------------------ for subclasses
    def script_host(self, conn: RecordingConnection) -> None:
        """Script what a healthy host answers (``conn.answer(regex, rc, stdout)``); default: every
        command succeeds with empty output. Called for every host, including hosts added later."""

    # ---------------------------------------------------------------------------------- machinery
    def _script(self, conn: RecordingConnection) -> None:
        """The built-in plugins' probes as a healthy host answers them, then the runtime's script."""
        conn.answer(r'echo "binary=\$b"', 0, "binary=/usr/sbin/haproxy\n")  # builtin:ha finds haproxy
        self.script_host(conn)

    def fail(self, hook: str, problem: str, fix: str | None = None, *, plugin: object = None) -> NoReturn:
        """Fail naming the plugin, the hook, what it did and the fix (EXPECTED's text by default)."""
        who = (
            diagnose.plugin_label(self.runtime_name, plugin)
            if plugin is not None
            else repr(self.runtime_name)
        )
        text = f"{who}: {hook}: {problem}\n  fix: {fix or EXPECTED.get(hook, 'see docs/hooks.md')}"
        broken(text)

    @pytest.fixture
    def runtime(self) -> object:
        if not self.runtime_name:
            broken(f"{type(self).__name__}: set runtime_name to your entry-point name in sealkit.runtimes")
        try:
            plugin = plugins.load_runtime(self.runtime_name)
        except PluginError as err:
            broken(f"runtime {self.runtime_name!r} cannot be loaded: {err}")
        shape = diagnose.entry_point_shape(plugin, self._entry_point_value())
        if shape:
            broken(f"runtime {self.runtime_name!r}: {shape}")
        return plugin

    def _entry_point_value(self) -> str:
        eps = [
            ep for ep in metadata.entry_points(group=plugins.RUNTIME_GROUP) if ep.name == self.runtime_name
        ]
        return eps[0].value if eps else self.runtime_name

    def _registered(self, runtime: object) -> Any:
        problems = diagnose.registration_problems(runtime, REQUIRED_HOOKS, self._entry_point_value())
        if problems:
            broken(
                f"{diagnose.plugin_label(self.runtime_name, runtime)} breaks the hook contract:\n  - "
                + "\n  - ".join(problems)
            )
        try:
            return plugins.build_manager(None, extra=[("runtime", runtime)], load_entry_points=False)
        except PluginError as err:
            broken(f"{diagnose.plugin_label(self.runtime_name, runtime)}: {err}")

    def context(self, runtime: object, tmp_path: Path, masters=MASTERS, nodes=NODES) -> ClusterContext:
        """A scripted ClusterContext over recording hosts (registration checked first)."""
        self._registered(runtime)
        ctx = make_context(
            runtime,
            masters=list(masters),
            nodes=list(nodes),
            state_dir=tmp_path,
            runtime_name=self.runtime_name,
        )
        for host in ctx.hosts.values():
            self._script(host.conn)  # type: ignore[arg-type]
        return ctx

    def call(self, ctx: ClusterContext, hook: str, runtime: object, **kwargs: Any) -> Any:
        """Call a hook as the engine does; an exception becomes a failure naming hook, host and fix."""
        host = kwargs.get("host")
        where = (
            f" on {host.ip} ({'master' if host.is_master else 'node'})" if isinstance(host, HostRef) else ""
        )
        try:
            return getattr(ctx.pm.hook, hook)(ctx=ctx, **kwargs)
        except Exception as err:  # noqa: BLE001 - reported with the hook's name, never swallowed
            kind = "StepFailed" if isinstance(err, SealkitError) else type(err).__name__
            self.fail(
                hook,
                f"raised {kind}{where} although every command succeeded: {err}",
                plugin=runtime,
            )

    def _release_pair(self, info: RuntimeInfo) -> tuple[str, str]:
        if self.releases:
            return self.releases
        first = versions.parse(info.oldest_version) if info.oldest_version else (1, 30, 0)
        nxt = (first[0], first[1] + 1, 0)
        if info.newest_version and nxt > versions.parse(info.newest_version):
            nxt = first
        return f"v{first[0]}.{first[1]}.{first[2]}", f"v{nxt[0]}.{nxt[1]}.{nxt[2]}"

    # ------------------------------------------------------------------------------- registration
    def test_entry_point_is_declared(self) -> None:
        eps = [
            ep for ep in metadata.entry_points(group=plugins.RUNTIME_GROUP) if ep.name == self.runtime_name
        ]
        if len(eps) != 1:
            broken(
                f"expected one entry point {self.runtime_name!r} in group {plugins.RUNTIME_GROUP}, found "
                f'{len(eps)}\n  fix: declare it in pyproject.toml: [project.entry-points."sealkit.runtimes"] '
                f'{self.runtime_name} = "your_package.plugin:Runtime", then pip install -e .'
            )
        if eps[0].dist is None:
            broken("the entry point must belong to an installed distribution (pip install -e .)")

    def test_registers_cleanly(self, runtime: object) -> None:
        pm = self._registered(runtime)
        pm.check_pending()
        assert pm.is_registered(runtime)

    def test_answers_every_required_hook(self, runtime: object) -> None:
        missing = diagnose.missing_hooks(runtime, REQUIRED_HOOKS) + diagnose.misspelled_hooks(runtime)
        if missing:
            broken(
                f"{diagnose.plugin_label(self.runtime_name, runtime)} does not answer every hook a runtime "
                "must:\n  - " + "\n  - ".join(missing)
            )

    def test_runtime_info_names_itself(self, runtime: object) -> None:
        pm = self._registered(runtime)
        info = pm.hook.sealkit_runtime_info()
        hook = "sealkit_runtime_info"
        if not isinstance(info, RuntimeInfo):
            self.fail(hook, f"returned {info!r}, not a RuntimeInfo", plugin=runtime)
        if info.name != self.runtime_name:
            self.fail(
                hook, f"names itself {info.name!r}, the entry point is {self.runtime_name!r}", plugin=runtime
            )
        if info.default_ha not in ("haproxy", "ipvs", "native"):
            self.fail(
                hook, f"default_ha={info.default_ha!r}", "use 'haproxy', 'ipvs' or 'native'", plugin=runtime
            )
        for bound in (info.oldest_version, info.newest_version):
            if bound:
                try:
                    versions.parse(bound)
                except SealkitError:
                    self.fail(
                        hook,
                        f"support bound {bound!r} is not a version",
                        "write it like 'v1.30.0'",
                        plugin=runtime,
                    )

    # ------------------------------------------------------------------------------ hook by hook
    def test_cert_specs_answer_a_layout_for_every_host(self, runtime: object, tmp_path: Path) -> None:
        ctx = self.context(runtime, tmp_path)
        for host in ctx.hosts.values():
            layout = self.call(ctx, "sealkit_cert_specs", runtime, host=host)
            if not isinstance(layout, Layout):
                self.fail(
                    "sealkit_cert_specs", f"returned {layout!r} for {host.ip}, not a Layout", plugin=runtime
                )

    def test_mirror_config_answers_files(self, runtime: object, tmp_path: Path) -> None:
        from sealkit.registry.service import registry_info

        ctx = self.context(runtime, tmp_path)
        registry = registry_info(ctx)
        for host in ctx.hosts.values():
            files = self.call(ctx, "sealkit_registry_mirror_config", runtime, host=host, registry=registry)
            hook = "sealkit_registry_mirror_config"
            if not isinstance(files, list) or not all(isinstance(f, FileSpec) for f in files):
                self.fail(hook, f"returned {files!r} for {host.ip}, not a list of FileSpec", plugin=runtime)
            for f in files:
                if not f.path.startswith("/"):
                    self.fail(hook, f"file path {f.path!r} is not absolute", plugin=runtime)
                if registry.password in f.content.decode(errors="replace") and f.mode & 0o077:
                    self.fail(
                        hook,
                        f"{f.path} holds the registry password with mode {f.mode:o}",
                        "give files with credentials mode 0o600 (MODE_SECRET)",
                        plugin=runtime,
                    )

    def test_init_and_joins_answer_true_and_are_idempotent(self, runtime: object, tmp_path: Path) -> None:
        ctx = self.context(runtime, tmp_path)
        for host in ctx.hosts.values():
            ctx.pki.render(ctx.pm.hook.sealkit_cert_specs(ctx=ctx, host=host) or Layout())
        steps = [("sealkit_init_cluster", ctx.first_master)]
        steps += [("sealkit_join_master", h) for h in ctx.masters[1:]]
        steps += [("sealkit_join_node", h) for h in ctx.nodes]
        for hook, host in steps:
            first = self.call(ctx, hook, runtime, host=host)
            if first is None:
                self.fail(
                    hook,
                    f'returned None on {host.ip}; the engine reads None as "nobody answered" and stops '
                    f"the run with:\n    {engine_reports_no_answer(ctx, hook)}",
                    plugin=runtime,
                )
            if first is not True:
                self.fail(hook, f"returned {first!r} on {host.ip}, not True", plugin=runtime)
            files = set(host.conn.files)  # type: ignore[attr-defined]
            again = self.call(ctx, hook, runtime, host=host)
            if again is not True:
                self.fail(hook, f"a second call on {host.ip} returned {again!r}", plugin=runtime)
            extra = sorted(set(host.conn.files) - files)  # type: ignore[attr-defined]
            if extra:
                self.fail(
                    hook,
                    f"a second call on {host.ip} wrote new files {extra}",
                    "derive file names from the host and cluster, not from a counter or the clock",
                    plugin=runtime,
                )

    def test_runtime_version_parses_or_says_none(self, runtime: object, tmp_path: Path) -> None:
        hook = "sealkit_runtime_version"
        ctx = self.context(runtime, tmp_path, masters=["10.0.0.1"], nodes=[])
        bare = ctx.hosts["10.0.0.1"]
        bare.conn.responses.insert(0, (r".", (127, "")))  # type: ignore[attr-defined]
        found = self.call(ctx, hook, runtime, host=bare)
        if found is not None:
            self.fail(
                hook,
                f"returned {found!r} for a host where every command fails (nothing installed)",
                plugin=runtime,
            )
        ctx = self.context(runtime, tmp_path / "installed", masters=["10.0.0.1"], nodes=[])
        found = self.call(ctx, hook, runtime, host=ctx.first_master)
        if found is None:
            return  # script_host did not describe an installed runtime
        try:
            if not isinstance(found, str):
                raise TypeError(found)
            versions.parse(found)
        except (SealkitError, TypeError):
            self.fail(hook, f"returned {found!r}, which is not a version like 'v1.30.4'", plugin=runtime)

    def test_kubeconfig_is_yaml(self, runtime: object, tmp_path: Path) -> None:
        hook = "sealkit_get_kubeconfig"
        ctx = self.context(runtime, tmp_path)
        ctx.pki.render(ctx.pm.hook.sealkit_cert_specs(ctx=ctx, host=ctx.first_master) or Layout())
        text = self.call(ctx, hook, runtime)
        if not isinstance(text, str):
            self.fail(hook, f"returned {text!r}, not YAML text", plugin=runtime)
        try:
            doc = yaml.safe_load(text)
        except yaml.YAMLError as err:
            self.fail(hook, f"returned text that is not YAML: {err}", plugin=runtime)
        clusters = doc.get("clusters") if isinstance(doc, dict) else None
        if not clusters or not isinstance(clusters, list):
            self.fail(hook, f"returned YAML without clusters: {str(text)[:200]!r}", plugin=runtime)
        for entry in clusters:
            server = str((entry.get("cluster") or {}).get("server", "")) if isinstance(entry, dict) else ""
            parts = urlsplit(server)
            if parts.scheme != "https" or not parts.hostname:
                self.fail(hook, f"cluster server {server!r} is not an https URL", plugin=runtime)
            if parts.hostname == "localhost" or _loopback(parts.hostname):
                self.fail(
                    hook,
                    f"cluster server {server!r} points at the host itself",
                    "rewrite it to the first master's address (ctx.first_master.ip)",
                    plugin=runtime,
                )

    def test_certificates_sign_and_verify(self, runtime: object, tmp_path: Path) -> None:
        from sealkit.pki.check import verify_chain

        ctx = self.context(runtime, tmp_path)
        for host in ctx.hosts.values():
            layout = ctx.pm.hook.sealkit_cert_specs(ctx=ctx, host=host)
            if layout is None:
                continue
            files = {f.path: f for f in ctx.pki.render(layout)}
            for spec in layout.certs:
                verify_chain(files[spec.cert_path].content, ctx.pki.get_ca(spec.ca).cert_pem)
            for path, f in files.items():
                if (path.endswith(".key") or f.secret) and f.mode & 0o077:
                    self.fail(
                        "sealkit_cert_specs",
                        f"{path} is group/other readable ({f.mode:o})",
                        "keys and kubeconfigs must be mode 0o600",
                        plugin=runtime,
                    )

    def test_leaves_it_mints_can_be_renewed(self, runtime: object, tmp_path: Path) -> None:
        """A runtime that mints leaves itself (``Layout.minted``) must renew them on ``cert renew``;
        otherwise they would outlive every renewal sealkit reports."""
        ctx = self.context(runtime, tmp_path)
        layouts = [ctx.pm.hook.sealkit_cert_specs(ctx=ctx, host=h) for h in ctx.hosts.values()]
        if not any(layout is not None and layout.minted for layout in layouts):
            return
        impls = ctx.pm.hook.sealkit_renew_minted_certs.get_hookimpls()
        if not any(impl.plugin is runtime for impl in impls):
            self.fail(
                "sealkit_renew_minted_certs",
                "not implemented, but the layout lists minted leaves",
                "implement it, or leave Layout.minted empty",
                plugin=runtime,
            )
        for layout in layouts:
            for path in layout.minted if layout is not None else ():
                if not (path.startswith("/") and path.endswith((".crt", ".pem"))):
                    self.fail(
                        "sealkit_cert_specs",
                        f"minted path {path!r} is not an absolute .crt/.pem",
                        plugin=runtime,
                    )

    def test_reset_is_idempotent_on_a_clean_host(self, runtime: object, tmp_path: Path) -> None:
        ctx = self.context(runtime, tmp_path, masters=["10.0.0.1"], nodes=[])
        host = ctx.hosts["10.0.0.1"]
        self.call(ctx, "sealkit_reset_host", runtime, host=host)
        first = list(host.conn.commands)  # type: ignore[attr-defined]
        self.call(ctx, "sealkit_reset_host", runtime, host=host)
        again = host.conn.commands[len(first) :]  # type: ignore[attr-defined]
        if again != first:
            self.fail(
                "sealkit_reset_host",
                f"a second reset ran other commands:\n{first}\nthen\n{again}",
                "decide from the host's state, not from memory kept in the plugin",
                plugin=runtime,
            )

    # -------------------------------------------------------------------------------------- plan
    def test_lifecycle_through_the_engine(self, runtime: object, tmp_path: Path) -> None:
        """run → re-run → add → delete → upgrade → reset, each planned and executed by the engine."""
        pm = self._registered(runtime)
        installed, upgraded = self._release_pair(pm.hook.sealkit_runtime_info())
        harness = PlanHarness(
            runtime, self.runtime_name, tmp_path, MASTERS, NODES, installed, script=self._script
        )
        label = diagnose.plugin_label(self.runtime_name, runtime)

        def stage(name: str, action: Any) -> Any:
            try:
                return action()
            except SealkitError as err:
                broken(f"{label}: `sealkit {name}` stopped as the engine would report it:\n{err}")

        stage("run", lambda: harness.converge(MASTERS, NODES))
        applied = harness.applied()
        not_joined = [ip for ip in [*MASTERS, *NODES] if not applied.joined(ip)]
        if not_joined:
            broken(f"{label}: after `sealkit run` these hosts are not joined: {not_joined}")
        again = stage("run (again)", lambda: harness.converge(MASTERS, NODES))
        if again.phases:
            broken(f"{label}: a re-run plans changes: {again.as_dict()}")
        grown_m, grown_n = [*MASTERS, "10.0.0.5"], [*NODES, "10.0.0.4"]
        added = stage("add", lambda: harness.converge(grown_m, grown_n))
        stray = added.touched_hosts() - {"10.0.0.4", "10.0.0.5", *NODES}
        if stray:
            broken(f"{label}: `sealkit add` planned steps on existing hosts {sorted(stray)}")
        stage("delete", lambda: harness.converge(MASTERS, NODES))
        applied = harness.applied()
        if {"10.0.0.4", "10.0.0.5"} & set(applied.hosts):
            broken(f"{label}: deleted hosts are still recorded as applied")
        up = stage("upgrade", lambda: harness.converge(MASTERS, NODES, upgraded))
        if installed != upgraded:
            upgraded_hosts = {s.host for p in up.phases if p.name.startswith("upgrade") for s in p.steps}
            if upgraded_hosts != {*MASTERS, *NODES}:
                broken(f"{label}: the upgrade plan covers {sorted(upgraded_hosts)}")
            stale = [ip for ip, h in harness.applied().hosts.items() if h.version != upgraded]
            if stale:
                broken(f"{label}: hosts {stale} are not recorded at {upgraded}")
        stage("reset", harness.reset)


def engine_reports_no_answer(ctx: ClusterContext, hook: str) -> str:
    """What the engine says when nobody answers ``hook`` (its own code path, so the words stay in sync)."""
    from types import SimpleNamespace

    from sealkit.engine import ops

    silent = SimpleNamespace(
        pm=SimpleNamespace(hook=SimpleNamespace(**{hook: lambda **_: None})), runtime=ctx.runtime
    )
    try:
        ops._first_result(silent, hook)  # type: ignore[arg-type]
    except SealkitError as err:
        return str(err).replace("\n", "\n    ")
    return f"(the engine accepted no answer to {hook})"


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
