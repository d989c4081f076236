"""``~/.ssh/config`` support (k3sup ignores it): HostName, Port, User, IdentityFile, ProxyJump,
ProxyCommand, HostKeyAlias, ConnectTimeout, ServerAliveInterval.

A target resolves to a *route*: the jump hosts to cross, in order, and the final endpoint.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import paramiko

from sealkit.errors import UsageError
from sealkit.ssh.target import Target

DEFAULT_SSH_CONFIG = "~/.ssh/config"
_MAX_JUMP_DEPTH = 8


@dataclass(frozen=True)
class Endpoint:
    """One resolved SSH hop: where to connect and the config-provided knobs for it."""

    alias: str
    hostname: str
    port: int
    user: str
    identity_files: tuple[str, ...] = ()
    connect_timeout: float | None = None
    keepalive: int | None = None
    host_key_alias: str | None = None
    proxy_command: str | None = None

    @property
    def label(self) -> str:
        """How this hop is named in messages."""
        return self.alias if self.port == 22 else f"{self.alias}:{self.port}"

    @property
    def key(self) -> tuple[str, int, str]:
        """Identity of the hop, for sharing a transport to it."""
        return (self.hostname, self.port, self.user)


def load_ssh_config(
    path: str | os.PathLike[str] | paramiko.SSHConfig | None = None,
) -> paramiko.SSHConfig:
    """Load an ssh config; ``None`` means ``~/.ssh/config`` when it exists (empty config otherwise).

    Pass ``os.devnull`` to ignore the user's config, like ``ssh -F /dev/null``.
    """
    if isinstance(path, paramiko.SSHConfig):
        return path
    explicit = path is not None
    file = Path(path if explicit else DEFAULT_SSH_CONFIG).expanduser()
    if not file.exists():
        if explicit:
            raise UsageError(f"ssh config {file} does not exist", hint="check the --ssh-config path")
        return paramiko.SSHConfig()
    try:
        return paramiko.SSHConfig.from_path(str(file))
    except (OSError, paramiko.ConfigParseError) as e:
        raise UsageError(f"cannot read ssh config {file}: {e}", hint="fix the file's syntax") from e


def _int_option(opts: paramiko.SSHConfigDict, name: str, alias: str) -> int | None:
    value = opts.get(name)
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        raise UsageError(
            f"ssh config: {name} {value!r} for host {alias} is not a number",
            hint="fix the ssh config",
        ) from None


def _endpoint(
    config: paramiko.SSHConfig,
    alias: str,
    *,
    port: int | None,
    user: str | None,
    default_user: str,
) -> tuple[Endpoint, str | None]:
    """Resolve one name through the config; returns the endpoint and its raw ProxyJump value."""
    opts = config.lookup(alias)
    cfg_port = _int_option(opts, "port", alias)
    proxy_command = opts.get("proxycommand")
    if proxy_command and proxy_command.strip().lower() == "none":
        proxy_command = None
    ep = Endpoint(
        alias=alias,
        hostname=opts.get("hostname", alias),
        port=port or cfg_port or 22,
        user=user or opts.get("user") or default_user,
        identity_files=tuple(os.path.expanduser(p) for p in opts.get("identityfile", [])),
        connect_timeout=_int_option(opts, "connecttimeout", alias),
        keepalive=_int_option(opts, "serveraliveinterval", alias),
        host_key_alias=opts.get("hostkeyalias"),
        proxy_command=proxy_command,
    )
    jump = opts.get("proxyjump")
    if jump is not None and jump.strip().lower() == "none":
        jump = None
    return ep, jump


def parse_jump_spec(spec: str) -> tuple[str, str | None, int | None]:
    """Split one ProxyJump hop ``[ssh://][user@]host[:port]`` (IPv6 as ``[addr]:port``)."""
    s = spec.strip()
    if s.startswith("ssh://"):
        s = s[len("ssh://") :]
    user = None
    if "@" in s:
        user, s = s.rsplit("@", 1)
    port: int | None = None
    if s.startswith("["):
        host, _, rest = s[1:].partition("]")
        if rest.startswith(":"):
            port = _port(rest[1:], spec)
    elif s.count(":") == 1:
        host, p = s.split(":")
        port = _port(p, spec)
    else:
        host = s
    if not host:
        raise UsageError(f"invalid ProxyJump hop {spec!r}", hint="use [user@]host[:port]")
    return host, user or None, port


def _port(text: str, spec: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise UsageError(f"invalid port in ProxyJump hop {spec!r}", hint="use [user@]host[:port]")
    return int(text)


def resolve_route(target: Target, config: paramiko.SSHConfig) -> tuple[list[Endpoint], Endpoint]:
    """Resolve ``target`` to ``(jump hosts in order, final endpoint)``.

    As in OpenSSH, the Target's explicit port/user win over the config; the first jump host's own
    ProxyJump is followed (recursively), later hops are reached through the previous one. Jump hosts
    default to the target's user.
    """
    final, jump = _endpoint(
        config,
        target.address,
        port=target.port if target.port != 22 else None,
        user=target.user if target.user != "root" else None,
        default_user=target.user,
    )
    hops = _jump_chain(config, jump, default_user=final.user, depth=0) if jump else []
    return hops, final


def _jump_chain(config: paramiko.SSHConfig, spec: str, *, default_user: str, depth: int) -> list[Endpoint]:
    if depth > _MAX_JUMP_DEPTH:
        raise UsageError(
            f"ProxyJump chain deeper than {_MAX_JUMP_DEPTH} hops (a loop?) at {spec!r}",
            hint="check ProxyJump entries in the ssh config",
        )
    chain: list[Endpoint] = []
    for i, hop_spec in enumerate(spec.split(",")):
        host, user, port = parse_jump_spec(hop_spec)
        ep, own_jump = _endpoint(config, host, port=port, user=user, default_user=default_user)
        if i == 0 and own_jump:
            chain.extend(_jump_chain(config, own_jump, default_user=default_user, depth=depth + 1))
        chain.append(ep)
    return chain
