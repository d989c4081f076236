"""The CLI layer: global options after the verb, cluster listing and errors, prompts, rmi, roles, -o json
on success and on failure, human summaries, help examples (sealkit.cli)."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import click
import pytest
import yaml

from sealkit.cli import main as cli_main
from sealkit.cli import summary
from sealkit.cli.render import human_duration, human_size
from sealkit.cluster import SSH, Cluster, Host
from sealkit.engine import certs, ops
from sealkit.errors import CheckFailed, StepFailed
from sealkit.state import ClusterState

# ------------------------------------------------------------------------------------------ helpers


def sk(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """Run ``sealkit ARGS`` in process; (exit code, stdout, stderr)."""
    with pytest.raises(SystemExit) as exc:
        cli_main.main(list(args))
    out, err = capsys.readouterr()
    code = exc.value.code
    return (code if isinstance(code, int) else 0), out, err


@pytest.fixture(autouse=True)
def restore_logging():
    """The CLI configures sealkit's loggers for its process; put them back for the next test."""
    import logging

    loggers = [logging.getLogger(n) for n in ("sealkit", "sealkit.progress", "paramiko")]
    saved = [(lg, list(lg.handlers), lg.level, lg.propagate) for lg in loggers]
    yield
    for lg, handlers, level, propagate in saved:
        lg.handlers[:], lg.level, lg.propagate = handlers, level, propagate


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own $SEALKIT_HOME (and no terminal on stdin)."""
    monkeypatch.setenv("SEALKIT_HOME", str(tmp_path / "sk"))
    monkeypatch.delenv("SEALKIT_CLUSTER", raising=False)
    monkeypatch.delenv("SEALKIT_RUNTIME", raising=False)
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    return tmp_path / "sk"


def make_cluster(name: str) -> ClusterState:
    ssh = SSH(user="root", passwd="pw")
    state = ClusterState(name)
    state.save_clusterfile(
        Cluster(
            name=name,
            hosts=[
                Host("10.213.0.2", roles=["master"], ssh=ssh),
                Host("10.213.0.3", roles=["node"], ssh=ssh),
            ],
            images=["demo/k3s:v1.30.4"],
            runtime="k3s",
            ssh=ssh,
        )
    )
    return state


CONVERGED = {
    "cluster": "demo",
    "runtime": "k3s",
    "image": "demo/k3s:v1.30.4",
    "version": "v1.30.4+k3s1",
    "run": "e1c4ea205e5e",
    "masters": ["10.213.0.2"],
    "nodes": ["10.213.0.3"],
    "changed_hosts": ["10.213.0.2", "10.213.0.3"],
    "bytes_sent": 21977996,
}


# ------------------------------------------------------------------------------ global options


def test_global_options_after_the_verb(capsys, monkeypatch):
    make_cluster("demo")
    seen: dict[str, Any] = {}

    def fake_status(options):
        seen["options"] = options
        return [{"host": "10.213.0.2", "roles": ["master"], "reachable": True, "version": None, "lb": None}]

    monkeypatch.setattr(ops, "status", fake_status)
    code, out, _ = sk(capsys, "status", "--cluster", "demo", "-o", "json", "--concurrency", "3")
    assert code == 0
    assert seen["options"].cluster == "demo" and seen["options"].concurrency == 3
    rows = json.loads(out)
    # data formats say null for nothing, never "-"
    assert rows[0]["version"] is None and rows[0]["lb"] is None


def test_global_options_after_a_subcommand_of_a_group(capsys, monkeypatch):
    make_cluster("demo")
    monkeypatch.setattr(certs, "check", lambda options: [{"host": options.cluster, "days_left": 1}])
    code, out, _ = sk(capsys, "cert", "check", "--cluster", "demo", "-o", "json")
    assert code == 0 and json.loads(out) == [{"host": "demo", "days_left": 1}]


def test_unknown_runtime_after_the_verb_is_a_usage_error(capsys):
    make_cluster("demo")
    code, _, err = sk(capsys, "status", "--cluster", "demo", "--runtime", "nope")
    assert code == 2 and "k3s" in err


def test_save_keeps_its_own_dash_o(capsys, monkeypatch, tmp_path):
    saved: dict[str, Any] = {}

    class Store:
        def save(self, refs, path):
            saved["args"] = (refs, path)

    monkeypatch.setattr("sealkit.cli.image_cmds._store", lambda: Store())
    code, _, _ = sk(capsys, "save", "-o", str(tmp_path / "x.tar"), "a/b:1")
    assert code == 0 and saved["args"] == (["a/b:1"], tmp_path / "x.tar")


# ---------------------------------------------------------------------------------- clusters


def test_no_cluster_named_x_names_the_existing_ones(capsys):
    make_cluster("demo")
    make_cluster("prod")
    code, _, err = sk(capsys, "status", "--cluster", "nope")
    assert code == 2
    assert "no cluster named 'nope'" in err and "demo, prod" in err


def test_no_cluster_at_all_says_how_to_make_one(capsys):
    code, _, err = sk(capsys, "--cluster", "nope", "kubeconfig")
    assert code == 2 and "sealkit run" in err


def test_run_without_hosts_on_an_unknown_cluster_names_the_existing_ones(capsys):
    make_cluster("demo")
    code, _, err = sk(capsys, "run")
    assert code == 2 and "'default'" in err and "demo" in err


def test_clusters_lists_every_cluster(capsys):
    make_cluster("demo")
    make_cluster("prod")
    code, out, _ = sk(capsys, "clusters", "-o", "json")
    rows = json.loads(out)
    assert code == 0 and [r["name"] for r in rows] == ["demo", "prod"]
    assert rows[0]["masters"] == ["10.213.0.2"] and rows[0]["nodes"] == ["10.213.0.3"]
    assert "pw" not in out  # no secret of the Clusterfile
    code, out, _ = sk(capsys, "clusters")
    assert out.splitlines()[0].split()[:3] == ["NAME", "RUNTIME", "VERSION"]
    assert "demo" in out and "prod" in out


def test_clusters_when_there_are_none(capsys):
    code, out, _ = sk(capsys, "clusters")
    assert code == 0 and "no clusters yet" in out
    code, out, _ = sk(capsys, "clusters", "-o", "json")
    assert json.loads(out) == []


# ----------------------------------------------------------------------------------- prompts


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_declining_the_reset_prompt_is_exit_1_aborted(capsys, monkeypatch):
    make_cluster("demo")
    monkeypatch.setattr("sys.stdin", _Tty("n\n"))
    monkeypatch.setattr(ops, "reset", lambda options: pytest.fail("reset ran after 'n'"))
    code, _, err = sk(capsys, "--cluster", "demo", "reset")
    assert code == 1 and "aborted" in err and "interrupted" not in err


def test_declining_the_delete_prompt_with_json_gives_a_document(capsys, monkeypatch):
    make_cluster("demo")
    monkeypatch.setattr("sys.stdin", _Tty("n\n"))
    code, out, _ = sk(capsys, "--cluster", "demo", "-o", "json", "delete", "--nodes", "10.213.0.3")
    assert code == 1 and json.loads(out)["error"]["exit_code"] == 1


def test_a_prompt_without_a_terminal_asks_for_force(capsys, monkeypatch):
    make_cluster("demo")
    monkeypatch.setattr(ops, "reset", lambda options: pytest.fail("reset ran unconfirmed"))
    code, _, err = sk(capsys, "--cluster", "demo", "reset")
    assert code == 2 and "--force" in err


# -------------------------------------------------------------------------------------- rmi


class FakeStore:
    root = Path("/store")

    def __init__(self, names: set[str]) -> None:
        self.names = names
        self.removed: list[str] = []

    def resolve(self, ref: str) -> str:
        from sealkit.errors import ImageError

        if ref not in self.names:
            raise ImageError(f"image {ref} is not in the local store")
        return ref

    def rmi(self, ref: str) -> list[str]:
        self.removed.append(ref)
        return [ref]


def test_rmi_checks_every_name_before_removing_any(capsys, monkeypatch):
    store = FakeStore({"a:1"})
    monkeypatch.setattr("sealkit.cli.image_cmds._store", lambda: store)
    code, _, err = sk(capsys, "rmi", "a:1", "b:1", "c:1")
    assert code == 2 and store.removed == []
    assert "b:1, c:1" in err and "nothing was removed" in err


def test_rmi_removes_all_when_all_exist(capsys, monkeypatch):
    store = FakeStore({"a:1", "b:1"})
    monkeypatch.setattr("sealkit.cli.image_cmds._store", lambda: store)
    code, out, _ = sk(capsys, "rmi", "a:1", "b:1", "-o", "json")
    assert code == 0 and store.removed == ["a:1", "b:1"]
    assert json.loads(out) == {"removed": ["a:1", "b:1"]}


# ------------------------------------------------------------------------------------- roles


def test_invalid_roles_lists_the_valid_ones(capsys):
    make_cluster("demo")
    code, _, err = sk(capsys, "--cluster", "demo", "exec", "--roles", "mastr", "uptime")
    assert code == 2
    assert "mastr" in err and "master, node, registry" in err


def test_worker_role_alias_is_accepted(capsys, monkeypatch):
    make_cluster("demo")
    seen: dict[str, str] = {}

    def fake_exec(options, command, *, roles, ips, timeout):
        seen.update(roles=roles, command=command)

    monkeypatch.setattr("sealkit.engine.remote.exec_command", fake_exec)
    code, _, _ = sk(capsys, "--cluster", "demo", "exec", "--roles", "worker", "ls", "-l", "-v")
    assert code == 0 and seen == {"roles": "node", "command": "ls -l -v"}


# ------------------------------------------------------------------------------ --pull, help


@pytest.mark.parametrize("verb", ["run", "apply", "upgrade"])
def test_pull_flag_sets_options_pull(capsys, monkeypatch, tmp_path, verb):
    make_cluster("default")
    seen: dict[str, Any] = {}

    def capture(options, **kwargs):
        seen["pull"] = options.pull
        return dict(CONVERGED)

    monkeypatch.setattr(ops, verb, capture)
    args = {"run": ["run", "x"], "apply": ["apply", "-f", str(tmp_path / "cf")], "upgrade": ["upgrade", "x"]}
    code, _, _ = sk(capsys, *args[verb], "--pull")
    assert code == 0 and seen["pull"] is True


#: the verb modules of this layer whose help is checked here (plugin_cmds and app_cmds have their own owners)
CHECKED_MODULES = ("cluster_cmds", "remote_cmds", "cert_cmds", "image_cmds")


def _verbs() -> list[tuple[str, click.Command]]:
    out = []
    for name, cmd in cli_main.cli.commands.items():
        if cmd.callback is None or cmd.callback.__module__.rsplit(".", 1)[-1] not in CHECKED_MODULES:
            continue
        out.append((name, cmd))
        if isinstance(cmd, click.Group):
            out += [(f"{name} {sub}", c) for sub, c in cmd.commands.items()]
    return out


@pytest.mark.parametrize(("name", "cmd"), _verbs(), ids=[n for n, _ in _verbs()])
def test_every_verb_help_has_an_example(capsys, name, cmd):
    code, text, _ = sk(capsys, *name.split(), "--help")
    assert code == 0
    assert "Example" in text, f"`sealkit {name} --help` has no example"
    assert '[default: ""]' not in text


def test_help_shows_defaults_and_required(capsys):
    _, text, _ = sk(capsys, "--help")
    assert "[default: 32" in text and "[default: table]" in text
    _, text, _ = sk(capsys, "run", "--help")
    assert "Required for a new cluster" in text and "local image store" in text and "--pull" in text
    _, text, _ = sk(capsys, "apply", "--help")
    assert "Required" in text


# ---------------------------------------------------------------------- -o json on every verb


def _fail_check(options):
    raise CheckFailed("1 check(s) failed:\n  - test_k3s.py::test_unit[10.213.0.2]: inactive", step="check")


def _fail_step(*args, **kwargs):
    raise StepFailed("phase init failed on 1 of 1 step(s)", host="10.213.0.2", step="init")


#: verb argv → (what to patch, its result on success)
JSON_VERBS: dict[str, tuple[str, list[str], Any]] = {
    "run": ("sealkit.engine.ops.run", ["run", "x", "--masters", "10.213.0.9"], CONVERGED),
    "apply": ("sealkit.engine.ops.apply", ["apply", "-f", "cf"], CONVERGED),
    "add": ("sealkit.engine.ops.add", ["add", "--nodes", "10.213.0.9"], CONVERGED),
    "delete": ("sealkit.engine.ops.delete", ["delete", "--nodes", "10.213.0.3", "--force"], CONVERGED),
    "upgrade": ("sealkit.engine.ops.upgrade", ["upgrade", "x"], CONVERGED),
    "reset": ("sealkit.engine.ops.reset", ["reset", "--force"], {"reset": ["10.213.0.2"], "unreachable": []}),
    "status": (
        "sealkit.engine.ops.status",
        ["status"],
        [{"host": "10.213.0.2", "reachable": True, "lb": None}],
    ),
    "check": ("sealkit.engine.ops.check", ["check"], {"passed": 3, "failed": 0, "failures": []}),
    "cert check": ("sealkit.engine.certs.check", ["cert", "check"], [{"host": "10.213.0.2"}]),
    "cert renew": (
        "sealkit.engine.certs.renew",
        ["cert", "renew"],
        {"renewed": ["apiserver"], "new_keys": False, "renewed_by_runtime": {}},
    ),
    "cert alt-names": (
        "sealkit.engine.certs.add_alt_names",
        ["cert", "--alt-names", "a.example"],
        {"extra_sans": ["a.example"]},
    ),
}


@pytest.mark.parametrize("fmt", ["json", "yaml"])
@pytest.mark.parametrize("verb", list(JSON_VERBS))
def test_data_output_parses_on_success_and_on_failure(capsys, monkeypatch, verb, fmt):
    make_cluster("default")
    target, argv, result = JSON_VERBS[verb]
    load = json.loads if fmt == "json" else yaml.safe_load
    monkeypatch.setattr(target, lambda *a, **k: json.loads(json.dumps(result)))
    code, out, _ = sk(capsys, "-o", fmt, *argv)
    assert code == 0, out
    assert load(out) is not None
    monkeypatch.setattr(target, _fail_check if verb == "check" else _fail_step)
    code, out, err = sk(capsys, "-o", fmt, *argv)
    assert code == (5 if verb == "check" else 1)
    doc = load(out)
    assert doc["error"]["exit_code"] == code and doc["error"]["message"] in err


def test_usage_errors_give_a_json_document_too(capsys):
    code, out, _ = sk(capsys, "-o", "json", "add")
    assert code == 2 and json.loads(out)["error"]["exit_code"] == 2


@pytest.mark.parametrize("fmt", ["json", "yaml"])
def test_exec_data_output_per_host_on_success_and_failure(capsys, monkeypatch, fmt):
    make_cluster("demo")
    load = json.loads if fmt == "json" else yaml.safe_load
    rows = [
        {"host": "10.213.0.2", "rc": 0, "stdout": "m\n", "stderr": "", "error": None},
        {"host": "10.213.0.3", "rc": 0, "stdout": "n\n", "stderr": "", "error": None},
    ]
    monkeypatch.setattr(
        "sealkit.cli.remote_cmds.collect_exec",
        lambda app, command, **kw: {"command": command, "hosts": [dict(r) for r in rows]},
    )
    code, out, _ = sk(capsys, "--cluster", "demo", "exec", "-o", fmt, "hostname")
    assert code == 0 and load(out)["hosts"][1]["stdout"] == "n\n"
    rows[1]["rc"] = 3
    code, out, err = sk(capsys, "--cluster", "demo", "-o", fmt, "exec", "hostname")
    doc = load(out)
    assert code == 1 and doc["hosts"][1]["rc"] == 3 and "10.213.0.3" in doc["error"]["message"]
    assert "10.213.0.3" in err


def test_images_and_plugins_json_parse(capsys, monkeypatch):
    class Store:
        def list(self):
            return []

    monkeypatch.setattr("sealkit.cli.image_cmds._store", lambda: Store())
    code, out, _ = sk(capsys, "-o", "json", "images")
    assert code == 0 and json.loads(out) == []
    code, out, _ = sk(capsys, "plugins", "-o", "json")
    assert code == 0 and {"k3s", "kubeadm"} <= {r["name"] for r in json.loads(out)}


# ------------------------------------------------------------------------------ human output


def test_run_on_a_table_is_a_human_summary_not_yaml(capsys, monkeypatch):
    monkeypatch.setattr(ops, "run", lambda options, **kw: dict(CONVERGED))
    code, out, _ = sk(capsys, "--cluster", "demo", "run", "x", "--masters", "10.213.0.2")
    assert code == 0
    assert out.startswith("cluster demo is ready: k3s v1.30.4+k3s1 on 1 master (10.213.0.2)")
    assert "21.0 MiB" in out and "bytes_sent" not in out and "e1c4ea205e5e" not in out
    assert "sealkit --cluster demo kubeconfig > demo.kubeconfig" in out
    assert "took " in out


def test_a_rerun_that_changed_nothing_says_so():
    doc = {**CONVERGED, "changed_hosts": [], "bytes_sent": 0, "duration_s": 3.2}
    text = summary.converge(doc, "run")
    assert "nothing to change" in text and "0 B" in text and "3.2 s" in text


def test_dry_run_is_rendered_as_phases(capsys, monkeypatch):
    plan = {
        "operation": "converge",
        "phases": [{"phase": "prepare", "mode": "parallel", "steps": ["prepare @ 10.213.0.2"]}],
    }
    monkeypatch.setattr(ops, "run", lambda options, **kw: plan)
    code, out, _ = sk(capsys, "run", "x", "--masters", "10.213.0.2", "--dry-run")
    assert code == 0 and out.startswith("dry run: 1 phase(s)") and "prepare" in out and "10.213.0.2" in out
    code, out, _ = sk(capsys, "-o", "json", "run", "x", "--masters", "10.213.0.2", "--dry-run")
    assert json.loads(out) == plan  # the plan document is not decorated


def test_cert_renew_summary_does_not_open_with_an_empty_list(capsys, monkeypatch):
    make_cluster("demo")
    doc = {"renewed": [], "new_keys": False, "renewed_by_runtime": {"10.213.0.2": ["a.crt", "b.crt"]}}
    monkeypatch.setattr(certs, "renew", lambda options, new_keys: doc)
    code, out, _ = sk(capsys, "--cluster", "demo", "cert", "renew")
    assert code == 0 and not out.startswith("renewed: []")
    assert "minted its own certificates anew on: 10.213.0.2" in out


def test_check_keeps_pytest_dots_off_stderr(capsys, monkeypatch):
    make_cluster("demo")

    def fake_check(options):
        import sys

        sys.stderr.write("............ [100%]\n12 passed in 6.11s\n")  # what pytest.main prints
        return {"modules": ["k3s_host_checks"], "passed": 12, "failed": 0, "failures": []}

    monkeypatch.setattr(ops, "check", fake_check)
    code, out, err = sk(capsys, "--cluster", "demo", "check")
    assert code == 0 and out.startswith("12 check(s) passed, 0 failed") and "...." not in err
    code, out, err = sk(capsys, "--cluster", "demo", "check", "-v")
    assert code == 0 and "12 passed in" in err  # -v shows pytest's own report


def test_check_summary_names_each_check_and_host():
    doc = {
        "passed": 3,
        "failed": 1,
        "failures": ["x"],
        "results": [
            {"check": "test_unit_active", "host": "10.213.0.2", "outcome": "passed"},
            {"check": "test_unit_active", "host": "10.213.0.3", "outcome": "passed"},
            {"check": "test_port", "host": "10.213.0.2", "outcome": "passed"},
            {"check": "test_port", "host": "10.213.0.3", "outcome": "failed", "message": "port 6443 closed"},
            {"check": "test_etcd", "host": "10.213.0.3", "outcome": "skipped"},
        ],
    }
    lines = summary.check(doc).splitlines()
    assert lines[0] == "3 check(s) passed, 1 failed"
    assert lines[1].split() == ["ok", "test_unit_active", "10.213.0.2,", "10.213.0.3"]
    assert lines[2].split()[:3] == ["FAILED", "test_port", "10.213.0.3:"] and "port 6443 closed" in lines[2]
    assert lines[3].split() == ["ok", "test_port", "10.213.0.2"]
    assert lines[4].split()[:2] == ["skipped", "test_etcd"] and "skipped on 10.213.0.3" in lines[4]


def test_check_summary_without_per_check_results_lists_the_failures():
    text = summary.check({"passed": 0, "failed": 1, "failures": ["t.py::test_port[10.213.0.3]: closed"]})
    assert "FAILED  t.py::test_port[10.213.0.3]: closed" in text


def test_tables_show_sizes_with_units(capsys, monkeypatch):
    from sealkit.image.store import ImageSummary

    class Store:
        def list(self):
            return [ImageSummary("demo/k3s", "v1", "sha256:" + "a" * 64, 21977996, "", {}, ["linux/amd64"])]

    monkeypatch.setattr("sealkit.cli.image_cmds._store", lambda: Store())
    code, out, _ = sk(capsys, "images")
    assert code == 0 and "21.0 MiB" in out and "21977996" not in out
    code, out, _ = sk(capsys, "-o", "json", "images")
    assert json.loads(out)[0]["size"] == 21977996  # data stays data


@pytest.mark.parametrize(
    ("n", "text"),
    [(0, "0 B"), (1023, "1023 B"), (1536, "1.5 KiB"), (21977996, "21.0 MiB"), (3 << 30, "3.0 GiB")],
)
def test_human_size(n, text):
    assert human_size(n) == text


@pytest.mark.parametrize(
    ("s", "text"), [(0.42, "0.4 s"), (31.2, "31 s"), (125, "2 min 5 s"), (120, "2 min"), (3725, "1 h 2 min")]
)
def test_human_duration(s, text):
    assert human_duration(s) == text


# ------------------------------------------------------------------------------- kubeconfig

K3S_KUBECONFIG = """\
apiVersion: v1
clusters:
- cluster:
    certificate-authority-data: Q0E=
    server: https://10.213.0.2:6443
  name: default
