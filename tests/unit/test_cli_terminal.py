"""The real CLI on real lab hosts: on a pseudo-terminal `run` draws a live per-host view; the same command
on a pipe, and `reset`, print plain lines without a single control character (a k3s cluster of contract
fakes, 1 master and 1 worker)."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest

from tests.e2e.driver import ROOT

pytestmark = pytest.mark.lab

#: ANSI escape sequences (colour, cursor movement) and other C0 controls but tab and newline
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def _version() -> str:
    """The oldest k3s the plugin supports: the test image stays inside its range when that moves."""
    from sealkit_k3s.plugin import OLDEST_VERSION

    major, minor, _ = OLDEST_VERSION.lstrip("v").split(".")
    return f"v{major}.{minor}.1"


def _in_pty(argv: list[str], env: dict[str, str], timeout: float = 600) -> tuple[int, str]:
    """Run ``argv`` with stdin/stdout/stderr on a 120x40 pseudo-terminal; (exit code, all it drew)."""
    pid, fd = pty.fork()
    if pid == 0:  # the child: its terminal is the pty
        os.chdir(ROOT)
        os.execve(argv[0], argv, env)
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    chunks: list[bytes] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 5)
        if not ready:
            continue
        try:
            data = os.read(fd, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    else:
        os.kill(pid, 9)
        raise AssertionError(f"{argv} did not finish in {timeout} s")
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    return os.waitstatus_to_exitcode(status), b"".join(chunks).decode("utf-8", "replace")


def test_run_shows_each_host_live_on_a_terminal_and_plain_lines_on_a_pipe(fresh_lab, tmp_path: Path):
    lab = fresh_lab(2, systemd=True)
    master, worker = lab.hosts
    env = {**os.environ, "SEALKIT_HOME": str(tmp_path / "home"), "TERM": "xterm-256color"}
    env.pop("NO_COLOR", None)
    ref = f"tty/k3s:{_version()}"
    build = [sys.executable, "-m", "tests.e2e.images", "build", "--runtime", "k3s"]
    subprocess.run(
        [*build, "--version", _version(), "--tag", ref],
        env=env,
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    sk = [sys.executable, "-m", "sealkit", "--cluster", "tty"]
    run = [*sk, "--runtime", "k3s", "run", ref, "--masters", master.ip, "--nodes", worker.ip]
    run += ["-i", str(master.root_key)]

    code, screen = _in_pty(run, env)
    assert code == 0, screen[-3000:]
    assert ANSI.search(screen), "no live view: nothing was redrawn"
    text = ANSI.sub("", screen).replace("\r", "")
    # one row per host, naming the step it is on (the view's last frame shows the last step of each)
    assert re.search(rf"{re.escape(master.ip)}\s+init\s+done", text), text[-3000:]
    assert re.search(rf"{re.escape(worker.ip)}\s+join-node\s+(running|done)", text), text[-3000:]
    assert re.search(r"\d+\.\d (KiB|MiB)", text), "no byte counts with units"
    assert "all 10 phases done" in text or "phases done in" in text
    assert "cluster tty is ready" in text

    # the same command on a pipe: plain text only (a re-run: every host already matches)
    again = subprocess.run(run, env=env, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr
    assert again.stdout.startswith("cluster tty is ready") and "nothing to change" in again.stdout
    assert not CONTROL.search(again.stderr + again.stdout), repr(again.stderr[:2000])

    # a verb with a per-host phase on a pipe: one plain line names the phase and its hosts
    reset = subprocess.run([*sk, "reset", "--force"], env=env, cwd=ROOT, capture_output=True, text=True)
    assert reset.returncode == 0, reset.stderr
    assert f"phase reset: 2 step(s) on {master.ip}, {worker.ip}" in reset.stderr
    assert reset.stdout.startswith("cluster tty is gone: cleaned 2 hosts")
    assert not CONTROL.search(reset.stderr + reset.stdout), repr(reset.stderr)
