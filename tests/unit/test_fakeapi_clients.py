"""Real kubectl (1.35, 1.29) and helm (4, 3) against the fake apiserver + fake controllers/scheduler.

No root, no containers: pods are bound by the fake scheduler and a stand-in in this file marks them
Running/Ready (what the fake kubelet does for real in tests/workloads). What is checked here is the
API contract those clients need: protobuf writes, client- and server-side apply, label selectors,
watch, Service allocation, garbage collection, helm's Secret storage and --wait.
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fakes import fake_controllers, fake_scheduler, fakeapi, fakelib
from tests.workloads.harness import HELM, KUBECTL, make_pki, wait_for

needs_tools = pytest.mark.skipif(
    not all(p.exists() for p in [*KUBECTL.values(), *HELM.values()]),
    reason="real kubectl/helm missing: run tests/testimages/tools.sh",
)


class Cluster:
    """In-process fake apiserver with two Ready nodes; control loops tick in a thread."""

    def __init__(self, work: Path) -> None:
        pki = work / "pki"
        pki.mkdir()
        make_pki(pki)
        self.api = fakeapi.FakeAPIServer(
            fakeapi.APIServerConfig(
                cert_file=str(pki / "serving.crt"),
                key_file=str(pki / "serving.key"),
                client_ca_file=str(pki / "client-ca.crt"),
                secure_port=0,
                store=fakeapi.JsonFileStore(str(work / "state.json")),
                anonymous_auth=False,
                node_monitor_period=3600,
            )
        )
        self.api.start()
        self.kubeconfig = work / "kubeconfig"
        fakelib.write_file(
            str(self.kubeconfig),
            fakelib.kubeconfig(
                self.api.url,
                (pki / "server-ca.crt").read_text(),
                cert_pem=(pki / "admin.crt").read_text(),
                key_pem=(pki / "admin.key").read_text(),
            ),
            0o600,
        )
        self.home = work
        self.client = fakelib.KubeClient(fakelib.load_kubeconfig(str(self.kubeconfig)))
        for i, taint in (
            (1, [{"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}]),
            (2, []),
        ):
            node = fakelib.node_object(
                f"n{i}", [f"127.0.0.{i + 1}"], [], "v1.35.0", {"zone": f"z{i}"}, taint, {}
            )
            self.client.request("POST", "/api/v1/nodes", node)
        self.stop = threading.Event()
        self.errors: list[str] = []
        self.thread = threading.Thread(target=self.tick, daemon=True)
        self.thread.start()

    def tick(self) -> None:
        cm = fake_controllers.ControllerManager(self.client)
        sched = fake_scheduler.Scheduler(self.client)
        while not self.stop.wait(0.3):
            for step in (cm.run_pass, sched.run_pass, self.stand_in_kubelet):
                try:
                    step()
                except fakelib.FakeError as exc:
                    self.errors.append(str(exc))

    def stand_in_kubelet(self) -> None:
        """Bound pods become Running and Ready (the real runner is fake_pods, tested with containerd)."""
        for pod in self.client.request("GET", "/api/v1/pods").get("items") or []:
            if not pod["spec"].get("nodeName") or pod.get("status", {}).get("phase") == "Running":
                continue
            names = [c["name"] for c in pod["spec"]["containers"]]
            status = {
                "phase": "Running",
                "podIP": "127.0.0.9",
                "conditions": [
                    {"type": t, "status": "True"} for t in ("Ready", "ContainersReady", "PodScheduled")
                ],
                "containerStatuses": [
                    {"name": n, "ready": True, "restartCount": 0, "state": {"running": {}}} for n in names
                ],
            }
            ns, name = pod["metadata"]["namespace"], pod["metadata"]["name"]
            self.client.request(
                "PATCH",
                f"/api/v1/namespaces/{ns}/pods/{name}/status",
                {"status": status},
                content_type="application/merge-patch+json",
            )

    def run(
        self, tool: Path, *args: str, stdin: str = "", check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "KUBECONFIG": str(self.kubeconfig), "HOME": str(self.home)}
        proc = subprocess.run(
            [str(tool), *args], input=stdin, capture_output=True, text=True, env=env, timeout=180, check=False
        )
        if check:
            assert proc.returncode == 0, f"{tool.name} {' '.join(args)}: {proc.stderr}"
        return proc

    def get(self, path: str) -> dict:
        return self.client.request("GET", path)

    def close(self) -> None:
        self.stop.set()
        self.thread.join(10)
        self.api.stop()


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    c = Cluster(tmp_path)
    yield c
    c.close()


def deployment(replicas: int = 2, label: str = "v1") -> str:
    doc = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "demo", "labels": {"tier": label}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {
                    "containers": [{"name": "web", "image": "busybox:1.36", "ports": [{"containerPort": 80}]}]
                },
            },
        },
    }
    return json.dumps(doc)


@needs_tools
@pytest.mark.parametrize("version", ["1.35", "1.29"])
def test_kubectl_create_apply_select_delete(cluster: Cluster, version: str) -> None:
    k = KUBECTL[version]
    cluster.run(k, "create", "namespace", "demo")  # typed client: a protobuf body
    cluster.run(k, "-n", "demo", "create", "secret", "generic", "pw", "--from-literal=password=s3cret")
    assert cluster.get("/api/v1/namespaces/demo/secrets/pw")["data"] == {"password": "czNjcmV0"}

    assert "created" in cluster.run(k, "apply", "-f", "-", stdin=deployment()).stdout
    assert "unchanged" in cluster.run(k, "apply", "-f", "-", stdin=deployment()).stdout
    assert "configured" in cluster.run(k, "apply", "-f", "-", stdin=deployment(replicas=1, label="v2")).stdout
    got = cluster.get("/apis/apps/v1/namespaces/demo/deployments/web")
    assert got["spec"]["replicas"] == 1 and got["metadata"]["labels"] == {"tier": "v2"}
    cluster.run(k, "-n", "demo", "rollout", "status", "deployment/web", "--timeout=120s")

    # server-side apply by another manager, then a field it no longer applies goes away
    ssa = json.loads(deployment(replicas=1))
    ssa["metadata"]["annotations"] = {"owner": "ssa"}
    cluster.run(
        k,
        "apply",
        "--server-side",
        "--force-conflicts",
        "--field-manager=me",
        "-f",
        "-",
        stdin=json.dumps(ssa),
    )
    assert (
        cluster.get("/apis/apps/v1/namespaces/demo/deployments/web")["metadata"]["annotations"]["owner"]
        == "ssa"
    )
    del ssa["metadata"]["annotations"]
    cluster.run(
        k,
        "apply",
        "--server-side",
        "--force-conflicts",
        "--field-manager=me",
        "-f",
        "-",
        stdin=json.dumps(ssa),
    )
    assert "owner" not in (
        cluster.get("/apis/apps/v1/namespaces/demo/deployments/web")["metadata"].get("annotations") or {}
    )

    pods = cluster.run(k, "-n", "demo", "get", "pods", "-l", "app=web", "-o", "json").stdout
    [pod] = json.loads(pods)["items"]
    assert pod["spec"]["nodeName"] == "n2"  # n1 carries an untolerated NoSchedule taint
    assert pod["metadata"]["ownerReferences"][0]["kind"] == "ReplicaSet"
    assert (
        json.loads(cluster.run(k, "-n", "demo", "get", "pods", "-l", "app!=web", "-o", "json").stdout)[
            "items"
        ]
        == []
    )

    cluster.run(k, "-n", "demo", "delete", "deployment", "web")
    wait_for(
        "the garbage collector", lambda: not cluster.get("/api/v1/namespaces/demo/pods")["items"], 60, 0.5
    )
    assert cluster.get("/apis/apps/v1/namespaces/demo/replicasets")["items"] == []


@needs_tools
def test_nodeports_are_allocated_and_conflicts_refused(cluster: Cluster) -> None:
    k = KUBECTL["1.35"]
    svc = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "a", "namespace": "default"},
        "spec": {"type": "NodePort", "selector": {"app": "a"}, "ports": [{"port": 80}]},
    }
    cluster.run(k, "apply", "-f", "-", stdin=json.dumps(svc))
    got = cluster.get("/api/v1/namespaces/default/services/a")["spec"]
    assert 30000 <= got["ports"][0]["nodePort"] <= 32767 and got["clusterIP"].startswith("10.")
    cluster.run(k, "apply", "-f", "-", stdin=json.dumps(svc))  # re-apply keeps the allocation
    assert (
        cluster.get("/api/v1/namespaces/default/services/a")["spec"]["ports"][0]["nodePort"]
        == got["ports"][0]["nodePort"]
    )
    clash = {**svc, "metadata": {"name": "b", "namespace": "default"}}
    clash["spec"] = {**svc["spec"], "ports": [{"port": 80, "nodePort": got["ports"][0]["nodePort"]}]}
    proc = cluster.run(k, "apply", "-f", "-", stdin=json.dumps(clash), check=False)
    assert proc.returncode != 0 and "provided port is already allocated" in proc.stderr


@needs_tools
def test_scheduler_reports_why_nothing_fits(cluster: Cluster) -> None:
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "picky", "namespace": "default"},
        "spec": {"nodeSelector": {"zone": "nowhere"}, "containers": [{"name": "c", "image": "busybox"}]},
    }
    cluster.run(KUBECTL["1.35"], "apply", "-f", "-", stdin=json.dumps(pod))

    def message() -> str:
        conds = cluster.get("/api/v1/namespaces/default/pods/picky").get("status", {}).get("conditions") or []
        return next((c.get("message", "") for c in conds if c.get("type") == "PodScheduled"), "")

    msg = wait_for("an Unschedulable condition", message, 60, 0.5)
    assert msg == (
        "0/2 nodes are available: 1 node(s) didn't match Pod's node affinity/selector, "
        "1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }. "
        "preemption: 0/2 nodes are available: 2 Preemption is not helpful for scheduling."
    )


@needs_tools
@pytest.mark.parametrize("major", ["4", "3"])
def test_helm_install_upgrade_uninstall_with_wait(cluster: Cluster, tmp_path: Path, major: str) -> None:
    chart = tmp_path / "chart"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: demo\nversion: 0.1.0\n")
    (chart / "values.yaml").write_text("replicas: 1\n")
    (chart / "templates" / "all.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: '{{ .Release.Name }}-cfg'}\ndata: {a: b}\n---\n"
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: '{{ .Release.Name }}'}\nspec:\n"
        "  replicas: {{ .Values.replicas }}\n  selector: {matchLabels: {app: '{{ .Release.Name }}'}}\n"
        "  template:\n    metadata: {labels: {app: '{{ .Release.Name }}'}}\n"
        "    spec: {containers: [{name: c, image: 'busybox:1.36'}]}\n"
    )
    helm = HELM[major]
    cluster.run(helm, "install", "rel", str(chart), "--wait", "--timeout", "120s")
    secrets = cluster.get("/api/v1/namespaces/default/secrets?labelSelector=owner%3Dhelm")["items"]
    assert [s["metadata"]["name"] for s in secrets] == ["sh.helm.release.v1.rel.v1"]
    cluster.run(helm, "upgrade", "rel", str(chart), "--set", "replicas=2", "--wait", "--timeout", "120s")
    # helm 3 waits on the new ReplicaSet, helm 4 on the Deployment's status: both get there
    rs = cluster.get("/apis/apps/v1/namespaces/default/replicasets?labelSelector=app%3Drel")["items"]
    assert [r["status"].get("readyReplicas") for r in rs] == [2]
    assert "deployed" in cluster.run(helm, "status", "rel").stdout
    cluster.run(helm, "uninstall", "rel", "--wait", "--timeout", "120s")
    assert cluster.get("/api/v1/namespaces/default/secrets?labelSelector=owner%3Dhelm")["items"] == []
    wait_for(
        "the release's pods to go",
        lambda: not cluster.get("/api/v1/namespaces/default/pods")["items"],
        60,
        0.5,
    )


@needs_tools
def test_daemonset_statefulset_pods_follow_their_controllers(cluster: Cluster) -> None:
    k = KUBECTL["1.35"]
    tmpl = {
        "metadata": {"labels": {"app": "x"}},
        "spec": {"containers": [{"name": "c", "image": "busybox:1.36"}]},
    }
    ds = {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": "agent", "namespace": "default"},
        "spec": {"selector": {"matchLabels": {"app": "x"}}, "template": tmpl},
    }
    sts = {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": "db", "namespace": "default"},
        "spec": {
            "replicas": 2,
            "serviceName": "db",
            "selector": {"matchLabels": {"app": "y"}},
            "template": {**tmpl, "metadata": {"labels": {"app": "y"}}},
        },
    }
    cluster.run(k, "apply", "-f", "-", stdin=json.dumps(ds) + "\n---\n" + json.dumps(sts))
    cluster.run(k, "rollout", "status", "statefulset/db", "--timeout=120s")
    cluster.run(k, "rollout", "status", "daemonset/agent", "--timeout=120s")
    pods = {p["metadata"]["name"]: p for p in cluster.get("/api/v1/namespaces/default/pods")["items"]}
    assert {"db-0", "db-1"} <= set(pods)
    assert pods["db-1"]["spec"]["hostname"] == "db-1" and pods["db-1"]["spec"]["subdomain"] == "db"
    agents = [p for n, p in pods.items() if n.startswith("agent-")]
    # one per node the daemon pods tolerate: n1's control-plane taint is not a daemon toleration
    assert [p["spec"]["nodeName"] for p in agents] == ["n2"]
    ds_status = cluster.get("/apis/apps/v1/namespaces/default/daemonsets/agent")["status"]
    assert ds_status["desiredNumberScheduled"] == 1 and ds_status["numberReady"] == 1
    cluster.run(k, "scale", "statefulset/db", "--replicas=1")
    wait_for(
        "db-1 to go",
        lambda: (
            "db-1"
            not in {p["metadata"]["name"] for p in cluster.get("/api/v1/namespaces/default/pods")["items"]}
        ),
        60,
        0.5,
    )
