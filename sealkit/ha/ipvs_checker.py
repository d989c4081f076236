"""lvscare-style health checker for an IPVS virtual service: only healthy apiservers stay in it.

Runs ON the host (copied there by sealkit, started by ``sealkit-ipvs.service``), so it imports
nothing but the standard library and needs python3 >= 3.7 and ``ipvsadm``. Every ``interval`` it
GETs ``/healthz`` on each backend over TLS (not verified: a liveness probe, see
:mod:`sealkit.ha.haproxy`), counts consecutive results (``fall``/``rise`` like haproxy) and
reconciles the kernel table with ``ipvsadm``: healthy backends present, the others (and stale ones
from an older config, see sealer #2337) absent. If every backend looks down the checker keeps them
all (fail-open): a broken checker must not take the whole cluster away.

Honesty note: this machine has no ``ip_vs`` module, so the reconciling logic is unit-tested against
a fake ``ipvsadm`` and real HTTPS servers; it has not run against a kernel IPVS table here.

Usage: ``python3 ipvs_checker.py CONFIG.json [--once]``; CONFIG holds vip, port, backends
("ip:port", IPv6 as "[ip]:port"), scheduler, path, interval, timeout, fall, rise and state_file
(where the backends' UP/DOWN states are published for ``sealkit status``).
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import ssl
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # annotations only: the host's python3 may be older than 3.9
    from collections.abc import Callable

    Runner = Callable[[list[str]], subprocess.CompletedProcess[str]]
    Prober = Callable[[str], bool]


def service(vip: str, port: int) -> str:
    """The virtual service address as ipvsadm writes it."""
    return f"[{vip}]:{port}" if ":" in vip else f"{vip}:{port}"


def rules(vip: str, port: int, backends: list[str], scheduler: str = "rr") -> list[str]:
    """The ``ipvsadm-restore`` lines for the virtual service and every backend (NAT/masquerade)."""
    svc = service(vip, port)
    return [f"-A -t {svc} -s {scheduler}"] + [f"-a -t {svc} -r {b} -m" for b in backends]


def parse_real_servers(listing: str) -> set[str]:
    """Real servers from ``ipvsadm -L -n -t SVC`` output (lines ``  -> addr:port Masq 1 0 0``)."""
    out = set()
    for line in listing.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0] == "->" and parts[1] != "RemoteAddress:Port":
            out.add(parts[1])
    return out


def https_probe(backend: str, path: str, timeout: float) -> bool:
    """True when ``GET https://backend/path`` answers 200 within ``timeout``."""
    host, _, port = backend.rpartition(":")
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    conn = http.client.HTTPSConnection(host.strip("[]"), int(port), timeout=timeout, context=ctx)
    try:
        conn.request("GET", path)
        return conn.getresponse().status == 200
    except (OSError, http.client.HTTPException):
        return False
    finally:
        conn.close()


def _run(argv: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, check=False)


