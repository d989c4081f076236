"""A fake master for app-engine tests: kubectl and helm answered from an in-memory object store.

Only what the engine calls is modelled, as the real tools answer it: ``kubectl get … -o json
--ignore-not-found`` (empty output when a named object is absent, a ``List`` otherwise), ``create
namespace``, ``apply --server-side -f -`` (objects from stdin), ``delete … --ignore-not-found``, ``logs``;
``helm upgrade --install`` (objects from a test-supplied chart function, values from the file the
engine's shell command writes), ``helm get manifest``, ``helm status``, ``helm uninstall``. Workloads
get pods whose state the test chooses (``ready``, ``crash``, ``pull``, ``pending``).

Every command and the stdin it came with are recorded, so tests can assert that no secret ever
reaches a command line.
"""

from __future__ import annotations

import base64
import json
import re
import shlex
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import yaml

from sealkit.testing.recording import RecordedResult, RecordingConnection

PLURAL = {
    "namespace": "namespaces",
    "service": "services",
    "secret": "secrets",
    "deployment": "deployments",
    "statefulset": "statefulsets",
    "daemonset": "daemonsets",
    "job": "jobs",
    "pod": "pods",
    "ingress": "ingresses",
    "storageclass": "storageclasses",
    "persistentvolumeclaim": "persistentvolumeclaims",
    "configmap": "configmaps",
    "node": "nodes",
}
CLUSTER_SCOPED = ("namespaces", "storageclasses", "nodes")
ENV_PREFIX = "set -a; . /dev/stdin; set +a; "


def plural(word: str) -> str:
    word = word.split(".")[0].lower()
    return PLURAL.get(word, word if word.endswith("s") else word + "s")


def parse_env(stdin: bytes | None) -> dict[str, str]:
    """The env script sealkit sends on stdin (``NAME='value'`` lines)."""
    out = {}
    for word in shlex.split((stdin or b"").decode()):
        k, _, v = word.partition("=")
        out[k] = v
    return out


