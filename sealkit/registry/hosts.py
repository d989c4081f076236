"""Every host resolves the registry's stable name and trusts the cluster CA that signed its
certificate.

``/etc/hosts`` gets one marked block (``# sealkit begin`` … ``# sealkit end``) that sealkit owns: it
is replaced as a whole, left untouched when it already says the same thing, and removed on reset,
while every other line of the file stays byte-for-byte as the admin wrote it. The new file is put
content-addressed (temp file, verified, renamed into place), so resolvers never read a half-written
file and a re-run sends nothing. Where ``/etc/hosts`` is a bind mount (containers) the rename fails
loudly: such hosts need the name resolved another way.

The CA is installed as one file (:data:`sealkit.registry.REGISTRY_CA_PATH`) that the mirror config
references (containerd ``ca =``, k3s ``ca_file``). It is deliberately *not* added to the system-wide
trust store: the runtime needs to trust the registry, not every TLS client on the host the cluster
CA.
"""

from __future__ import annotations

import ipaddress
import re
import shlex
from collections.abc import Iterable
from typing import TYPE_CHECKING

from sealkit.errors import PluginError, StepFailed
from sealkit.pki.model import MODE_PUBLIC
from sealkit.registry import REGISTRY_CA_PATH
from sealkit.registry.mirrors import CERTS_D, HEADER, K0S_DROPIN_PATH, K3S_REGISTRIES_PATH

if TYPE_CHECKING:
    from sealkit.context import HostRef

BEGIN = "# sealkit begin"
END = "# sealkit end"
HOSTS_FILE = "/etc/hosts"
_NAME_RE = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$")


def render_block(entries: Iterable[tuple[str, str]]) -> str:
    """The marked block for ``(ip, name)`` pairs, in the given order (one line per pair)."""
    lines = [BEGIN]
    for ip, name in entries:
        try:
            addr = str(ipaddress.ip_address(ip))
        except ValueError:
            raise PluginError(f"/etc/hosts entry: {ip!r} is not an IP address") from None
        host = name.lower()
        if not _NAME_RE.match(host):
            raise PluginError(f"/etc/hosts entry: {name!r} is not a host name")
        lines.append(f"{addr} {host}")
    lines.append(END)
    return "\n".join(lines) + "\n"


def _split(text: str) -> tuple[list[str], list[str] | None, list[str]]:
    """``(before, block_lines or None, after)``; a block without its end marker is an error."""
    lines = text.splitlines(keepends=True)
    starts = [i for i, ln in enumerate(lines) if ln.rstrip("\r\n").strip() == BEGIN]
    if not starts:
        return lines, None, []
    if len(starts) > 1:
        raise PluginError(
            f"{HOSTS_FILE} holds {len(starts)} '{BEGIN}' markers",
            hint=f"keep one block (or none) between '{BEGIN}' and '{END}' lines, then re-run",
        )
    start = starts[0]
    for j in range(start + 1, len(lines)):
        if lines[j].rstrip("\r\n").strip() == END:
            return lines[:start], lines[start : j + 1], lines[j + 1 :]
    raise PluginError(
        f"{HOSTS_FILE} has '{BEGIN}' without '{END}'",
        hint=f"add the '{END}' line after sealkit's entries (or delete the block), then re-run",
    )


def apply_block(text: str, block: str) -> str:
    """``text`` with sealkit's block replaced by ``block`` (appended when there is none)."""
    before, current, after = _split(text)
    if current is not None:
        return "".join(before) + block + "".join(after)
    head = "".join(before)
    if head and not head.endswith("\n"):
        head += "\n"
    return head + block


def remove_block(text: str) -> str:
    """``text`` without sealkit's block (unchanged when there is none)."""
    before, current, after = _split(text)
    if current is None:
        return text
    return "".join(before) + "".join(after)


# ---------------------------------------------------------------------------------------- on host
def _read_hosts(host: HostRef) -> str:
    res = host.conn.run(f"cat {HOSTS_FILE}", check=False)
    if res.rc != 0:
        raise StepFailed(
            f"cannot read {HOSTS_FILE}: {res.stderr.strip()}",
            host=host.ip,
            step="registry-hosts",
            hint=f"check that {HOSTS_FILE} exists and is readable",
        )
    return res.stdout


def _write(host: HostRef, text: str) -> bool:
    """Replace /etc/hosts content-addressed: nothing is sent when the host has these exact bytes."""
    return bool(host.conn.put(text.encode(), HOSTS_FILE, mode=MODE_PUBLIC))


def ensure_hosts_entry(host: HostRef, entries: Iterable[tuple[str, str]]) -> bool:
    """Make sealkit's block in the host's /etc/hosts say ``entries``; True when the file changed."""
    text = _read_hosts(host)
    new = apply_block(text, render_block(entries))
    if new == text:
        return False
    return _write(host, new)


def remove_hosts_entry(host: HostRef) -> bool:
    """Drop sealkit's block from the host's /etc/hosts; True when the file changed."""
    text = _read_hosts(host)
    new = remove_block(text)
    if new == text:
        return False
    return _write(host, new)


def install_ca(host: HostRef, ca_pem: bytes, path: str = REGISTRY_CA_PATH) -> bool:
    """Put the cluster CA where the mirror config points (content-addressed); True when written."""
    if b"BEGIN CERTIFICATE" not in ca_pem:
        raise PluginError("registry CA is not a PEM certificate", step="registry-hosts")
    return bool(host.conn.put(ca_pem, path, mode=MODE_PUBLIC))


def remove_ca(host: HostRef, path: str = REGISTRY_CA_PATH) -> None:
    res = host.conn.run(f"rm -f {shlex.quote(path)}", check=False)
    if res.rc != 0:
        raise StepFailed(
            f"cannot remove {path}: {res.stderr.strip()}",
            host=host.ip,
            step="registry-reset",
            hint=f"remove {path} by hand",
        )


def remove_mirror_config(host: HostRef, certs_dir: str = CERTS_D) -> None:
    """Delete the mirror files sealkit rendered (for any runtime): those whose first line is sealkit's
    marker. Files an admin wrote are left alone, as are namespace dirs that still hold other files."""
    marker = shlex.quote(HEADER.strip())
    d = shlex.quote(certs_dir.rstrip("/"))
    cmd = (
        f"for f in {d}/*/hosts.toml {K3S_REGISTRIES_PATH} {K0S_DROPIN_PATH}; do "
        '[ -f "$f" ] || continue; '
        f'if [ "$(head -n 1 "$f")" = {marker} ]; then rm -f "$f" || exit 1; fi; '
        "done; "
        f"for n in {d}/*/; do "
        '[ -d "$n" ] || continue; '
        'if [ -z "$(ls -A "$n")" ]; then rmdir "$n" || exit 1; fi; '
        "done"
    )
    res = host.conn.run(cmd, check=False)
    if res.rc != 0:
        raise StepFailed(
            f"cannot remove sealkit's mirror config: {res.stderr.strip()}",
            host=host.ip,
            step="registry-reset",
            hint=f"delete the files under {certs_dir} that start with {HEADER.strip()!r} by hand",
        )
