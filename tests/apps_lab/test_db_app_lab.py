"""Issue 19's done-when on kubeadm, binary and k3s lab clusters: `sealkit run <db-app>` prints where and
how to log in, and a real client uses it.

A cluster of the runtime (1 master + 1 worker, systemd lab hosts) from the test cluster image, then the redis
example app (tests/apps/examples/redis, its container image built offline from Debian's redis-server)
through the real CLI. The pods run for real: the fake kubelet runs them through each host's containerd,
pulling by their original names through sealkit's mirror of the embedded registry; the fake kube-proxy
DaemonSet forwards the NodePort on every host. The client is the redis image's own redis-cli, run on the
controller. Then: `apps` lists it, an identical run changes nothing, a new tag upgrades it in place, an
app whose container exits fails the run naming the pod and the reason, `apps remove` leaves no object
and no container, and a run on a terminal ends with the sentence a person reads.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.apps_lab.helpers import SENTENCE, RedisCli, on_terminal, strip_terminal
from tests.e2e.driver import ROOT, Sealkit, build_images, support_range
from tests.e2e.images import build_app, build_app_context
from tests.lab.core import Lab
from tests.testimages.build import redis_image, unpack, web_image
from tests.workloads.harness import KUBECTL, wait_for

pytestmark = pytest.mark.lab

APP = "localhost/apps/redis:7.0"
APP_NEXT = "localhost/apps/redis:7.0.1"
CRASH = "localhost/apps/crash:1.0"
#: where the terminal transcript of `sealkit run APP` is kept for the issue note
TRANSCRIPT = "/tmp/sealkit-apps-lab-terminal-{runtime}.txt"


def kubectl(kubeconfig: Path, *args: str, check: bool = True) -> str:
    proc = subprocess.run(
        [str(KUBECTL["1.35"]), "--kubeconfig", str(kubeconfig), *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"kubectl {' '.join(args)}: {proc.stderr}")
    return proc.stdout


#: the containerd each runtime's kubelet uses (k3s runs its own, on its own socket; k3s-io/k3s
#: pkg/agent/config/config_linux.go: Containerd.State/containerd.sock, state /run/k3s/containerd)
CTR = {"k3s": "ctr --address /run/k3s/containerd/containerd.sock -n k8s.io"}


def containers(lab: Lab, image_part: str, runtime: str) -> dict[str, list[str]]:
    """Per host, the containerd containers (k8s.io namespace) whose image names ``image_part``."""
    ctr = CTR.get(runtime, "ctr -n k8s.io")
    out = {}
    for h in lab.hosts:
        rows = lab.exec_on(h, f"{ctr} containers ls", check=False).stdout.splitlines()[1:]
        out[h.name] = [r.split()[0] for r in rows if image_part in r]
    return out


def crash_context(directory: Path) -> Path:
    """An app whose only container exits 1 at once (a server that fails to start)."""
    (directory / "manifests").mkdir(parents=True)
    (directory / "Kubefile").write_text(
        "FROM scratch\nLABEL sealkit.io/type=app sealkit.io/version=1.0\n"
        "COPY sealkit-app.yaml .\nCOPY manifests manifests\n"
    )
    (directory / "sealkit-app.yaml").write_text("name: crash\nready:\n  timeout: 120\n")
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "crash"},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "crash"}},
            "template": {
                "metadata": {"labels": {"app": "crash"}},
                "spec": {
                    "containers": [
                        {
                            "name": "crash",
                            "image": "localhost/sealkit-examples/busybox:1.36",
                            "command": ["busybox", "sh", "-c", "echo crash-test gives up; exit 1"],
                            # as a server declares it: ready only when it listens (without a probe a
                            # container that runs for a moment counts as available, as for kubectl
                            # rollout status)
                            "readinessProbe": {"tcpSocket": {"port": 8080}, "periodSeconds": 2},
                        }
                    ]
                },
            },
        },
    }
    (directory / "manifests" / "crash.yaml").write_text(json.dumps(deployment))
    return directory


def app_objects(kubeconfig: Path, namespace: str) -> list[str]:
    """Every object left in the app's namespace (or the namespace itself) per the real kubectl."""
    if not kubectl(kubeconfig, "get", "namespace", namespace, "--ignore-not-found", "-o", "name"):
        return []
    kinds = "deployments,replicasets,pods,services,endpoints,secrets,configmaps,persistentvolumeclaims"
    names = kubectl(kubeconfig, "get", kinds, "-n", namespace, "-o", "name").split()
    return [f"namespace/{namespace}", *names]


