"""Workloads really run: kubectl 1.35 → fake control plane → fake kubelet → REAL containerd + runc,
pulling by the original image name through sealkit's mirror config from a real registry.

Needs root (containerd, runc, mounts), so it is marked `lab`; it uses no lab hosts (one node on
loopback, see harness.py). Pods share the machine's network namespace, so ports are random.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.lab_registry.local_registry import local_registry, registry_binary
from tests.testimages.build import build_image, web_image
from tests.workloads.harness import (
    HELM,
    KUBECTL,
    Containerd,
    Node,
    delete_from_registry,
    free_port,
    one_node,
    private_containerd,
    push_image,
    wait_for,
)

pytestmark = pytest.mark.lab

WEB = "docker.io/sealkit-test/web:1.0"
NEVER_SYNCED = "docker.io/sealkit-test/never-synced:1.0"


def _missing() -> list[str]:
    need = {
        "containerd": shutil.which("containerd"),
        "runc": shutil.which("runc"),
        "ctr": shutil.which("ctr"),
    }
    need |= {"skopeo": shutil.which("skopeo"), "docker-registry": registry_binary()}
    out = [name for name, path in need.items() if not path]
    out += [f"kubectl {v} (run tests/testimages/tools.sh)" for v, p in KUBECTL.items() if not p.exists()]
    out += [f"helm {v} (run tests/testimages/tools.sh)" for v, p in HELM.items() if not p.exists()]
    return out


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Node, Containerd, object]]:
    if _missing():
        pytest.skip("missing: " + ", ".join(_missing()))
    tmp = tmp_path_factory.mktemp("workloads")
    layout = tmp / "oci"
    build_image(web_image(WEB), layout)
    binary = registry_binary()
    assert binary
    with local_registry(tmp / "registry", binary) as registry:
        push_image(layout, WEB, registry)
        with private_containerd(registry) as containerd, one_node(tmp / "node", containerd) as node:
            yield node, containerd, registry


def web_manifests(port: int) -> str:
    docs = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "web"}},
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "greeting", "namespace": "web"},
            "stringData": {"word": "hi-from-a-secret"},
        },
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "site", "namespace": "web"},
            "data": {"index.html": "served from a ConfigMap volume\n"},
        },
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "web"},
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": {"app": "web"}},
                "template": {
                    "metadata": {"labels": {"app": "web"}},
                    "spec": {
                        "containers": [
                            {
                                "name": "web",
                                "image": WEB,
                                "args": ["httpd", "-f", "-v", "-p", str(port), "-h", "/www"],
                                "ports": [{"name": "http", "containerPort": port}],
                                "env": [
                                    {
                                        "name": "GREETING",
                                        "valueFrom": {"secretKeyRef": {"name": "greeting", "key": "word"}},
                                    }
                                ],
                                "volumeMounts": [{"name": "site", "mountPath": "/www", "readOnly": True}],
                                "readinessProbe": {
                                    "httpGet": {"path": "/index.html", "port": "http"},
                                    "periodSeconds": 2,
                                },
                                "livenessProbe": {
                                    "exec": {
                                        "command": ["/bin/sh", "-c", 'test "$GREETING" = hi-from-a-secret']
                                    },
                                    "periodSeconds": 3,
                                },
                            }
                        ],
                        "volumes": [{"name": "site", "configMap": {"name": "site"}}],
                    },
                },
            },
        },
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "web", "namespace": "web"},
            "spec": {
                "type": "NodePort",
                "selector": {"app": "web"},
                "ports": [{"port": 80, "targetPort": "http"}],
            },
        },
    ]
    return "\n---\n".join(json.dumps(d) for d in docs)


def test_deployment_runs_serves_nodeport_and_is_removed(
    env: tuple[Node, Containerd, object], tmp_path: Path
) -> None:
    node, containerd, _ = env
    manifests = tmp_path / "web.yaml"
    manifests.write_text(web_manifests(free_port()))
    node.kubectl("apply", "-f", str(manifests))
    node.kubectl("-n", "web", "rollout", "status", "deployment/web", "--timeout=300s", timeout=330)

    svc = json.loads(node.kubectl("-n", "web", "get", "svc", "web", "-o", "json"))
    node_port = svc["spec"]["ports"][0]["nodePort"]

    def page() -> str:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{node_port}/index.html", timeout=5) as resp:
                return resp.read().decode()
        except OSError:
            return ""

    assert wait_for("the NodePort to answer", page, 120) == "served from a ConfigMap volume\n"
    pod = node.pods("web")[0]
    status = pod["status"]["containerStatuses"][0]
    assert status["ready"] is True and status["restartCount"] == 0, (
        status
    )  # the exec liveness probe saw the env
    assert containerd.containers(), "the pod's container runs in containerd"
    logs = node.kubectl("-n", "web", "logs", "deployment/web")
    assert "response:200" in logs, logs  # busybox httpd -v logs each request it answered

    node.kubectl("-n", "web", "delete", "deployment", "web", "--wait=true", "--timeout=120s")
    wait_for("the pods to go", lambda: not node.pods("web"), 120)
    wait_for("the containers to go", lambda: not containerd.containers(), 120)
    assert wait_for("the NodePort to stop answering", lambda: page() == "", 60)


CHART = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: '{{ .Release.Name }}'}
spec:
  replicas: 1
  selector: {matchLabels: {app: '{{ .Release.Name }}'}}
  template:
    metadata: {labels: {app: '{{ .Release.Name }}'}}
    spec:
      containers:
      - name: web
        image: docker.io/sealkit-test/web:1.0
        args: [httpd, -f, -p, '{{ .Values.port }}', -h, /www]
        ports: [{containerPort: {{ .Values.port }}}]
        readinessProbe: {tcpSocket: {port: {{ .Values.port }}}, periodSeconds: 2}
---
apiVersion: v1
kind: Service
metadata: {name: '{{ .Release.Name }}'}
spec:
  type: NodePort
  selector: {app: '{{ .Release.Name }}'}
  ports: [{port: 80, targetPort: {{ .Values.port }}}]
"""


