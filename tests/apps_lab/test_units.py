"""What the apps lab e2e stands on, checked without a lab: the redis test image's own client and server
run on the controller from its unpacked rootfs, and kubeadm's kube-proxy DaemonSet lands on a tainted
master (so a NodePort answers on every host, as with real kubeadm)."""

from __future__ import annotations

import io
import os
import socket
import subprocess
import sys
import tarfile
import time
from pathlib import Path
from typing import Any

import pytest

from sealkit.apps.model import sentence
from tests.apps_lab.helpers import SENTENCE, on_terminal, strip_terminal
from tests.fakes import fake_kubeadm, fake_scheduler
from tests.testimages.build import (
    host_argv,
    installed,
    layer_tar,
    redis_image,
    rootfs_files,
    unpack,
    web_image,
)
from tests.testimages.client import tool_argv
from tests.workloads.harness import free_port


@pytest.fixture(scope="module")
def redis_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    try:
        return unpack(redis_image(), tmp_path_factory.mktemp("redis-root"))
    except RuntimeError as exc:  # apt-get download needs the machine's apt lists
        pytest.skip(str(exc))


def test_redis_cli_of_the_image_talks_to_its_server_with_a_password(redis_root, tmp_path):
    port = free_port()
    server = subprocess.Popen(
        [
            *host_argv(redis_root, "usr/bin/redis-server"),
            *("--bind", "127.0.0.1", "--port", str(port), "--dir", str(tmp_path)),
            *("--requirepass", "s3cret", "--save", ""),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), 1).close()
                break
            except OSError:
                time.sleep(0.2)
        cli = [*host_argv(redis_root, "usr/bin/redis-cli"), "-h", "127.0.0.1", "-p", str(port)]

        def run(*args: str) -> str:
            return subprocess.run([*cli, *args], capture_output=True, text=True, timeout=30).stdout.strip()

        assert run("--no-auth-warning", "-a", "s3cret", "SET", "k", "v1") == "OK"
        assert run("--no-auth-warning", "-a", "s3cret", "GET", "k") == "v1"
        assert run("GET", "k").startswith("NOAUTH"), "the password is really required"
    finally:
        server.terminate()
        server.wait(10)


class Recorder:
    """The API calls kubeadm's addon phase makes, answered like a fresh apiserver."""

    def __init__(self) -> None:
        self.objects: list[dict[str, Any]] = []

    def request(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        assert method == "POST", (method, path)
        self.objects.append(body or {})
        return body or {}


def test_kube_proxy_daemonset_lands_on_a_tainted_master():
    rec = Recorder()
    fake_kubeadm.addons(rec, fake_kubeadm.Cluster(version="v1.35.0"), set())  # type: ignore[arg-type]
    [ds] = [o for o in rec.objects if o.get("kind") == "DaemonSet"]
    spec = ds["spec"]["template"]["spec"]
    master = {
        "metadata": {"name": "m1", "labels": {"kubernetes.io/os": "linux"}},
        "spec": {"taints": [{"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}]},
    }
    assert fake_scheduler.taints_tolerated(master, spec["tolerations"], ("NoSchedule", "NoExecute"))[0]
    assert fake_scheduler.node_selector_ok(spec, master)
    assert spec["hostNetwork"] is True
    windows = {"metadata": {"name": "w", "labels": {"kubernetes.io/os": "windows"}}, "spec": {}}
    assert not fake_scheduler.node_selector_ok(spec, windows)


def test_the_sentence_parser_reads_what_sealkit_prints():
    result = {
        "name": "redis",
        "action": "install",
        "endpoints": ["10.213.0.2:30079", "10.213.0.3:30079"],
        "credentials": {"password": "Zq3xY"},
    }
    m = SENTENCE.search(sentence(result))
    assert m and (m["name"], m["endpoint"], m["password"]) == ("redis", "10.213.0.2:30079", "Zq3xY")
    assert SENTENCE.search(sentence({**result, "endpoints": result["endpoints"][:1]}))["password"] == "Zq3xY"


def test_on_terminal_is_a_terminal_and_strips_its_controls(tmp_path):
    code = (
        "import sys; print(sys.stdout.isatty(), sys.stderr.isatty()); print('\\x1b[1mbold\\x1b[0m x\\rdone')"
    )
    rc, raw = on_terminal([sys.executable, "-c", code], dict(os.environ), tmp_path, 30)
    assert rc == 0
    assert strip_terminal(raw).splitlines()[:2] == ["True True", "done"]


def test_client_tool_runs_from_the_unpacked_image(redis_root):
    out = subprocess.run([*tool_argv(redis_root, "redis-cli"), "--version"], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.startswith("redis-cli 7."), out


@pytest.mark.skipif(not installed("busybox-static"), reason="busybox-static is not installed")
def test_merged_usr_aliases_of_the_machine_are_directories_in_the_image(tmp_path):
    """`dpkg -L busybox-static` lists /bin, a symlink to usr/bin on a merged-/usr machine: an image
    that carried it as a link AND as a directory could not be unpacked (and is not what a rootfs is)."""
    spec = web_image()
    raw = layer_tar(rootfs_files(spec, tmp_path), spec.links, spec.dirs)
    with tarfile.open(fileobj=io.BytesIO(raw)) as tar:
        bins = [m for m in tar.getmembers() if m.name == "bin"]
    assert [m.isdir() for m in bins] == [True], [(m.name, m.type, m.linkname) for m in bins]