class Checker:
    """fall/rise counting per backend plus the reconcile step; I/O is injected so tests drive it."""

    def __init__(self, cfg: dict, run: Runner = _run, probe: Prober | None = None) -> None:
        self.vip = str(cfg["vip"])
        self.port = int(cfg["port"])
        self.svc = service(self.vip, self.port)
        self.backends = sorted(set(cfg["backends"]))
        self.scheduler = str(cfg.get("scheduler", "rr"))
        self.fall = int(cfg.get("fall", 2))
        self.rise = int(cfg.get("rise", 2))
        self.interval = float(cfg.get("interval", 1.0))
        timeout = float(cfg.get("timeout", 1.0))
        path = str(cfg.get("path", "/healthz"))
        self.run = run
        self.probe = probe or (lambda b: https_probe(b, path, timeout))
        # start optimistic, like haproxy: rules exist at once at boot, checks then prune
        self.healthy = {b: True for b in self.backends}
        self.streak = {b: 0 for b in self.backends}
        self.state_file = cfg.get("state_file")

    def observe(self, backend: str, ok: bool) -> bool:
        """Record one check result; returns True when the backend's state flipped."""
        if ok == self.healthy[backend]:
            self.streak[backend] = 0
            return False
        self.streak[backend] += 1
        if self.streak[backend] >= (self.rise if ok else self.fall):
            self.healthy[backend] = ok
            self.streak[backend] = 0
            return True
        return False

    def desired(self) -> set[str]:
        """Healthy backends, or all of them when none is (fail-open)."""
        up = {b for b, ok in self.healthy.items() if ok}
        return up or set(self.backends)

    def reconcile(self, current: set[str]) -> list[list[str]]:
        """ipvsadm argvs that turn ``current`` real servers into :meth:`desired`."""
        want = self.desired()
        cmds = [["ipvsadm", "-a", "-t", self.svc, "-r", b, "-m"] for b in sorted(want - current)]
        cmds += [["ipvsadm", "-d", "-t", self.svc, "-r", b] for b in sorted(current - want)]
        return cmds

    def state(self) -> dict[str, str]:
        """``{backend: "UP"|"DOWN"}`` as the checks see it (brackets of IPv6 removed)."""
        return {b.replace("[", "").replace("]", ""): "UP" if ok else "DOWN" for b, ok in self.healthy.items()}

    def write_state(self) -> None:
        """Publish :meth:`state` for ``sealkit status`` (atomically: written aside, renamed)."""
        if not self.state_file:
            return
        tmp = f"{self.state_file}.tmp"
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(self.state(), fh, sort_keys=True)
        os.replace(tmp, self.state_file)

    def ensure_service(self) -> None:
        """VIP on lo and the virtual service present (idempotent)."""
        bits = "128" if ":" in self.vip else "32"
        self._must(["ip", "addr", "replace", f"{self.vip}/{bits}", "dev", "lo"])
        if self.run(["ipvsadm", "-L", "-n", "-t", self.svc]).returncode != 0:
            self._must(["ipvsadm", "-A", "-t", self.svc, "-s", self.scheduler])

    def tick(self, pool: ThreadPoolExecutor) -> list[list[str]]:
        """One round: probe every backend concurrently, then reconcile the kernel table."""
        flipped = False
        results = pool.map(self.probe, self.backends)
        for backend, ok in zip(self.backends, results):  # noqa: B905 (runs on python < 3.10)
            if self.observe(backend, ok):
                flipped = True
                log(f"backend {backend} is now {'UP' if ok else 'DOWN'}")
        if flipped:
            self.write_state()
        listing = self._must(["ipvsadm", "-L", "-n", "-t", self.svc])
        cmds = self.reconcile(parse_real_servers(listing))
        for argv in cmds:
            self._must(argv)
        return cmds

    def _must(self, argv: list[str]) -> str:
        res = self.run(argv)
        if res.returncode != 0:
            err = res.stderr.strip()
            raise RuntimeError(f"{' '.join(argv)} failed (rc {res.returncode}): {err}")
        return res.stdout


def log(msg: str) -> None:
    sys.stderr.write(f"sealkit-ipvs: {msg}\n")
    sys.stderr.flush()


def main(argv: list[str]) -> int:
    if not argv or argv[0].startswith("-"):
        log("usage: ipvs_checker.py CONFIG.json [--once]")
        return 2
    with open(argv[0], encoding="utf-8") as fh:
        checker = Checker(json.load(fh))
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    # rules stay in the kernel when the checker stops, so traffic flows while systemd restarts it
    checker.ensure_service()
    checker.write_state()
    with ThreadPoolExecutor(max_workers=max(1, len(checker.backends))) as pool:
        while True:
            started = time.monotonic()
            checker.tick(pool)
            left = checker.interval - (time.monotonic() - started)
            if "--once" in argv or stop.wait(max(0.0, left)):
                return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
