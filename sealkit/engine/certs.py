"""The certs phase and ``sealkit cert``: the runtime says what it needs, the PKI signs, hosts get files.

The CAs live on the controller (cluster state, 0600) and are never regenerated; a host whose CA differs
from the controller's is refused, because overwriting it would break that host's cluster.
"""

from __future__ import annotations

import logging
import shlex
import ssl
from dataclasses import replace
from typing import Any

from cryptography import x509

from sealkit.context import ClusterContext, Endpoint, HostRef
from sealkit.engine.session import Options, open_context, select_runtime
from sealkit.errors import StepFailed, UsageError
from sealkit.pki import crypto
from sealkit.pki.check import inspect_cert, same_ca
from sealkit.pki.model import FileSpec, Layout
from sealkit.state import ClusterState

log = logging.getLogger("sealkit.certs")


def host_layout(ctx: ClusterContext, host: HostRef) -> Layout | None:
    """The runtime's layout for ``host`` (None: the runtime places no certificates there)."""
    return ctx.pm.hook.sealkit_cert_specs(ctx=ctx, host=host)


def render(ctx: ClusterContext, layout: Layout | None) -> list[FileSpec]:
    """The files of a host's layout, signed with the cluster's CAs and validity."""
    if layout is None:
        return []
    certs = ctx.cluster.certs
    return ctx.pki.render(layout, validity_days=certs.validity_days, ca_validity_days=certs.ca_validity_days)


def install_host_certs(ctx: ClusterContext, ip: str) -> None:
    """Certs phase for one host: refuse a foreign CA, then put every file (content-addressed)."""
    host = ctx.hosts[ip]
    layout = host_layout(ctx, host)
    files = render(ctx, layout)
    if layout is None or not files:
        return
    _refuse_foreign_ca(ctx, host, layout)
    ctx.pm.hook.sealkit_install_certs(ctx=ctx, host=host, files=files)


def _refuse_foreign_ca(ctx: ClusterContext, host: HostRef, layout: Layout) -> None:
    """Every CA the host already has must be the controller's (read in one round trip)."""
    paths = {ca.cert_path: ca.name for ca in layout.cas if ca.cert_path}
    for path, remote in _read_files(host, list(paths)):
        if remote and remote.strip():
            same_ca(ctx.pki.get_ca(paths[path]).cert_pem, remote, host=host.ip, path=path)


def min_days_left(ctx: ClusterContext, ip: str) -> int | None:
    """Fewest days left among the certificates the controller issued for ``ip`` and the leaves the
    runtime minted there (read from the host in one round trip) — the status column."""
    host = ctx.hosts.get(ip)
    if host is None:
        return None
    layout = host_layout(ctx, host)
    files = [f for f in render(ctx, layout) if f.path.endswith((".crt", ".pem"))]
    days = [
        inspect_cert(f.content, where=f.path).days_left for f in files if b"BEGIN CERTIFICATE" in f.content
    ]
    if layout is not None and layout.minted:
        days += _minted_days_left(host, layout.minted)
    return min(days) if days else None


def _minted_days_left(host: HostRef, paths: tuple[str, ...]) -> list[int]:
    """Days left of every certificate in the files the runtime minted (files not there yet: skipped)."""
    days: list[int] = []
    for path, data in _read_files(host, list(paths)):
        if data is None or b"-----BEGIN CERTIFICATE-----" not in data:
            continue
        try:
            days += [crypto.days_left(c) for c in x509.load_pem_x509_certificates(data)]
        except ValueError as err:
            raise StepFailed(
                f"{path} does not parse as certificates: {err}",
                host=host.ip,
                step="status: certificates",
                hint="`sealkit cert renew` has the runtime sign it anew",
            ) from err
    return days


# ------------------------------------------------------------------------------------ cert verbs
def _open(options: Options):
    state = ClusterState(options.cluster)
    if not state.exists():
        raise UsageError(f"no cluster named {options.cluster!r}")
    saved = state.load_clusterfile()
    runtime = select_runtime(options, saved, {})
    return state, saved, runtime


def check(options: Options) -> list[dict[str, Any]]:
    """Read every certificate the runtime placed or minted, from the hosts themselves (one round trip
    per host, hosts in parallel), and report its expiry."""
    from sealkit.engine.ops import _connect
    from sealkit.engine.runner import for_each_host

    state, saved, runtime = _open(options)
    with open_context(options, saved, state, runtime=runtime) as ctx:
        _connect(ctx, saved.hosts, tolerate=True)

        def read(host: HostRef) -> list[dict[str, Any]]:
            layout = host_layout(ctx, host)
            if layout is None:
                return []
            paths = [c.cert_path for c in layout.certs] + [c.cert_path for c in layout.cas if c.cert_path]
            return [_row(host.ip, path, pem) for path, pem in _read_files(host, [*paths, *layout.minted])]

        rows: list[dict[str, Any]] = []
        for found in for_each_host(ctx, list(ctx.hosts.values()), read).values():
            if isinstance(found, BaseException):
                raise found
            rows += found
        # what clients are actually served, whoever signed it (k3s's listener keeps its cert in its datastore)
        rows += [served_row(Endpoint(m.ip, ctx.runtime.apiserver_port)) for m in ctx.masters]
    return rows