contexts:
- context:
    cluster: default
    user: default
  name: default
current-context: default
kind: Config
preferences: {}
users:
- name: default
  user:
    client-certificate-data: Q0VSVA==
    client-key-data: S0VZ
"""

KUBEADM_KUBECONFIG = (
    K3S_KUBECONFIG.replace("name: default\ncontexts", "name: kubernetes\ncontexts")
    .replace(
        "    cluster: default\n    user: default\n  name: default\ncurrent-context: default",
        "    cluster: kubernetes\n    user: kubernetes-admin\n  name: kubernetes-admin@kubernetes\n"
        "current-context: kubernetes-admin@kubernetes",
    )
    .replace("- name: default\n  user:", "- name: kubernetes-admin\n  user:")
)


@pytest.mark.parametrize("text", [K3S_KUBECONFIG, KUBEADM_KUBECONFIG], ids=["k3s", "kubeadm"])
def test_kubeconfig_is_named_after_the_cluster(text):
    from sealkit.pki.kubeconfig import name_after_cluster

    doc = yaml.safe_load(name_after_cluster(text, "demo"))
    assert [c["name"] for c in doc["clusters"]] == ["demo"]
    assert [u["name"] for u in doc["users"]] == ["demo-admin"]
    assert doc["contexts"] == [{"context": {"cluster": "demo", "user": "demo-admin"}, "name": "demo"}]
    assert doc["current-context"] == "demo"
    # everything else is kept
    assert doc["clusters"][0]["cluster"]["server"] == "https://10.213.0.2:6443"
    assert doc["users"][0]["user"]["client-key-data"] == "S0VZ"


def test_kubeconfig_that_is_not_one_is_refused():
    from sealkit.pki.kubeconfig import name_after_cluster

    with pytest.raises(ValueError, match="kind: Config"):
        name_after_cluster("just: text\n", "demo")


def test_two_clusters_kubeconfigs_merge_in_kubectl_without_collision(capsys, monkeypatch, tmp_path):
    import shutil
    import subprocess

    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not installed (apt-get install kubernetes-client)")
    paths = []
    for name in ("demo", "prod"):
        make_cluster(name)
        monkeypatch.setattr(ops, "kubeconfig", lambda options: K3S_KUBECONFIG)
        code, out, _ = sk(capsys, "kubeconfig", "--cluster", name)
        assert code == 0
        path = tmp_path / f"{name}.kubeconfig"
        path.write_text(out)
        paths.append(str(path))
    env = {"KUBECONFIG": ":".join(paths), "HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}
    res = subprocess.run(
        [kubectl, "config", "get-contexts", "-o", "name"], env=env, capture_output=True, text=True, check=True
    )
    assert sorted(res.stdout.split()) == ["demo", "prod"]


def test_kubeconfig_as_json_is_the_same_config(capsys, monkeypatch):
    make_cluster("demo")
    monkeypatch.setattr(ops, "kubeconfig", lambda options: K3S_KUBECONFIG)
    code, out, _ = sk(capsys, "--cluster", "demo", "kubeconfig", "-o", "json")
    doc = json.loads(out)
    assert code == 0 and doc["kind"] == "Config" and doc["current-context"] == "demo"


class ImageStore:
    """The store verbs the CLI calls, succeeding, for -o json on every image verb."""

    root = Path("/store")

    def tag(self, src, dst):
        return None

    def save(self, refs, path):
        return None

    def load(self, path):
        return ["a/b:1"]

    def push(self, ref, dest, **kw):
        return "sha256:" + "1" * 64

    def pull(self, ref, **kw):
        return "sha256:" + "2" * 64

    def build(self, *a, **kw):
        return "sha256:" + "3" * 64

    def inspect(self, ref):
        return {"labels": {}}


@pytest.mark.parametrize(
    "argv",
    [
        ["tag", "a/b:1", "a/c:1"],
        ["save", "-o", "{tmp}/x.tar", "a/b:1"],
        ["load", "-i", "{tmp}/in.tar"],
        ["push", "a/b:1"],
        ["pull", "a/b:1"],
        ["build", "-t", "a/b:1", "{tmp}"],
        ["inspect", "a/b:1"],
    ],
    ids=lambda a: a[0],
)
def test_image_verbs_give_json_and_a_line_for_people(capsys, monkeypatch, tmp_path, argv):
    (tmp_path / "in.tar").write_bytes(b"")
    monkeypatch.setattr("sealkit.cli.image_cmds._store", lambda: ImageStore())
    args = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    code, out, _ = sk(capsys, "-o", "json", *args)
    assert code == 0 and isinstance(json.loads(out), dict)
    code, out, _ = sk(capsys, *args)
    if argv[0] == "inspect":  # like `docker inspect`: the document is what a person asked for
        assert json.loads(out) == {"labels": {}}
    else:
        assert code == 0 and out.strip() and not out.lstrip().startswith(("{", "-"))  # a sentence, not data


@pytest.mark.parametrize("fmt", ["json", "yaml"])
def test_scp_data_output_per_host(capsys, monkeypatch, tmp_path, fmt):
    make_cluster("demo")
    src = tmp_path / "motd"
    src.write_text("hi\n")
    load = json.loads if fmt == "json" else yaml.safe_load
    rows = [{"host": "10.213.0.2", "outcome": "copied", "error": None}]
    monkeypatch.setattr(
        "sealkit.cli.remote_cmds.collect_copy",
        lambda app, s, d, **kw: {"src": s, "dst": d, "hosts": [dict(r) for r in rows]},
    )
    code, out, _ = sk(capsys, "--cluster", "demo", "-o", fmt, "scp", str(src), "/etc/motd")
    assert code == 0 and load(out)["hosts"][0]["outcome"] == "copied"
    rows[0].update(outcome=None, error="connection refused")
    code, out, _ = sk(capsys, "--cluster", "demo", "-o", fmt, "scp", str(src), "/etc/motd")
    assert code == 1 and load(out)["error"]["exit_code"] == 1 and load(out)["hosts"][0]["error"]


def test_quiet_and_verbose_work_after_the_verb(capsys, monkeypatch, restore_logging):
    import logging

    make_cluster("demo")

    def fake_status(options):
        logging.getLogger("sealkit.engine").info("probing the hosts")
        logging.getLogger("sealkit.engine").debug("a detail")
        return []

    monkeypatch.setattr(ops, "status", fake_status)
    _, _, err = sk(capsys, "status", "--cluster", "demo")
    assert "probing the hosts" in err and "a detail" not in err
    _, _, err = sk(capsys, "status", "--cluster", "demo", "-q")
    assert "probing the hosts" not in err
    _, _, err = sk(capsys, "status", "--cluster", "demo", "-v")
    assert "sealkit.engine: a detail" in err


def _recording_fleet(monkeypatch, hosts: list[str]):
    """remote.open_fleet answering with recording connections instead of SSH (the CLI's gathering is real)."""
    from sealkit.engine import remote
    from sealkit.testing.recording import RecordingFleet

    fleet = RecordingFleet()
    for ip in hosts:
        fleet.conn(ip)
    monkeypatch.setattr(
        remote,
        "open_fleet",
        lambda options, roles, ips: ([type("H", (), {"ip": ip})() for ip in hosts], fleet),
    )
    return fleet


def test_exec_json_gathers_each_hosts_exit_code_and_output(capsys, monkeypatch):
    make_cluster("demo")
    fleet = _recording_fleet(monkeypatch, ["10.213.0.2", "10.213.0.3"])
    fleet.conn("10.213.0.2").answer("hostname", 0, "lab-h1\n")
    fleet.conn("10.213.0.3").answer("hostname", 7, "")
    code, out, err = sk(capsys, "--cluster", "demo", "exec", "-o", "json", "hostname")
    doc = json.loads(out)
    assert code == 1 and "10.213.0.3" in err
    rows = {r["host"]: r for r in doc["hosts"]}
    assert rows["10.213.0.2"]["rc"] == 0 and rows["10.213.0.2"]["stdout"] == "lab-h1\n"
    assert rows["10.213.0.3"]["rc"] == 7 and doc["error"]["exit_code"] == 1


def test_scp_json_says_copied_then_unchanged(capsys, monkeypatch, tmp_path):
    make_cluster("demo")
    _recording_fleet(monkeypatch, ["10.213.0.2"])
    src = tmp_path / "motd"
    src.write_text("hello\n")
    outcomes = []
    for _ in range(2):
        code, out, _ = sk(capsys, "--cluster", "demo", "-o", "json", "scp", str(src), "/etc/motd")
        assert code == 0
        outcomes.append(json.loads(out)["hosts"][0]["outcome"])
    assert outcomes == ["copied", "unchanged"]
