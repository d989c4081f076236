"""k3s fidelity: what the fake does with the air-gap archives under <data-dir>/agent/images, and every
flag, config.yaml key and registries.yaml field the k3s plugin renders is one its release line knows
(tests/fakes/upstream/k3s/<line>.yaml, extracted from k3s-io/k3s release-branch commits by
tests/fakes/upstream/k3s/extract.py; provenance and gaps in the README there)."""

from __future__ import annotations

import shlex
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from sealkit_k3s import plugin as k3s_plugin

from sealkit.context import RegistryInfo
from sealkit.engine import versions
from sealkit.registry.mirrors import K3S_REGISTRIES_PATH
from sealkit.testing.fixtures import make_context
from tests.fakes import fake_k3s, fakelib


def test_fake_agent_imports_the_archives_k3s_imports(tmp_path: Path, monkeypatch, capsys) -> None:
    """k3s pkg/agent/containerd (preload at start, watcher.go isFileSupported): tarball extensions only."""
    monkeypatch.setenv("SEALKIT_FAKE_ROOT", str(tmp_path))
    p = fake_k3s.Paths("/var/lib/rancher/k3s")
    assert fake_k3s.preload_images(p) == []
    images = tmp_path / "var/lib/rancher/k3s/agent/images"
    images.mkdir(parents=True)
    for name in ("k3s-airgap-images-amd64.tar.zst", "notes.md", "extra.tar"):
        (images / name).write_bytes(b"x")
    got = fake_k3s.preload_images(p)
    assert got == [str(images / "extra.tar"), str(images / "k3s-airgap-images-amd64.tar.zst")]
    assert f"Imported images from {got[1]}" in capsys.readouterr().err


def test_fake_leaves_one_pod_shim_that_survives_like_a_real_one(tmp_path: Path, monkeypatch) -> None:
    """Real shims outlive `systemctl stop k3s` (KillMode=process); the fake leaves one stand-in per data
    dir, in its own session, with its program under <data-dir>/data/*/bin as k3s-killall.sh matches."""
    import os
    import signal
    import time

    monkeypatch.setenv("SEALKIT_FAKE_ROOT", str(tmp_path))
    assert fake_k3s.start_pod_shim(fake_k3s.Paths("/var/lib/rancher/k3s")) is None  # loopback: no process
    monkeypatch.delenv("SEALKIT_FAKE_ROOT")
    p = fake_k3s.Paths(str(tmp_path / "data"))
    pid = fake_k3s.start_pod_shim(p)
    try:
        assert pid is not None and os.getsid(pid) == pid
        program = fake_k3s.shim_program(p)
        assert program.startswith(str(tmp_path / "data" / "data")) and program.endswith(
            "/bin/containerd-shim-runc-v2"
        )
        deadline = time.monotonic() + 10
        while not fake_k3s.shim_running(program) and time.monotonic() < deadline:
            time.sleep(0.05)  # the new process shows its argv once it has exec'd
        assert fake_k3s.shim_running(program)
        assert fake_k3s.start_pod_shim(p) is None, "a restarted k3s keeps its shims"
    finally:
        if pid:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)


# ------------------------------------------------------------------ rendered flags, keys and fields
DATA = Path(__file__).parent / "upstream" / "k3s"
LINES = sorted((p.stem for p in DATA.glob("v*.yaml")), key=versions.parse)
INFO = k3s_plugin.Runtime().sealkit_runtime_info()
_SHELL_WORDS = {"then", "do", "fi", "done", "else", "elif"}
_OPERATOR_CHARS = set("();<>|&")


def _is_operator(token: str) -> bool:
    return set(token) <= _OPERATOR_CHARS


def line_data(line: str) -> dict[str, Any]:
    return yaml.safe_load((DATA / f"{line}.yaml").read_text())


def flag_names(data: dict[str, Any], command: str) -> set[str]:
    """Long names and aliases of ``command``'s flags: config.yaml accepts either as a key."""
    flags = data["commands"][command]
    return set(flags) | {a for f in flags.values() for a in (f or {}).get("aliases", [])}


def unknown_config_keys(cfg: dict[str, Any], data: dict[str, Any], command: str) -> list[str]:
    """Keys of a config.yaml for ``server``/``agent`` that are no flag of it (``key+`` appends)."""
    names = flag_names(data, command)
    return sorted(k for k in cfg if str(k).removesuffix("+") not in names)