@pytest.mark.parametrize("runtime", ["kubeadm", "binary", "k3s"])
def test_db_app(runtime, fresh_lab, tmp_path):
    if not KUBECTL["1.35"].exists():
        pytest.skip("kubectl 1.35 missing: run tests/testimages/tools.sh")
    home = tmp_path / "home"
    _, newest = support_range(runtime)
    version = newest.split("+")[0].replace(".99", ".0")
    refs = build_images(home, runtime, (version,))
    build_app("redis", APP, home=home)
    build_app("redis", APP_NEXT, version="7.0.1", home=home)
    build_app_context(
        crash_context(tmp_path / "crash"),
        CRASH,
        [web_image("localhost/sealkit-examples/busybox:1.36")],
        home=home,
    )
    cli = RedisCli(unpack(redis_image(), tmp_path / "redis-root"))

    lab = fresh_lab(2, systemd=True)
    m1, w1 = lab.hosts
    sk = Sealkit(home, f"apps-{runtime}")
    sk(
        "--runtime",
        runtime,
        "run",
        refs[version],
        "--masters",
        m1.ip,
        "--nodes",
        w1.ip,
        "-i",
        str(m1.root_key),
        timeout=1200,
    )
    kc = sk.kubeconfig(tmp_path / "admin.conf")

    # install: the address of every host and a generated password; the real client writes and reads
    started = time.monotonic()
    [app] = sk("run", APP, timeout=900).out["apps"]
    installed_in = time.monotonic() - started
    assert (app["name"], app["action"], app["changed"]) == ("redis", "install", True), app
    hosts = sorted(ep.rsplit(":", 1)[0] for ep in app["endpoints"])
    assert hosts == sorted([m1.ip, w1.ip]), app["endpoints"]
    password = app["credentials"]["password"]
    assert len(password) == 24 and password.isalnum(), app["credentials"]
    for ep in app["endpoints"]:
        got = wait_for(f"redis at {ep}", lambda ep=ep: cli.write_and_read(ep, password, "greeting", ep), 120)
        assert got == ep
        assert cli(ep, "", "GET", "greeting").startswith("NOAUTH"), "the password is required"
    assert any(containers(lab, "sealkit-examples/redis", runtime).values()), (
        "the pod runs as a container on a host"
    )

    # listed; an identical run changes nothing
    [listed] = sk("apps").out
    assert (listed["name"], listed["version"], listed["status"]) == ("redis", "7.0", "ready"), listed
    assert listed["address"] == app["endpoints"][0]
    [again] = sk("run", APP, timeout=600).out["apps"]
    assert (again["action"], again["changed"]) == ("unchanged", False), again
    assert again["credentials"] == app["credentials"] and again["endpoints"] == app["endpoints"]

    # a new tag upgrades in place: same name, same password, the new version listed, still answering
    [up] = sk("run", APP_NEXT, timeout=900).out["apps"]
    assert (up["name"], up["action"], up["changed"]) == ("redis", "upgrade", True), up
    assert up["credentials"] == app["credentials"]
    ep = up["endpoints"][0]
    assert (
        wait_for(f"redis at {ep} after the upgrade", lambda: cli.write_and_read(ep, password, "v", "2"), 120)
        == "2"
    )
    assert [a["version"] for a in sk("apps").out] == ["7.0.1"]

    # an app whose container exits fails the run within its timeout, naming the pod and the reason
    started = time.monotonic()
    crashed = sk("run", CRASH, check=False, timeout=600)
    crash_took = time.monotonic() - started
    said = json.dumps(crashed.out) + crashed.err
    assert crashed.rc == 1, (crashed.rc, said[-3000:])
    assert crash_took < 120 + 60, crash_took
    pods = json.loads(kubectl(kc, "get", "pods", "-n", "crash", "-o", "json"))["items"]
    names = [p["metadata"]["name"] for p in pods]
    assert names and any(n in said for n in names), (names, said[-3000:])
    assert "exit code 1" in said, said[-3000:]
    sk("apps", "remove", "crash", timeout=600)
    wait_for("the crash app's objects to go", lambda: not app_objects(kc, "crash"), 120)

    # remove: no object in the API, no container on any host
    removed = sk("apps", "remove", "redis", timeout=600).out
    assert removed["removed"] == "redis", removed
    # a namespace is deleted with its objects by the namespace controller, not at once
    wait_for("the redis app's objects to go", lambda: not app_objects(kc, "redis"), 120)
    everywhere = json.loads(kubectl(kc, "get", "pods", "-A", "-o", "json"))["items"]
    assert not [p for p in everywhere if "sealkit-examples" in json.dumps(p["spec"])]
    wait_for(
        "the app's containers to go",
        lambda: not any(containers(lab, "sealkit-examples", runtime).values()),
        180,
    )
    assert sk("apps").out in ([], "", None)
    # the real helm ran on the master: its cache, config and data stayed out of root's home (~/.kube/cache
    # is written by the runtime plugins' own kubectl calls, which do not pass --cache-dir yet)
    for m in lab.hosts:
        home = lab.exec_on(m, "ls -d /root/.cache/helm /root/.config/helm /root/.local/share/helm 2>&-; true")
        assert home.stdout.strip() == "", f"{m.name}: {home.stdout}"

    # what a person sees on a terminal, and the client connecting with exactly what it says
    rc, raw = on_terminal([*sk.argv("run", APP)], sk.env, ROOT, 900)
    screen = strip_terminal(raw)
    Path(TRANSCRIPT.format(runtime=runtime)).write_text(f"$ sealkit run {APP}\n{screen}")
    sys.stderr.write(f"--- sealkit run {APP} on a terminal (installed in {installed_in:.0f} s)\n{screen}\n")
    assert rc == 0, screen[-3000:]
    m = SENTENCE.search(screen)
    assert m and m["name"] == "redis", screen[-3000:]
    ep, pw = m["endpoint"], m["password"]
    assert wait_for(f"redis at {ep}", lambda: cli.write_and_read(ep, pw, "printed", "works"), 120) == "works"

    # reset needs no app step: the app's files, the installers' kubeconfig and the tools' caches go too
    sk("reset", "--force", timeout=600)
    for h in lab.hosts:
        left = lab.exec_on(h, "ls -A /var/lib/sealkit/apps 2>&-; true").stdout.strip()
        assert left == "", f"{h.name}: /var/lib/sealkit/apps still holds {left}"