@dataclass
class FakeCluster:
    objects: dict[tuple[str, str, str], dict[str, Any]] = field(default_factory=dict)
    #: chart path → function(release, namespace, values) → objects the chart renders
    charts: dict[str, Callable[[str, str, dict[str, Any]], list[dict[str, Any]]]] = field(
        default_factory=dict
    )
    #: workload name → pod behaviour: ready | crash | pull | pending
    pod_mode: dict[str, str] = field(default_factory=dict)
    logs: dict[str, list[str]] = field(default_factory=dict)
    releases: dict[tuple[str, str], list[tuple[str, str, str]]] = field(default_factory=dict)
    kubectl_path: str = "/usr/bin/kubectl"
    cluster_helm: bool = True
    calls: list[tuple[str, bytes | None]] = field(default_factory=list)
    helm_values: dict[str, Any] = field(default_factory=dict)
    #: an error helm upgrade reports after creating the objects (``--wait`` timing out)
    helm_fail: str = ""

    # ------------------------------------------------------------------ objects
    def add(self, obj: dict[str, Any], namespace: str = "") -> None:
        md = obj.setdefault("metadata", {})
        if obj.get("kind") == "Secret" and "stringData" in obj:  # the apiserver stores stringData as data
            data = obj.setdefault("data", {})
            for k, v in obj.pop("stringData").items():
                data[k] = base64.b64encode(str(v).encode()).decode()
        res = plural(obj["kind"])
        ns = "" if res in CLUSTER_SCOPED else (md.get("namespace") or namespace or "default")
        if ns:
            md["namespace"] = ns
        md.setdefault("generation", 1)
        self.objects[(res, ns, md["name"])] = obj
        self._controller(obj, ns)

    def _controller(self, obj: dict[str, Any], ns: str) -> None:
        """What the controllers would do: status for workloads, pods in the chosen mode, nodePorts."""
        kind = obj["kind"]
        name = obj["metadata"]["name"]
        if kind == "Service" and obj.get("spec", {}).get("type") in ("NodePort", "LoadBalancer"):
            for i, p in enumerate(obj["spec"].get("ports", [])):
                p.setdefault("nodePort", 30079 + i)
        if kind not in ("Deployment", "StatefulSet"):
            return
        mode = self.pod_mode.get(name, "ready")
        want = obj.get("spec", {}).get("replicas", 1)
        ready = want if mode == "ready" else 0
        obj["status"] = {
            "observedGeneration": obj["metadata"]["generation"],
            "replicas": want,
            "updatedReplicas": want,
            "readyReplicas": ready,
            "availableReplicas": ready,
        }
        labels = obj["spec"]["selector"]["matchLabels"]
        template = obj["spec"].get("template", {}).get("spec", {})
        image = (template.get("containers") or [{"image": "?"}])[0]["image"]
        pod = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": f"{name}-0", "namespace": ns, "labels": dict(labels)},
            "spec": {
                "containers": [{"name": "main", "image": image}],
                "volumes": template.get("volumes", []),
            },
            "status": _pod_status(mode, image),
        }
        self.objects[("pods", ns, pod["metadata"]["name"])] = pod

    def get_obj(self, res: str, ns: str, name: str) -> dict[str, Any] | None:
        return self.objects.get((plural(res), "" if plural(res) in CLUSTER_SCOPED else ns, name))

    def names(self, res: str) -> list[str]:
        return sorted(f"{ns}/{n}" if ns else n for r, ns, n in self.objects if r == plural(res))

    # ------------------------------------------------------------------ commands
    def handle(self, cmd: str, stdin: bytes | None) -> tuple[int, str] | None:
        self.calls.append((cmd, stdin))
        env: dict[str, str] = {}
        if cmd.startswith(ENV_PREFIX):
            env = parse_env(stdin)
            cmd = cmd[len(ENV_PREFIX) :]
        if cmd.startswith("k=") and "kubectl=" in cmd:
            return 0, f"kubectl={self.kubectl_path}\n" + (
                "helm=/var/lib/sealkit/rootfs/bin/helm\n" if self.cluster_helm else ""
            )
        if cmd.startswith("cd "):
            cmd = cmd.split(" && ", 1)[1]
        words = shlex.split(cmd)
        if words and words[0] == self.kubectl_path:
            # kubectl's global flags may stand anywhere (cli-runtime ConfigFlags); these two the engine sets
            args = [w for w in words[1:] if not w.startswith(("--kubeconfig=", "--cache-dir="))]
            return self.kubectl(args, stdin)
        if cmd.startswith("umask") or re.search(r"/helm (get manifest|status|upgrade) ", cmd):
            return self.helm(cmd, env)
        return None

    def kubectl(self, args: list[str], stdin: bytes | None) -> tuple[int, str]:
        ns = _flag(args, "-n") or "default"
        verb = args[0]
        if verb == "get":
            res, rest = plural(args[1]), _positional(args[2:])
            if rest:
                obj = self.get_obj(res, ns, rest[0])
                return 0, json.dumps(obj) if obj else ""
            items = [
                o
                for (r, n, _), o in sorted(self.objects.items())
                if r == res and (r in CLUSTER_SCOPED or n == ns)
            ]
            return 0, json.dumps({"apiVersion": "v1", "kind": "List", "items": items})
        if verb == "create" and args[1] == "namespace":
            self.add({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": args[2]}})
            return 0, f"namespace/{args[2]} created"
        if verb == "apply":
            assert "--server-side" in args and any(a.startswith("--field-manager=") for a in args)
            for doc in yaml.safe_load_all((stdin or b"").decode()):
                if doc:
                    self.add(doc, ns)
            return 0, "applied"
        if verb == "delete":
            res, name = plural(args[1]), args[2]
            key = (res, "" if res in CLUSTER_SCOPED else ns, name)
            self.objects.pop(key, None)
            if res == "namespaces":
                for k in [k for k in self.objects if k[1] == name]:
                    del self.objects[k]
            return 0, "deleted"
        if verb == "logs":
            return 0, "\n".join(self.logs.get(args[1], []))
        return 1, f"fake kubectl: unsupported {args}"

    def helm(self, cmd: str, env: dict[str, str]) -> tuple[int, str]:
        part = cmd.split("&& ", 1)[-1] if cmd.startswith("umask") else cmd
        if part.startswith("if "):  # remove: if helm status …; then helm uninstall …; fi
            words = shlex.split(part.split("then ", 1)[1].rstrip("; fi"))
        else:
            words = shlex.split(part)
        ns = _flag(words, "-n") or "default"
        verb = words[1]
        if verb == "upgrade":
            release, chart = words[3], words[4]
            self.helm_values = yaml.safe_load(env.get("SEALKIT_HELM_VALUES", "")) or {}
            for key in self.releases.pop((ns, release), []):
                self.objects.pop(key, None)
            created = []
            for obj in self.charts[chart](release, ns, self.helm_values):
                self.add(obj, ns)
                md = obj["metadata"]
                created.append((plural(obj["kind"]), md.get("namespace", ""), md["name"]))
            self.releases[(ns, release)] = created
            if self.helm_fail:
                return 1, f"Error: UPGRADE FAILED: {self.helm_fail}"
            return 0, "Release has been upgraded"
        if verb == "get":
            keys = self.releases.get((ns, words[3]), [])
            docs = [self.objects[k] for k in keys if k in self.objects]
            return 0, yaml.safe_dump_all([{k: v for k, v in d.items() if k != "status"} for d in docs])
        if verb == "uninstall":
            for key in self.releases.pop((ns, words[2]), []):
                if key[0] != "persistentvolumeclaims":
                    self.objects.pop(key, None)
            return 0, "uninstalled"
        return 1, f"fake helm: unsupported {words}"


def _positional(args: list[str]) -> list[str]:
    out, skip = [], False
    for a in args:
        if skip:
            skip = False
        elif a in ("-n", "-l", "-o", "-c"):
            skip = True
        elif not a.startswith("-"):
            out.append(a)
    return out


def _flag(args: list[str], flag: str) -> str | None:
    return args[args.index(flag) + 1] if flag in args and args.index(flag) + 1 < len(args) else None


def _pod_status(mode: str, image: str) -> dict[str, Any]:
    if mode == "pending":
        return {
            "phase": "Pending",
            "conditions": [
                {
                    "type": "PodScheduled",
                    "status": "False",
                    "reason": "Unschedulable",
                    "message": "0/3 nodes are available: 3 Insufficient memory.",
                }
            ],
        }
    cs: dict[str, Any] = {"name": "main", "image": image, "ready": mode == "ready", "restartCount": 0}
    if mode == "ready":
        cs["state"] = {"running": {}}
        phase = "Running"
    elif mode == "pull":
        cs["state"] = {
            "waiting": {"reason": "ImagePullBackOff", "message": f'Back-off pulling image "{image}"'}
        }
        phase = "Pending"
    else:  # crash
        cs["restartCount"] = 4
        cs["state"] = {"waiting": {"reason": "CrashLoopBackOff"}}
        cs["lastState"] = {"terminated": {"exitCode": 1, "reason": "Error"}}
        phase = "Running"
    return {"phase": phase, "containerStatuses": [cs]}


class FakeMaster(RecordingConnection):
    """A RecordingConnection whose kubectl/helm commands the FakeCluster answers; stdin is recorded."""

    def __init__(self, address: str, cluster: FakeCluster) -> None:
        super().__init__(address)
        self.cluster = cluster
        self.stdins: list[bytes | None] = []

    def run(self, cmd: str, *, sudo=None, timeout=None, check=True, stdin=None, env=None):  # type: ignore[override]
        data = stdin.read() if hasattr(stdin, "read") else stdin
        self.stdins.append(data)
        answer = self.cluster.handle(cmd, data)
        if answer is None:
            return super().run(cmd, sudo=sudo, timeout=timeout, check=check, stdin=stdin, env=env)
        self.commands.append(cmd)
        rc, out = answer
        result = RecordedResult(self.address, cmd, rc, out, "" if rc == 0 else out)
        if check and rc != 0:
            from sealkit.errors import StepFailed

            raise StepFailed(f"command failed (rc={rc}): {cmd}", host=self.address)
        return result


def secret(name: str, ns: str, data: dict[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": ns},
        "data": {k: base64.b64encode(v.encode()).decode() for k, v in data.items()},
    }
