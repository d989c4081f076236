"""The lab's network: one bridge namespace, one netns per host, one veth to the controller.

::

    root ns: sklab<k> 10.213.2k.1/24 ──veth── up0 ┐
                                                br0 10.213.2k.254 (dead end, forwarding off)
      host netns sklab-<lab>.h1: eth0 ──veth── p-h1 ┘   (p-jump too)
      jump host: eth1 ──veth── q-jump ┐
                                      br1 10.213.(2k+1).254 ── p-hidden1 ── eth0 of hidden hosts

Nothing routes out of the lab: hosts' default route ends at the bridge namespace, which does not
forward; the controller has an ``unreachable`` route for the inner subnet, so hidden hosts are only
reachable through the jump host (and no packet for them leaves the machine).
All changes go through ``ip -batch`` (one process per namespace) to keep bring-up fast.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass

from tests.lab.model import (
    CONTROLLER_OCTET,
    DEADEND_OCTET,
    LAB_ROUTE_PROTO,
    MAX_LABS,
    PREFIX,
    LabError,
    inner_prefix,
    lab_netns,
    outer_prefix,
    root_veth,
)

ROOT_VETH_RE = re.compile(rf"^{PREFIX}(\d+)$")


@dataclass(frozen=True)
class Nic:
    """One host interface: ``ifname`` inside the host, ``port`` on ``bridge`` in the lab netns."""

    ifname: str
    port: str
    bridge: str
    ip: str


@dataclass(frozen=True)
class NetHost:
    netns: str
    nics: tuple[Nic, ...]
    gateway: str  # dead-end default route
    router_off: bool = False  # the jump host: make sure it does not forward between bridges


def run(argv: Sequence[str], *, input: str | None = None, what: str) -> str:
    res = subprocess.run(list(argv), input=input, capture_output=True, text=True, check=False)
    if res.returncode != 0:
        raise LabError(f"{what}: `{' '.join(argv)}` failed: {res.stderr.strip() or res.stdout.strip()}")
    return res.stdout


def batch(lines: Sequence[str], *, netns: str | None = None, what: str) -> None:
    """Run ``ip`` commands in one process (inside ``netns`` if given)."""
    argv = ["ip"] + (["-n", netns] if netns else []) + ["-batch", "-"]
    run(argv, input="\n".join(lines) + "\n", what=what)


def netns_list() -> list[str]:
    out = run(["ip", "-j", "netns", "list"], what="listing network namespaces")
    return [d["name"] for d in json.loads(out or "[]")]


def netns_ids() -> dict[str, int]:
    out = run(["ip", "-j", "netns", "list"], what="listing network namespaces")
    return {d["name"]: int(d["id"]) for d in json.loads(out or "[]") if "id" in d}


def root_links() -> list[dict[str, object]]:
    return json.loads(run(["ip", "-j", "-d", "link", "show"], what="listing links") or "[]")


def _used_indexes() -> set[int]:
    """Lab indexes whose veth exists or whose subnets already carry addresses on this machine."""
    used = set()
    for link in root_links():
        m = ROOT_VETH_RE.match(str(link.get("ifname", "")))
        if m:
            used.add(int(m.group(1)))
    addrs = json.loads(run(["ip", "-j", "-4", "addr", "show"], what="listing addresses") or "[]")
    routes = json.loads(run(["ip", "-j", "-4", "route", "show"], what="listing routes") or "[]")
    texts = [a.get("local", "") for link in addrs for a in link.get("addr_info", [])]
    texts += [r.get("dst", "") for r in routes]
    for k in range(MAX_LABS):
        if any(t.startswith((outer_prefix(k) + ".", inner_prefix(k) + ".")) for t in texts):
            used.add(k)
    return used


def prepare(lab: str, host_netns: Sequence[str]) -> int:
    """Create the namespaces and the controller's veth; return the lab index k (its subnets)."""
    labns = lab_netns(lab)
    existing = set(netns_list())
    clash = [ns for ns in [labns, *host_netns] if ns in existing]
    if clash:
        raise LabError(
            f"lab {lab!r}: network namespaces {clash} already exist; run "
            f"`python -m tests.lab down --name {lab}` first"
        )
    batch([f"netns add {ns}" for ns in [labns, *host_netns]], what=f"lab {lab}: netns")
    return _attach_controller(lab, labns)