def served_row(endpoint: Endpoint, timeout: float = 5.0) -> dict[str, Any]:
    """The certificate the apiserver presents at ``endpoint``, fetched by the controller."""
    where = f"{endpoint.url()} (served)"
    try:
        pem = ssl.get_server_certificate((endpoint.host, endpoint.port), timeout=timeout)
    except OSError as err:  # ssl.SSLError included
        log.info("%s: could not fetch the served certificate: %s", endpoint.host, err)
        row = _row(endpoint.host, where, None)
        row["subject"] = "NOT REACHABLE from the controller"
        return row
    return _row(endpoint.host, where, pem.encode())


_FILE, _MISSING = "@@sealkit-file ", "@@sealkit-missing "


def _read_files(host: HostRef, paths: list[str]) -> list[tuple[str, bytes | None]]:
    """``(path, content or None when missing)`` for every path, sorted, in one round trip."""
    paths = sorted(set(paths))
    script = "; ".join(
        f"if [ -r {shlex.quote(p)} ]; then echo {shlex.quote(_FILE + p)}; cat -- {shlex.quote(p)}; echo; "
        f"else echo {shlex.quote(_MISSING + p)}; fi"
        for p in paths
    )
    out: dict[str, list[str] | None] = {}
    current: list[str] | None = None
    for line in host.conn.run(script, timeout=60).stdout.splitlines():
        if line.startswith(_FILE):
            current = out[line[len(_FILE) :]] = []
        elif line.startswith(_MISSING):
            out[line[len(_MISSING) :]] = current = None
        elif current is not None:
            current.append(line)
    return [(p, None if out.get(p) is None else "\n".join(out[p] or []).encode()) for p in paths]


def _row(ip: str, path: str, pem: bytes | None) -> dict[str, Any]:
    if pem is None:
        return {
            "host": ip,
            "file": path,
            "subject": "MISSING",
            "not_after": "-",
            "days_left": None,
            "sans": [],
        }
    info = inspect_cert(pem, where=f"{ip}:{path}")
    return {
        "host": ip,
        "file": path,
        "subject": info.subject,
        "not_after": info.not_after.isoformat(),
        "days_left": info.days_left,
        "sans": [*info.dns_names, *info.ip_addresses],
    }


def renew(options: Options, *, new_keys: bool) -> dict[str, Any]:
    """Re-sign leaves (same or new keys), put them on every host, restart masters one at a time."""
    from sealkit.engine.ops import _connect

    state, saved, runtime = _open(options)
    with state.lock(), open_context(options, saved, state, runtime=runtime) as ctx:
        _connect(ctx, saved.hosts, tolerate=False)
        layouts = [lay for h in ctx.hosts.values() if (lay := host_layout(ctx, h)) is not None]
        renewed = ctx.pki.renew(layouts, new_keys=new_keys, validity_days=saved.certs.validity_days)
        minted = _distribute_and_restart(ctx, renew_minted=True)
        return {"renewed": renewed, "new_keys": new_keys, "renewed_by_runtime": minted}


def add_alt_names(options: Options, names: list[str]) -> dict[str, Any]:
    """Add SANs to the apiserver certificates of a live cluster (saved in the Clusterfile)."""
    from sealkit.engine.ops import _connect

    state, saved, runtime = _open(options)
    extra = [*saved.certs.extra_sans, *[n for n in names if n not in saved.certs.extra_sans]]
    updated = replace(saved, certs=replace(saved.certs, extra_sans=extra))
    with state.lock(), open_context(options, updated, state, runtime=runtime) as ctx:
        _connect(ctx, updated.hosts, tolerate=False)
        _distribute_and_restart(ctx)
        state.save_clusterfile(updated)
        return {"extra_sans": extra}


def _distribute_and_restart(ctx: ClusterContext, *, renew_minted: bool = False) -> dict[str, list[str]]:
    """Write changed files and runtime cert config on every host; then, masters first and one at a time,
    let the runtime renew the leaves it mints (``renew_minted``) or restart the hosts that changed.
    Returns the minted leaves the runtime renewed, per host."""
    changed: set[str] = set()
    minted: dict[str, tuple[str, ...]] = {}
    for host in ctx.hosts.values():
        layout = host_layout(ctx, host)
        if layout is not None and layout.minted and renew_minted:
            minted[host.ip] = layout.minted
        sent = [host.conn.put(f.content, f.path, mode=f.mode) for f in render(ctx, layout)]
        rewritten = ctx.pm.hook.sealkit_update_cert_config(ctx=ctx, host=host)
        if any(sent) or any(rewritten):
            changed.add(host.ip)
    renewed: dict[str, list[str]] = {}
    for host in sorted(ctx.hosts.values(), key=lambda h: (not h.is_master, h.ip)):
        if host.ip in minted and ctx.pm.hook.sealkit_renew_minted_certs(ctx=ctx, host=host):
            log.info("%s: the runtime renewed the certificates it mints", host.ip)
            renewed[host.ip] = list(minted[host.ip])
        elif host.ip in changed:
            log.info("restarting components on %s for new certificates", host.ip)
            ctx.pm.hook.sealkit_restart_after_certs(ctx=ctx, host=host)
    return renewed
