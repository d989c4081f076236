"""What the apps lab tests drive besides sealkit: the redis test image's own redis-cli on the controller,
a pseudo-terminal to see `sealkit run` as a person does, and the one sentence it ends with."""

from __future__ import annotations

import fcntl
import os
import re
import select
import struct
import subprocess
import termios
import time
from dataclasses import dataclass
from pathlib import Path

from tests.testimages.build import host_argv

#: colours, cursor moves and the other terminal controls rich writes around the text
_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07]*\x07|\x1b[()][A-Z0-9]")
#: the sentence of a freshly installed app with one password credential (sealkit.apps.model.sentence)
SENTENCE = re.compile(
    r"(?P<name>\S+) is ready: connect to (?P<endpoint>\S+:\d+) with password (?P<password>\S+?)[ .]"
)


@dataclass(frozen=True)
class RedisCli:
    """redis-cli from the unpacked redis test image, run with the image's own loader and libraries."""

    root: Path

    def __call__(self, endpoint: str, password: str, *args: str) -> str:
        host, port = endpoint.rsplit(":", 1)
        argv = [*host_argv(self.root, "usr/bin/redis-cli"), "-h", host, "-p", port]
        if password:
            argv += ["--no-auth-warning", "-a", password]
        proc = subprocess.run([*argv, *args], capture_output=True, text=True, timeout=30, check=False)
        return (proc.stdout + proc.stderr).strip()

    def write_and_read(self, endpoint: str, password: str, key: str, value: str) -> str:
        """SET then GET through ``endpoint``; '' while the address does not answer (a NodePort
        forwarder picks a new Service up within its next sync, the sentence may come first)."""
        if self(endpoint, password, "SET", key, value) != "OK":
            return ""
        got = self(endpoint, password, "GET", key)
        return "" if got.startswith("Could not connect") else got


def strip_terminal(raw: bytes) -> str:
    """What the terminal shows at the end: controls removed, each line's last carriage-return rewrite."""
    text = _ANSI.sub("", raw.decode(errors="replace")).replace("\r\n", "\n")
    return "\n".join(line.split("\r")[-1] for line in text.split("\n"))


def on_terminal(
    argv: list[str], env: dict[str, str], cwd: Path, timeout: float, cols: int = 120
) -> tuple[int, bytes]:
    """Run ``argv`` with stdin/stdout/stderr on a fresh pseudo-terminal; return (exit code, raw bytes)."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, cols, 0, 0))
    try:
        proc = subprocess.Popen(
            argv, stdin=slave, stdout=slave, stderr=slave, env={**env, "TERM": "xterm"}, cwd=cwd
        )
    finally:
        os.close(slave)
    out = bytearray()
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 1)
            if ready:
                try:
                    chunk = os.read(master, 65536)
                except OSError:  # EIO: the terminal's last writer is gone
                    chunk = b""
                if not chunk:
                    break
                out += chunk
            elif proc.poll() is not None:
                break
        else:
            proc.kill()
            raise AssertionError(
                f"{argv[-2:]} on a terminal did not end within {timeout:.0f} s:\n{out[-3000:]!r}"
            )
        return proc.wait(30), bytes(out)
    finally:
        os.close(master)
