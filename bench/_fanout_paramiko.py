"""The floor of sealkit's stack: bare paramiko, one thread per host in a window, nothing else.

Run by bench/fanout.py as a fresh process (interpreter start counts as it does for every tool):

    python bench/_fanout_paramiko.py --key K --known-hosts F --workers W [--steps S] IP...
    python bench/_fanout_paramiko.py --key K --known-hosts F --rtt 30 IP   # median exec round trip

Each host: TCP connect, SSH handshake, host key checked against ``--known-hosts`` (strict), one
public-key auth with a key parsed once, ``--steps`` sequential exec channels running ``--cmd``,
close. No ssh config, no agent, no retries, no output handling beyond the exit status, and no
TCP_NODELAY unless ``--nodelay`` (paramiko leaves Nagle on, as sealkit does today).

``--shell``: the steps go to one ``sh`` per host (one exec channel, commands written to its stdin,
each followed by an exit-status marker), so sshd sets up one session per host instead of one per
step. Not what sealkit does today: it shows what per-step session setup costs on the hosts.
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import paramiko


def _connect(
    ip: str, user: str, key: paramiko.PKey, known: paramiko.HostKeys, nodelay: bool = False
) -> paramiko.Transport:
    sock = socket.create_connection((ip, 22), timeout=10)
    if nodelay:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    t = paramiko.Transport(sock)
    t.start_client(timeout=10)
    server_key = t.get_remote_server_key()
    if not known.check(ip, server_key):
        t.close()
        raise RuntimeError(f"{ip}: host key {server_key.get_name()} not in known_hosts")
    t.auth_publickey(user, key)
    return t


def _exec(t: paramiko.Transport, cmd: str) -> int:
    chan = t.open_session(timeout=10)
    try:
        chan.exec_command(cmd)
        return chan.recv_exit_status()
    finally:
        chan.close()


class _Shell:
    """One ``sh`` on an exec channel; :meth:`run` writes a command and reads up to its marker."""

    def __init__(self, t: paramiko.Transport) -> None:
        self.chan = t.open_session(timeout=10)
        self.chan.exec_command("sh")
        self.buf = b""

    def run(self, cmd: str) -> int:
        self.chan.sendall(f"{cmd}\necho __sk_rc=$?\n".encode())
        while b"__sk_rc=" not in self.buf or not self.buf.endswith(b"\n"):
            data = self.chan.recv(65536)
            if not data:
                raise EOFError("shell exited")
            self.buf += data
        _, _, tail = self.buf.rpartition(b"__sk_rc=")
        self.buf = b""
        return int(tail.strip())

    def close(self) -> int:
        self.chan.sendall(b"exit\n")
        self.chan.shutdown_write()
        rc = self.chan.recv_exit_status()
        self.chan.close()
        return rc


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--key", required=True)
    ap.add_argument("--known-hosts", required=True)
    ap.add_argument("--user", default="root")
    ap.add_argument("--workers", type=int, default=32)
    ap.add_argument("--steps", type=int, default=1)
    ap.add_argument("--cmd", default="true")
    ap.add_argument("--shell", action="store_true", help="run the steps in one sh per host")
    ap.add_argument("--nodelay", action="store_true", help="set TCP_NODELAY (paramiko does not)")
    ap.add_argument("--rtt", type=int, default=0, help="measure: median of N execs on one open connection")
    ap.add_argument("ips", nargs="+")
    args = ap.parse_args()

    key = paramiko.PKey.from_path(args.key)
    known = paramiko.HostKeys(args.known_hosts)

    if args.rtt:
        t = _connect(args.ips[0], args.user, key, known, args.nodelay)
        times = []
        try:
            shell = _Shell(t) if args.shell else None
            for _ in range(args.rtt):
                t0 = time.perf_counter()
                shell.run(args.cmd) if shell else _exec(t, args.cmd)
                times.append(time.perf_counter() - t0)
        finally:
            t.close()
        print(json.dumps({"rtt_median": statistics.median(times), "rtt_min": min(times)}))
        return 0

    def one(ip: str) -> int:
        t = _connect(ip, args.user, key, known, args.nodelay)
        try:
            rc = 0
            if args.shell:
                shell = _Shell(t)
                for _ in range(args.steps):
                    rc = rc or shell.run(args.cmd)
                return rc or shell.close()
            for _ in range(args.steps):
                rc = rc or _exec(t, args.cmd)
            return rc
        finally:
            t.close()

    failed = []
    with ThreadPoolExecutor(max_workers=min(args.workers, len(args.ips))) as pool:
        for ip, fut in [(ip, pool.submit(one, ip)) for ip in args.ips]:
            try:
                rc = fut.result()
            except Exception as exc:  # noqa: BLE001 - reported per host
                failed.append(f"{ip}: {type(exc).__name__}: {exc}")
                continue
            if rc:
                failed.append(f"{ip}: exit code {rc}")
    for line in failed:
        print(line, file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