@pytest.mark.parametrize("major", ["4", "3"])
def test_helm_installs_upgrades_and_uninstalls_running_pods(
    env: tuple[Node, Containerd, object], tmp_path: Path, major: str
) -> None:
    node, containerd, _ = env
    chart = tmp_path / "chart"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: web\nversion: 0.1.0\n")
    (chart / "values.yaml").write_text("port: 8080\n")
    (chart / "templates" / "web.yaml").write_text(CHART)
    helm_env = {**os.environ, "KUBECONFIG": str(node.kubeconfig), "HOME": str(tmp_path)}

    def helm(*args: str) -> None:
        proc = subprocess.run(
            [str(HELM[major]), *args], capture_output=True, text=True, env=helm_env, timeout=400, check=False
        )
        assert proc.returncode == 0, f"helm {major} {' '.join(args)}: {proc.stderr}"

    def served(port: int) -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/index.html", timeout=5) as resp:
                return resp.read() == b"hello from sealkit-test/web\n"
        except OSError:
            return False

    first, second = free_port(), free_port()
    helm("install", "rel", str(chart), "--set", f"port={first}", "--wait", "--timeout", "300s")
    assert served(first)  # --wait returned: the pod is Ready, so its port answers
    helm("upgrade", "rel", str(chart), "--set", f"port={second}", "--wait", "--timeout", "300s")
    assert wait_for("the upgraded pod", lambda: served(second), 60)
    helm("uninstall", "rel", "--wait", "--timeout", "300s")
    wait_for("the release's pods to go", lambda: not node.pods("default"), 120)
    wait_for("the release's containers to go", lambda: not containerd.containers(), 120)