def wire(lab: str, k: int, hosts: Sequence[NetHost], *, inner: bool) -> None:
    """Bridges in the lab namespace, one veth per host interface, addresses and dead-end routes."""
    labns = lab_netns(lab)
    out, inn = outer_prefix(k), inner_prefix(k)
    lines = [
        "link set lo up",
        "link add br0 type bridge stp_state 0 forward_delay 0 mcast_snooping 0",
        "link set br0 addrgenmode none",
        f"addr add {out}.{DEADEND_OCTET}/24 dev br0",
        "link set br0 up",
        "link set up0 master br0 addrgenmode none up",
    ]
    if inner:
        lines += [
            "link add br1 type bridge stp_state 0 forward_delay 0 mcast_snooping 0",
            "link set br1 addrgenmode none",
            f"addr add {inn}.{DEADEND_OCTET}/24 dev br1",
            "link set br1 up",
        ]
    for h in hosts:
        for nic in h.nics:
            lines += [
                f"link add {nic.port} type veth peer name {nic.ifname} netns {h.netns}",
                f"link set {nic.port} master {nic.bridge} addrgenmode none up",
            ]
    batch(lines, netns=labns, what=f"lab {lab}: bridges")
    sysctl(labns, {"net.ipv4.ip_forward": "0", "net.ipv6.conf.all.forwarding": "0"})

    procs = []
    for h in hosts:
        hl = ["link set lo up"]
        for nic in h.nics:
            hl += [
                f"link set {nic.ifname} addrgenmode none",
                f"addr add {nic.ip}/24 dev {nic.ifname}",
                f"link set {nic.ifname} up",
            ]
        hl.append(f"route add default via {h.gateway}")
        p = subprocess.Popen(
            ["ip", "-n", h.netns, "-batch", "-"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        procs.append((h, p, "\n".join(hl) + "\n"))
    errors = []
    for h, p, text in procs:
        _, err = p.communicate(text)
        if p.returncode != 0:
            errors.append(f"{h.netns}: {err.strip()}")
    if errors:
        raise LabError(f"lab {lab}: configuring host interfaces failed: {'; '.join(errors)}")
    for h in hosts:
        if h.router_off:
            sysctl(h.netns, {"net.ipv4.ip_forward": "0"})


def _attach_controller(lab: str, labns: str) -> int:
    """Take the first free lab index: creating ``sklab<k>`` is atomic, so racing labs skip on."""
    used = _used_indexes()
    for k in range(MAX_LABS):
        if k in used:
            continue
        veth = root_veth(k)
        res = subprocess.run(
            ["ip", "link", "add", veth, "type", "veth", "peer", "name", "up0", "netns", labns],
            capture_output=True,
            text=True,
            check=False,
        )
        if res.returncode != 0:
            if "exists" in res.stderr:
                continue
            raise LabError(f"lab {lab}: creating the controller veth {veth} failed: {res.stderr}")
        batch(
            [
                f"link set {veth} addrgenmode none",
                f"addr add {outer_prefix(k)}.{CONTROLLER_OCTET}/24 dev {veth}",
                f"link set {veth} up",
                f"route add unreachable {inner_prefix(k)}.0/24 proto {LAB_ROUTE_PROTO}",
            ],
            what=f"lab {lab}: controller veth",
        )
        return k
    raise LabError(f"no free lab subnet in {outer_prefix(0)}.0/16: `python -m tests.lab down --all`")


def sysctl(netns: str, values: dict[str, str]) -> None:
    """Set per-netns sysctls from inside the namespace."""
    args = [f"{k}={v}" for k, v in values.items()]
    run(
        ["nsenter", f"--net=/run/netns/{netns}", "sysctl", "-q", "-w", *args],
        what=f"sysctl in {netns}",
    )


def destroy(lab: str, k: int | None) -> list[str]:
    """Remove the lab's veth, route and namespaces (whatever of them exists); return what went."""
    prefix = f"{PREFIX}-{lab}."
    names = [ns for ns in netns_list() if ns.startswith(prefix)]
    labns_id = netns_ids().get(lab_netns(lab))
    links = root_links()
    # ours: the veth whose peer sits in our lab netns (``k`` alone could name a later lab's veth)
    ours = {
        int(m.group(1))
        for link in links
        if (m := ROOT_VETH_RE.match(str(link.get("ifname", ""))))
        and labns_id is not None
        and link.get("link_netnsid") == labns_id
    }
    existing = {str(link.get("ifname")) for link in links}
    veths = [root_veth(i) for i in sorted(ours)]
    lines = [f"link del {v}" for v in veths] + [f"netns del {ns}" for ns in names]
    if lines:
        batch(lines, what=f"lab {lab}: removing network")
    route_ks = ours | ({k} if k is not None and root_veth(k) not in existing else set())
    routes = []
    for i in sorted(route_ks):
        dst = f"{inner_prefix(i)}.0/24"
        res = subprocess.run(
            ["ip", "route", "del", "unreachable", dst, "proto", str(LAB_ROUTE_PROTO)],
            capture_output=True,
            check=False,
        )
        if res.returncode == 0:  # else absent: the lab never got that far
            routes.append(f"route unreachable {dst}")
    return veths + names + routes


def destroy_all() -> list[str]:
    """Every ``sklab`` namespace, veth and lab route on the machine; return what was removed."""
    names = [ns for ns in netns_list() if ns.startswith(f"{PREFIX}-")]
    veths = [str(lk["ifname"]) for lk in root_links() if ROOT_VETH_RE.match(str(lk.get("ifname", "")))]
    lines = [f"link del {v}" for v in veths] + [f"netns del {ns}" for ns in names]
    if lines:
        batch(lines, what="removing lab networks")
    run(["ip", "route", "flush", "proto", str(LAB_ROUTE_PROTO)], what="removing lab routes")
    return veths + names


def link_set(netns: str, ifname: str, state: str) -> None:
    run(["ip", "-n", netns, "link", "set", ifname, state], what=f"link {ifname} {state} in {netns}")


def parse_rate(rate: str | int) -> int:
    """'1gbit', '100mbit', '512kbit', '1000000' (bit/s) -> bit/s."""
    if isinstance(rate, int):
        return rate
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kmg]?)(bit|bps)?\s*", rate.lower())
    if not m:
        raise LabError(f"rate {rate!r}: write it like tc does, e.g. '1gbit' or '100mbit'")
    mult = {"": 1, "k": 10**3, "m": 10**6, "g": 10**9}[m.group(2)]
    bits = float(m.group(1)) * mult * (8 if m.group(3) == "bps" else 1)
    return int(bits)


def tbf(netns: str | None, ifname: str, rate_bits: int) -> None:
    """Token bucket on one interface's egress; 10 ms worth of burst (min 64 KiB)."""
    burst = max(rate_bits // 8 // 100, 64 * 1024)
    argv = ["tc"] + (["-n", netns] if netns else []) + ["qdisc", "replace", "dev", ifname, "root"]
    argv += ["tbf", "rate", f"{rate_bits}bit", "burst", str(burst), "latency", "100ms"]
    run(argv, what=f"shaping {ifname}")


def untbf(netns: str | None, ifname: str) -> None:
    argv = ["tc"] + (["-n", netns] if netns else []) + ["qdisc", "del", "dev", ifname, "root"]
    res = subprocess.run(argv, capture_output=True, text=True, check=False)
    if res.returncode != 0 and "No such file" not in res.stderr and "Cannot find" not in res.stderr:
        if "Cannot delete qdisc with handle of zero" in res.stderr:
            return  # no root qdisc: nothing was shaped
        raise LabError(f"unshaping {ifname}: {res.stderr.strip()}")
