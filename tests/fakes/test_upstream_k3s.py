"""k3s fidelity: what the fake does with the air-gap archives under <data-dir>/agent/images."""

from __future__ import annotations

from pathlib import Path

from tests.fakes import fake_k3s


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