def test_crash_loop_backs_off_keeps_previous_logs_and_jobs_complete(
    env: tuple[Node, Containerd, object],
) -> None:
    node, containerd, _ = env
    crash = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "crash", "namespace": "default"},
        "spec": {
            "containers": [{"name": "c", "image": WEB, "command": ["/bin/sh", "-c", "echo boom; exit 3"]}]
        },
    }
    job = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "once", "namespace": "default"},
        "spec": {
            "template": {
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [{"name": "c", "image": WEB, "command": ["/bin/sh", "-c", "echo done"]}],
                }
            }
        },
    }
    node.kubectl("apply", "-f", "-", stdin="\n---\n".join(json.dumps(d) for d in (crash, job)))

    def crash_status() -> dict:
        got = node.client.request("GET", "/api/v1/namespaces/default/pods/crash")
        return ((got.get("status") or {}).get("containerStatuses") or [{}])[0]

    st = wait_for(
        "CrashLoopBackOff after a restart",
        lambda: (
            (s := crash_status()).get("restartCount", 0) >= 1
            and (s.get("state") or {}).get("waiting", {}).get("reason") == "CrashLoopBackOff"
            and s
        ),
        180,
    )
    assert st["lastState"]["terminated"]["exitCode"] == 3
    # a restart may land between the status read and the log read: any instance printed "boom"
    previous = wait_for(
        "the previous instance's log",
        lambda: (out := node.kubectl("logs", "crash", "--previous", check=False)) and "boom" in out and out,
        60,
    )
    assert previous.strip() == "boom", previous
    node.kubectl("wait", "--for=condition=Complete", "job/once", "--timeout=180s", timeout=200)
    [pod] = [p for p in node.pods() if p["metadata"].get("labels", {}).get("job-name") == "once"]
    assert pod["status"]["phase"] == "Succeeded"
    assert node.kubectl("logs", "job/once").strip() == "done"
    node.kubectl("delete", "pod", "crash", "--wait=true")
    node.kubectl("delete", "job", "once", "--wait=true")
    wait_for("the containers to go", lambda: not containerd.containers(), 120)


def test_image_missing_from_the_registry_is_image_pull_backoff(env: tuple[Node, Containerd, object]) -> None:
    node, containerd, registry = env
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "ghost", "namespace": "default"},
        "spec": {"containers": [{"name": "c", "image": NEVER_SYNCED}]},
    }
    node.client.request("POST", "/api/v1/namespaces/default/pods", pod)

    def reason() -> str:
        got = node.client.request("GET", "/api/v1/namespaces/default/pods/ghost")
        cs = (got.get("status") or {}).get("containerStatuses") or [{}]
        return ((cs[0].get("state") or {}).get("waiting") or {}).get("reason", "")

    wait_for("ImagePullBackOff", lambda: reason() == "ImagePullBackOff", 180)
    out = node.kubectl("get", "pod", "ghost")
    assert "ImagePullBackOff" in out or "ErrImagePull" in out, out
    node.kubectl("delete", "pod", "ghost", "--wait=true")
    # the same image as the web test, deleted from the registry and from the node: pulls fail
    delete_from_registry(registry, WEB)  # type: ignore[arg-type]
    containerd.delete_image(WEB)
    pod["metadata"]["name"] = "gone"
    pod["spec"]["containers"][0]["image"] = WEB
    node.client.request("POST", "/api/v1/namespaces/default/pods", pod)

    def gone_reason() -> str:
        got = node.client.request("GET", "/api/v1/namespaces/default/pods/gone")
        cs = (got.get("status") or {}).get("containerStatuses") or [{}]
        return ((cs[0].get("state") or {}).get("waiting") or {}).get("reason", "")

    wait_for("ImagePullBackOff of a deleted image", lambda: gone_reason() == "ImagePullBackOff", 180)
    node.kubectl("delete", "pod", "gone", "--wait=true")