def k3s_invocations(command: str, binary: str = k3s_plugin.BIN) -> list[list[str]]:
    """The words after each ``k3s`` run by a shell command (in command position, not an argument such as
    ``rm -f /usr/local/bin/k3s``), up to the next operator or shell keyword."""
    lexer = shlex.shlex(command, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    tokens = list(lexer)
    out = []
    for i, tok in enumerate(tokens):
        before = tokens[i - 1] if i else ";"
        if tok != binary or not (_is_operator(before) or before in _SHELL_WORDS | {"if", "while", "!"}):
            continue
        words: list[str] = []
        for word in tokens[i + 1 :]:
            if word in _SHELL_WORDS or _is_operator(word):
                if words and words[-1].isdigit() and word[0] in "<>":
                    words.pop()  # 2>&1: the descriptor belongs to the redirection
                break
            words.append(word)
        out.append(words)
    return out


def unknown_in_invocation(words: list[str], data: dict[str, Any]) -> list[str]:
    """What a ``k3s WORDS`` line uses that the release line does not define."""
    if words == ["--version"]:
        return [] if data["version_flag"] else ["--version"]
    if not words:
        return ["(no subcommand)"]
    if words[0] == "kubectl":  # k3s hands the rest to kubectl unparsed
        return [] if data["kubectl_skips_flag_parsing"] else ["kubectl"]
    command, args = (" ".join(words[:2]), words[2:]) if words[0] == "certificate" else (words[0], words[1:])
    if command not in data["commands"]:
        return [f"subcommand {command!r}"]
    names = flag_names(data, command)
    return [a for a in args if a.startswith("-") and a.lstrip("-").split("=")[0] not in names]


def unknown_registry_keys(doc: Any, kind: str, types: dict[str, Any], where: str = "") -> list[str]:
    """Paths of registries.yaml keys no wharfie field has (yaml.v2 would drop them silently)."""
    if kind.startswith("map:"):
        items = doc.items() if isinstance(doc, dict) else []
        return [p for k, v in items for p in unknown_registry_keys(v, kind[4:], types, f"{where}.{k}")]
    if kind.startswith("list:"):
        items = doc if isinstance(doc, list) else []
        return [
            p for i, v in enumerate(items) for p in unknown_registry_keys(v, kind[5:], types, f"{where}[{i}]")
        ]
    fields = types.get(kind)
    if fields is None or not isinstance(doc, dict):
        return []
    out = []
    for key, value in doc.items():
        path = f"{where}.{key}" if where else str(key)
        out += unknown_registry_keys(value, fields[key], types, path) if key in fields else [path]
    return out


def _record_configs(conn: Any) -> list[dict[str, Any]]:
    """Every config.yaml written through ``conn``, in order; ``cat`` of it answers the latest."""
    seen: list[dict[str, Any]] = []
    put = conn.put

    def recording_put(data: bytes, remote_path: str, **kw: Any) -> bool:
        if remote_path == k3s_plugin.CONFIG:
            seen.append(yaml.safe_load(data))
        return put(data, remote_path, **kw)

    def cat(_cmd: str) -> tuple[int, str]:
        got = conn.files.get(k3s_plugin.CONFIG)
        return (0, got[0].decode()) if got else (1, "")

    conn.put = recording_put
    conn.responses.append((rf"^cat {k3s_plugin.CONFIG}$", cat))
    return seen


def rendered(tmp_path: Path, line: str) -> dict[str, Any]:
    """Drive every hook of the k3s plugin that touches a host over recording connections: install of the
    first and a joining server and an agent, cert config update, cert renewal and restart, upgrade, drain,
    version, kubeconfig, reset. Returns the config.yaml files per command, the k3s invocations and
    registries.yaml."""
    ctx = make_context(
        k3s_plugin.Runtime(),
        masters=["10.0.0.1", "10.0.0.2"],
        nodes=["10.0.0.3"],
        state_dir=tmp_path,
        runtime_name="k3s",
    )
    rt = k3s_plugin.Runtime()
    ctx.pki.render(rt.sealkit_cert_specs(ctx, ctx.first_master))
    first, second, agent = (ctx.hosts[ip] for ip in ("10.0.0.1", "10.0.0.2", "10.0.0.3"))
    configs = {h.ip: _record_configs(h.conn) for h in (first, second, agent)}
    for host in (first, second, agent):
        rt.sealkit_prepare_host(ctx, host)
    rt.sealkit_init_cluster(ctx, first)
    rt.sealkit_join_master(ctx, second)
    rt.sealkit_join_node(ctx, agent)
    to = f"{line}.0+k3s1"
    for host in (first, second, agent):
        rt.sealkit_update_cert_config(ctx, host)
        rt.sealkit_renew_minted_certs(ctx, host)
        rt.sealkit_restart_after_certs(ctx, host)
        host.conn.answer(r"k3s-airgap-images-", 0, "copied k3s-airgap-images-amd64.tar.zst\n")
        rt.sealkit_upgrade_host(ctx, host, from_version=f"{line}.0", to_version=to)
        rt.sealkit_runtime_version(ctx, host)
    rt.sealkit_get_kubeconfig(ctx)
    rt.sealkit_drain_host(ctx, agent)
    registry = RegistryInfo("sealkit.hub", 5000, ("10.0.0.9",), "u", "p", b"PEM")
    files = rt.sealkit_registry_mirror_config(ctx, agent, registry)
    for host in (first, second, agent):
        rt.sealkit_reset_host(ctx, host)
    units = [h.conn for h in (first, second, agent)]
    calls = [w for c in units for cmd in c.commands for w in k3s_invocations(cmd)]
    calls += [
        w
        for mode in ("server", "agent")
        for line_ in k3s_plugin.unit_text(mode).splitlines()
        if line_.startswith("ExecStart=")
        for w in k3s_invocations(line_.removeprefix("ExecStart="))
    ]
    return {
        "server": configs[first.ip] + configs[second.ip],
        "agent": configs[agent.ip],
        "calls": calls,
        "registries": [yaml.safe_load(f.content) for f in files if f.path == K3S_REGISTRIES_PATH],
    }


def violations(tmp_path: Path, line: str) -> list[str]:
    data, got = line_data(line), rendered(tmp_path, line)
    out = [
        f"{cmd} config.yaml: {k}"
        for cmd in ("server", "agent")
        for c in got[cmd]
        for k in unknown_config_keys(c, data, cmd)
    ]
    out += [f"k3s {' '.join(w)}: {u}" for w in got["calls"] for u in unknown_in_invocation(w, data)]
    reg = data["registries"]
    out += [
        f"registries.yaml: {p}"
        for r in got["registries"]
        for p in unknown_registry_keys(r, reg["root"], reg["types"])
    ]
    return out


def test_every_supported_line_has_upstream_data_pinned_to_it() -> None:
    oldest, newest = versions.parse(INFO.oldest_version), versions.parse(INFO.newest_version)
    wanted = [f"v{oldest[0]}.{m}" for m in range(oldest[1], newest[1] + 1)]
    assert [x for x in LINES if x in wanted] == wanted, f"missing data for {set(wanted) - set(LINES)}"
    for line in LINES:
        data = line_data(line)
        assert (data["tool"], data["repo"], data["line"]) == ("k3s", "k3s-io/k3s", line)
        assert data["commits"], line
        for c in data["commits"]:  # each commit's go.mod pins this line's Kubernetes
            assert len(c["commit"]) == 40 and c["kubernetes"].startswith(line + "."), c
        assert {"server", "agent", "certificate rotate"} <= set(data["commands"])
        text = (DATA / f"{line}.yaml").read_text()
        assert fakelib.yaml_load(text) == data  # a (bundled) fake can read it alike


@pytest.mark.parametrize("line", LINES)
def test_plugin_renders_only_what_the_release_line_knows(tmp_path: Path, line: str) -> None:
    got = rendered(tmp_path, line)
    # the drive reached every kind of output it checks (a test that sees nothing cannot fail)
    assert len(got["server"]) >= 3 and got["agent"] and got["registries"]
    assert {w[0] for w in got["calls"]} >= {"server", "agent", "kubectl", "certificate", "--version"}
    assert violations(tmp_path / "again", line) == []


@pytest.mark.parametrize(
    ("what", "line", "found"),
    [
        (
            lambda d: unknown_config_keys({"node-ip": "1", "bogus-flag": 1}, d, "server"),
            "v1.36",
            ["bogus-flag"],
        ),
        # a server-only key on an agent: k3s agent would refuse it as an undefined flag
        (
            lambda d: unknown_config_keys({"server": "x", "cluster-init": True}, d, "agent"),
            "v1.34",
            ["cluster-init"],
        ),
        # on k3s main after release-1.36 branched, not in the v1.36 line (tests/fakes/upstream/k3s/README.md)
        (
            lambda d: unknown_config_keys({"helm-controller-arg+": ["x"]}, d, "server"),
            "v1.36",
            ["helm-controller-arg+"],
        ),
        (lambda d: unknown_in_invocation(["certificate", "rotate", "--force"], d), "v1.35", ["--force"]),
        (
            lambda d: unknown_in_invocation(["etcd-snapshot", "save"], d),
            "v1.35",
            ["subcommand 'etcd-snapshot'"],
        ),
        (
            lambda d: unknown_registry_keys(
                {
                    "mirrors": {"docker.io": {"endpoints": ["https://m"]}},
                    "configs": {"m": {"tls": {"ca": "x"}}},
                },
                d["registries"]["root"],
                d["registries"]["types"],
            ),
            "v1.34",
            ["mirrors.docker.io.endpoints", "configs.m.tls.ca"],
        ),
    ],
    ids=[
        "bogus-server-key",
        "server-key-on-agent",
        "main-only-flag",
        "rotate-ca-flag",
        "subcommand",
        "registries",
    ],
)
def test_the_checks_find_what_a_release_line_does_not_know(
    what: Callable[[dict[str, Any]], list[str]], line: str, found: list[str]
) -> None:
    assert what(line_data(line)) == found


def test_a_bogus_key_in_the_rendered_server_config_fails_the_check(tmp_path: Path, monkeypatch) -> None:
    """The whole drive, with the plugin made to render one key k3s does not have."""
    original = k3s_plugin.server_config
    monkeypatch.setattr(
        k3s_plugin, "server_config", lambda *a, **kw: {**original(*a, **kw), "tls-sans": ["x"]}
    )
    assert "server config.yaml: tls-sans" in violations(tmp_path, LINES[0])


def test_k3s_invocations_split_shell_lines() -> None:
    bin_ = k3s_plugin.BIN
    got = k3s_invocations(f"if {bin_} kubectl get node n -o name >/dev/null 2>&1; then {bin_} --version; fi")
    assert got == [["kubectl", "get", "node", "n", "-o", "name"], ["--version"]]
    assert k3s_invocations(f"rm -f {bin_} x && {bin_} server") == [["server"]]


@pytest.mark.parametrize("line", LINES)
@pytest.mark.parametrize(("command", "table"), [("server", "SERVER_FLAGS"), ("agent", "AGENT_FLAGS")])
def test_the_fakes_flags_are_the_lines_flags(line: str, command: str, table: str) -> None:
    """The fake refuses exactly what k3s refuses: its flag table is the command's flags at the line."""
    upstream = set(line_data(line)["commands"][command])
    fake = {f.name for f in getattr(fake_k3s, table)}
    assert fake == upstream, {"fake only": sorted(fake - upstream), "upstream only": sorted(upstream - fake)}


def _config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    monkeypatch.setenv("SEALKIT_FAKE_ROOT", str(tmp_path))
    conf = tmp_path / "etc/rancher/k3s/config.yaml"
    conf.parent.mkdir(parents=True)
    conf.write_text(text)


def test_an_unknown_config_key_is_dropped_by_the_server_and_refused_by_the_agent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _config(tmp_path, monkeypatch, "node-name: n1\nbogus-key: 1\n")
    args = fake_k3s.parse_command(fakelib.FlagSet(fake_k3s.SERVER_FLAGS), [], "server")
    assert args.get("node-name") == "n1"
    assert "Unknown flag --bogus-key found in config.yaml, skipping" in capsys.readouterr().err
    with pytest.raises(fakelib.FlagError, match="bogus-key"):
        fake_k3s.parse_command(fakelib.FlagSet(fake_k3s.AGENT_FLAGS), [], "agent")


class _Parsed(Exception):
    pass


def _stop(self: fakelib.FlagSet, argv: list[str]) -> None:
    raise _Parsed(argv)


def test_certificate_rotate_does_not_read_config_yaml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """configfilearg's DefaultParser inserts config.yaml only after server, agent and etcd-snapshot."""
    _config(tmp_path, monkeypatch, "service: [api-server]\ntoken: x\n")
    monkeypatch.setattr(fakelib.FlagSet, "parse_go", _stop)
    with pytest.raises(_Parsed) as seen:
        fake_k3s.run_certificate_rotate(["--service", "kubelet"])
    assert seen.value.args[0] == ["--service", "kubelet"]  # nothing from config.yaml before the args
