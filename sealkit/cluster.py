"""The Clusterfile: a typed model of the cluster, its YAML loader, and validation.

Everything here runs on the controller before any host is contacted, so a typo costs a second,
not a half-installed cluster. Two input forms build the same model: a Clusterfile (ours,
``sealkit.io/v1``, or a sealos one, ``apps.sealos.io/v1beta1``, accepted unchanged) and the
``sealkit run`` flags.

Loading (:func:`load_clusterfile`, :func:`cluster_from_flags`) rejects what cannot be represented:
YAML syntax, unknown keys, wrong types, unparsable addresses, malformed ``K=V``. :func:`validate`
then checks the meaning: roles, duplicates, network overlaps, SSH auth sources. Both raise
:class:`~sealkit.errors.ValidationError` naming the field path (``spec.hosts[1].ips[0]``), the bad
value and why; errors from a file also name the file and line.
"""

from __future__ import annotations

import contextlib
import difflib
import ipaddress
import os
import re
import stat
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

import yaml

from sealkit.errors import UsageError, ValidationError

API_VERSION = "sealkit.io/v1"
SEALOS_API_VERSION = "apps.sealos.io/v1beta1"
ACCEPTED_API_VERSIONS = (API_VERSION, SEALOS_API_VERSION)
KIND = "Cluster"

ROLES = ("master", "node", "registry")
#: sealos and kubeadm users say "worker"; the model always says "node"
ROLE_ALIASES = {"worker": "node"}
ARCHES = ("amd64", "arm64")
#: sealos puts the architecture in ``roles``; uname spellings are accepted too
ARCH_ALIASES = {"amd64": "amd64", "x86_64": "amd64", "arm64": "arm64", "aarch64": "arm64"}
HA_STRATEGIES = ("auto", "haproxy", "ipvs", "native")
DEFAULT_KEY_NAMES = ("id_ed25519", "id_rsa", "id_ecdsa")
DEFAULT_NAME = "default"

#: cluster names become directory names on the controller: no slashes, no dot-only names
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")
ENV_KEY_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")
RUNTIME_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")
_DNS_LABEL = r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
DNS_NAME_RE = re.compile(rf"^(\*\.)?{_DNS_LABEL}(\.{_DNS_LABEL})*$")
#: an IP range on the command line or in ``ips`` expands to at most this many hosts (typo guard)
MAX_RANGE = 4096

_REDACTED = "<redacted>"


# ------------------------------------------------------------------------------------------ model


@dataclass
class SSH:
    """How to log in to a host. ``pk=None`` means: ssh-agent, default keys or ssh_config.

    ``sudo_passwd`` defaults to ``passwd`` when the user is not root (set at construction; when you
    ``dataclasses.replace`` the password, pass ``sudo_passwd=None`` too so it is derived again).
    """

    user: str = "root"
    passwd: str | None = field(default=None, repr=False)
    pk: str | None = None
    pk_passwd: str | None = field(default=None, repr=False)
    #: sealos ``pkData``: the private key itself, inline
    pk_data: str | None = field(default=None, repr=False)
    port: int = 22
    sudo_passwd: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.sudo_passwd is None and self.user != "root":
            self.sudo_passwd = self.passwd

    @property
    def key_path(self) -> Path | None:
        """The key file with ``~`` expanded, or None when no key file is configured."""
        return Path(os.path.expanduser(self.pk)) if self.pk else None

    @property
    def needs_sudo(self) -> bool:
        return self.user != "root"

    def _explicit(self) -> dict[str, Any]:
        """Field values a Clusterfile must spell out to reproduce this SSH (port excluded)."""
        auto_sudo = self.passwd if self.user != "root" else None
        return {
            "user": self.user,
            "passwd": self.passwd,
            "pk": self.pk,
            "pkPasswd": self.pk_passwd,
            "pkData": self.pk_data,
            "sudoPasswd": self.sudo_passwd if self.sudo_passwd != auto_sudo else None,
        }

    def to_dict(self) -> dict[str, Any]:
        """Clusterfile form (``spec.ssh``), unset fields left out."""
        out = {k: v for k, v in self._explicit().items() if v is not None}
        out["port"] = self.port
        return out


@dataclass
class Host:
    """One machine. ``port`` is its SSH port and is authoritative: ``ssh.port`` is kept equal to it.

    ``origins`` maps a field (``ip``, ``roles``, ``ssh.pk``, ``ssh.passwd``, ``ssh``) to where the
    user wrote it (``spec.hosts[1].ips[0]``, ``--masters[1]``, ``-i``) so errors point at the input.
    """

    ip: str
    port: int = 22
    roles: list[str] = field(default_factory=list)
    ssh: SSH = field(default_factory=SSH)
    labels: dict[str, str] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    arch: str | None = None
    origins: dict[str, str] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        roles: list[str] = []
        for raw in self.roles:
            role = ROLE_ALIASES.get(str(raw).strip().lower(), str(raw).strip().lower())
            arch = ARCH_ALIASES.get(role)
            if arch is not None and (self.arch is None or self.arch == arch):
                self.arch = arch
                continue
            if role not in roles:
                roles.append(role)
        self.roles = roles
        if self.arch is not None:
            self.arch = ARCH_ALIASES.get(self.arch.lower(), self.arch.lower())
        if self.ssh.port != self.port:
            self.ssh = replace(self.ssh, port=self.port)

    @property
    def address(self) -> str:
        """``ip:port`` (IPv6 in brackets), the host's identity in the cluster."""
        return f"{_bracket(self.ip)}:{self.port}"

    @property
    def is_master(self) -> bool:
        return "master" in self.roles

    def to_dict(self, cluster_ssh: SSH | None = None) -> dict[str, Any]:
        """Clusterfile form of this host; ``ssh`` holds only what differs from ``cluster_ssh``."""
        out: dict[str, Any] = {"ips": [self.address], "roles": list(self.roles)}
        if self.arch:
            out["arch"] = self.arch
        base = (cluster_ssh or SSH())._explicit()
        diff = {k: v for k, v in self.ssh._explicit().items() if base.get(k) != v}
        if diff:
            out["ssh"] = diff
        if self.labels:
            out["labels"] = dict(self.labels)
        if self.env:
            out["env"] = dict(self.env)
        return out

    def __str__(self) -> str:
        return self.address


@dataclass
class Network:
    pod_cidr: str = "100.64.0.0/10"
    service_cidr: str = "10.96.0.0/22"
    dns_domain: str = "cluster.local"

    def to_dict(self) -> dict[str, Any]:
        return {
            "podCIDR": self.pod_cidr,
            "serviceCIDR": self.service_cidr,
            "dnsDomain": self.dns_domain,
        }


@dataclass
class Registry:
    """The embedded registry. It runs on hosts with role ``registry`` if any, else on hosts with any
    of ``roles`` (sealos falls back to the first master; we default to all masters, for HA).
    ``password=None`` lets the registry layer generate one and keep it in the cluster state."""

    domain: str = "sealkit.hub"
    port: int = 5000
    username: str = "sealkit"
    password: str | None = field(default=None, repr=False)
    roles: list[str] = field(default_factory=lambda: ["master"])

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"domain": self.domain, "port": self.port, "username": self.username}
        if self.password is not None:
            out["password"] = self.password
        out["roles"] = list(self.roles)
        return out


@dataclass
class Certs:
    ca_validity_days: int = 36500
    validity_days: int = 36500
    extra_sans: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "caValidityDays": self.ca_validity_days,
            "validityDays": self.validity_days,
            "extraSANs": list(self.extra_sans),
        }


@dataclass
class HA:
    """Node-local apiserver load balancing; ``auto`` lets the runtime plugin choose."""

    strategy: str = "auto"
    vip: str = "10.103.97.2"
    port: int = 6443

    def to_dict(self) -> dict[str, Any]:
        return {"strategy": self.strategy, "vip": self.vip, "port": self.port}


@dataclass
class Cluster:
    """The desired cluster. ``documents`` are further YAML documents of the Clusterfile (sealos
    ``Config``, kubeadm configs, …), kept verbatim; ``extra_spec`` holds sealos spec fields sealkit
    does not use."""

    name: str = DEFAULT_NAME
    hosts: list[Host] = field(default_factory=list)
    images: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    runtime: str | None = None
    network: Network = field(default_factory=Network)
    registry: Registry = field(default_factory=Registry)
    certs: Certs = field(default_factory=Certs)
    ha: HA = field(default_factory=HA)
    ssh: SSH = field(default_factory=SSH)
    documents: list[dict[str, Any]] = field(default_factory=list)
    extra_spec: dict[str, Any] = field(default_factory=dict)
    #: where the model came from (file path, ``<text>``, ``<flags>``), the line of each field path
    source: str | None = field(default=None, compare=False, repr=False)
    source_lines: dict[str, int] = field(default_factory=dict, compare=False, repr=False)
    #: input spelling of cluster-level fields for error messages (``{"env": "-e"}`` from flags)
    origins: dict[str, str] = field(default_factory=dict, compare=False, repr=False)

    @property
    def masters(self) -> list[Host]:
        return [h for h in self.hosts if "master" in h.roles]

    @property
    def nodes(self) -> list[Host]:
        """Workers: hosts with role ``node`` that are not masters (a master with ``node`` is only
        schedulable, it is not joined twice)."""
        return [h for h in self.hosts if "node" in h.roles and "master" not in h.roles]

    @property
    def registry_hosts(self) -> list[Host]:
        explicit = self.hosts_with_role("registry")
        if explicit:
            return explicit
        wanted = {ROLE_ALIASES.get(r, r) for r in self.registry.roles}
        return [h for h in self.hosts if wanted.intersection(h.roles)]

    def hosts_with_role(self, role: str) -> list[Host]:
        role = ROLE_ALIASES.get(role.lower(), role.lower())
        return [h for h in self.hosts if role in h.roles]

    def host(self, ip: str) -> Host:
        """The host with this ``ip`` or ``ip:port``; UsageError naming the known hosts otherwise."""
        for h in self.hosts:
            if ip in (h.ip, h.address):
                return h
        known = ", ".join(h.address for h in self.hosts) or "none"
        raise UsageError(f"no host {ip} in cluster {self.name}", hint=f"known hosts: {known}")

    def env_for(self, host: Host) -> dict[str, str]:
        """The cluster env overlaid with the host's own env (sealos ``hosts[].env`` semantics)."""
        return {**self.env, **host.env}

    def to_dict(self) -> dict[str, Any]:
        """The Cluster document in sealkit form; loading it back gives an equal model."""
        spec: dict[str, Any] = {
            "hosts": [h.to_dict(self.ssh) for h in self.hosts],
            "ssh": self.ssh.to_dict(),
            "image": list(self.images),
            "env": dict(self.env),
        }
        if self.runtime is not None:
            spec["runtime"] = self.runtime
        spec["network"] = self.network.to_dict()
        spec["registry"] = self.registry.to_dict()
        spec["certs"] = self.certs.to_dict()
        spec["ha"] = self.ha.to_dict()
        spec.update(self.extra_spec)
        return {
            "apiVersion": API_VERSION,
            "kind": KIND,
            "metadata": {"name": self.name},
            "spec": spec,
        }

    def to_yaml(self) -> str:
        """The Cluster document followed by the kept documents, as one multi-document YAML."""
        return yaml.dump_all(
            [self.to_dict(), *self.documents],
            Dumper=_Dumper,
            sort_keys=False,
            default_flow_style=False,
            allow_unicode=True,
        )


# ----------------------------------------------------------------------------------- YAML reading


class _Dumper(yaml.SafeDumper):
    """SafeDumper that writes multi-line strings (embedded configs, keys) as ``|`` blocks."""


def _represent_str(dumper: yaml.SafeDumper, data: str) -> yaml.ScalarNode:
    style = "|" if "\n" in data else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


_Dumper.add_representer(str, _represent_str)


class _Map(dict):  # type: ignore[type-arg]
    """A mapping that remembers the line of each key, for error messages."""

    key_lines: dict[Any, int]


class _Seq(list):  # type: ignore[type-arg]
    item_lines: list[int]


class _LineLoader(yaml.SafeLoader):
    """SafeLoader that records lines and refuses duplicate keys (PyYAML silently keeps the last)."""


def _construct_map(loader: _LineLoader, node: yaml.MappingNode) -> _Map:
    loader.flatten_mapping(node)
    out = _Map()
    out.key_lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        try:
            hash(key)
        except TypeError as exc:
            raise yaml.constructor.ConstructorError(
                "while constructing a mapping",
                node.start_mark,
                "found an unhashable key",
                key_node.start_mark,
            ) from exc
        if key in out:
            raise yaml.constructor.ConstructorError(
                "while constructing a mapping",
                node.start_mark,
                f"found duplicate key {key!r}",
                key_node.start_mark,
            )
        out[key] = loader.construct_object(value_node, deep=True)
        out.key_lines[key] = key_node.start_mark.line + 1
    return out


def _construct_seq(loader: _LineLoader, node: yaml.SequenceNode) -> _Seq:
    out = _Seq(loader.construct_object(child, deep=True) for child in node.value)
    out.item_lines = [child.start_mark.line + 1 for child in node.value]
    return out


_LineLoader.add_constructor("tag:yaml.org,2002:map", _construct_map)
_LineLoader.add_constructor("tag:yaml.org,2002:seq", _construct_seq)


def _collect_lines(obj: Any, path: str, out: dict[str, int]) -> None:
    if isinstance(obj, _Map):
        for key, value in obj.items():
            sub = f"{path}.{key}" if path else str(key)
            out[sub] = obj.key_lines.get(key, 0)
            _collect_lines(value, sub, out)
    elif isinstance(obj, _Seq):
        for i, value in enumerate(obj):
            sub = f"{path}[{i}]"
            out[sub] = obj.item_lines[i]
            _collect_lines(value, sub, out)


def _plain(obj: Any) -> Any:
    """Strip the line-tracking types so documents dump as ordinary YAML."""
    if isinstance(obj, dict):
        return {k: _plain(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_plain(v) for v in obj]
    return obj


def _read_source(source: str | os.PathLike[str]) -> tuple[str, str]:
    """(name, text). A Path or a one-line str is a file; a str with newlines is YAML text."""
    if isinstance(source, str) and "\n" in source:
        return "<text>", source
    path = Path(source)
    try:
        return str(path), path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError(
            f"Clusterfile {path} does not exist", hint="pass the path of an existing Clusterfile"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read Clusterfile {path}: {exc}") from exc


def _parse_documents(name: str, text: str) -> list[Any]:
    try:
        return [d for d in yaml.load_all(text, Loader=_LineLoader) if d is not None]
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 0
        lines = text.splitlines()
        near = lines[line - 1].strip() if 0 < line <= len(lines) else ""
        why = f"YAML syntax error: {exc.problem or exc}"
        if exc.context:
            why += f" ({exc.context})"
        raise ValidationError(
            f"{name}:{line}", near, why, hint=f"check indentation and quoting at {name} line {line}"
        ) from None
    except yaml.YAMLError as exc:
        raise ValidationError(name, "", f"YAML error: {exc}") from None


# ------------------------------------------------------------------------------------ field helpers


def _suggest(word: str, choices: Iterable[str]) -> str | None:
    choices = list(choices)
    for c in choices:
        if c.lower() == str(word).lower():
            return c
    hit = difflib.get_close_matches(str(word), choices, n=1, cutoff=0.6)
    return hit[0] if hit else None


def _choice_hint(word: str, choices: Iterable[str], what: str) -> str:
    choices = list(choices)
    guess = _suggest(word, choices)
    known = ", ".join(choices)
    return f"did you mean {guess!r}? {what}: {known}" if guess else f"{what}: {known}"


class _Src:
    """Where a document came from, so errors can name file and line."""

    def __init__(self, name: str, lines: Mapping[str, int] | None = None) -> None:
        self.name = name
        self.lines = dict(lines or {})

    def err(self, path: str, value: object, why: str, hint: str | None = None) -> ValidationError:
        return _located(ValidationError(path, value, why, hint=hint), self.name, self.lines)


def _located(exc: ValidationError, name: str | None, lines: Mapping[str, int]) -> ValidationError:
    """Prefix ``file:line:`` when the path (or its nearest parent) has a known line."""
    if not name:
        return exc
    path = exc.path
    while path:
        if lines.get(path):
            exc.message = f"{name}:{lines[path]}: {exc.message}"
            return exc
        cut = max(path.rfind("."), path.rfind("["))
        path = path[:cut] if cut > 0 else ""
    exc.message = f"{name}: {exc.message}"
    return exc


def _check_keys(src: _Src, obj: Mapping[Any, Any], known: Iterable[str], path: str) -> None:
    known = list(known)
    for key in obj:
        if key not in known:
            sub = f"{path}.{key}" if path else str(key)
            raise src.err(sub, key, "unknown key", _choice_hint(str(key), known, "known keys"))


def _as_map(src: _Src, value: Any, path: str) -> dict[Any, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise src.err(path, value, f"expected a mapping, got {type(value).__name__}")
    return value


def _as_str(src: _Src, value: Any, path: str, *, secret: bool = False) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool) and not secret:
        return str(value)
    shown = _REDACTED if secret else value
    hint = None
    if secret:
        hint = "quote it in YAML: unquoted digits are read as a number (leading zeros as octal)"
    raise src.err(path, shown, f"expected a string, got {type(value).__name__}", hint)


def _opt_str(src: _Src, value: Any, path: str, *, secret: bool = False) -> str | None:
    return None if value is None else _as_str(src, value, path, secret=secret)


def _as_int(src: _Src, value: Any, path: str) -> int:
    if isinstance(value, bool):
        raise src.err(path, value, "expected a number")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    raise src.err(path, value, "expected a number")


def _str_list(src: _Src, value: Any, path: str, *, split_commas: bool = False) -> list[str]:
    """A list of strings; a single string is accepted as a one-item (or comma-separated) list."""
    if value is None:
        return []
    if isinstance(value, str):
        items = value.split(",") if split_commas else [value]
        return [i.strip() for i in items if i.strip()]
    if not isinstance(value, list):
        raise src.err(path, value, f"expected a list, got {type(value).__name__}")
    return [_as_str(src, v, f"{path}[{i}]").strip() for i, v in enumerate(value)]


def _env_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _redact_env_item(item: str) -> str:
    key, sep, _ = item.partition("=")
    return f"{key}={_REDACTED}" if sep else item


def parse_env(items: Sequence[str], path: str = "-e") -> dict[str, str]:
    """``["K=V", …]`` → dict; a later K wins (like ``docker run -e``). Errors name ``-e[i]``.

    Values are not echoed in errors: env often carries tokens.
    """
    out: dict[str, str] = {}
    for i, item in enumerate(items):
        where = f"{path}[{i}]"
        if not isinstance(item, str):
            raise ValidationError(where, item, "expected a K=V string")
        key, sep, value = item.partition("=")
        if not sep:
            raise ValidationError(where, item, "missing '='", hint=f"write it as {item}=VALUE")
        key = key.strip()
        if not key:
            raise ValidationError(
                where, _redact_env_item(item), "empty variable name", hint="write it as NAME=VALUE"
            )
        if not ENV_KEY_RE.match(key):
            raise ValidationError(
                where,
                key,
                "not a valid variable name",
                hint="use letters, digits, '_', '.', '-'; start with a letter or '_'",
            )
        out[key] = value
    return out


def _env(src: _Src, value: Any, path: str) -> dict[str, str]:
    """Env as a map (ours) or a list of ``K=V`` (sealos)."""
    if value is None:
        return {}
    if isinstance(value, list):
        try:
            return parse_env([_as_str(src, v, f"{path}[{i}]") for i, v in enumerate(value)], path)
        except ValidationError as exc:
            raise _located(exc, src.name, src.lines) from None
    if isinstance(value, dict):
        out: dict[str, str] = {}
        for key, val in value.items():
            if not isinstance(key, str) or not ENV_KEY_RE.match(key):
                raise src.err(f"{path}.{key}", key, "not a valid variable name")
            if isinstance(val, dict | list):
                raise src.err(f"{path}.{key}", _REDACTED, "expected a scalar value")
            out[key] = _env_value(val)
        return out
    raise src.err(path, value, "expected a mapping or a list of K=V")


def _str_map(src: _Src, value: Any, path: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, val in _as_map(src, value, path).items():
        if not isinstance(key, str) or not key:
            raise src.err(f"{path}.{key}", key, "expected a non-empty string key")
        if isinstance(val, dict | list):
            raise src.err(f"{path}.{key}", val, "expected a scalar value")
        out[key] = _env_value(val)
    return out


# -------------------------------------------------------------------------------- address parsing


def _bracket(ip: str) -> str:
    return f"[{ip}]" if ":" in ip else ip


def _canon_ip(text: str) -> str | None:
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return None


def _split_hostport(src: _Src, item: str, path: str) -> tuple[str, int | None]:
    """``ip``, ``ip:port``, ``[v6]``, ``[v6]:port``, bare ``v6`` → (ip text, port or None)."""
    text = item.strip()
    host, port_text = text, None
    if text.startswith("["):
        end = text.find("]")
        if end < 0:
            raise src.err(path, item, "unclosed '[' in IPv6 address", "write [IPV6]:PORT")
        host, rest = text[1:end], text[end + 1 :]
        if rest:
            if not rest.startswith(":"):
                raise src.err(path, item, "expected ':PORT' after ']'")
            port_text = rest[1:]
    elif text.count(":") == 1:
        host, port_text = text.split(":")
    port: int | None = None
    if port_text is not None:
        if not port_text.isdigit():
            raise src.err(path, item, f"port {port_text!r} is not a number", "write IP:PORT")
        port = int(port_text)
        if not 1 <= port <= 65535:
            raise src.err(path, item, f"port {port} is out of range 1-65535")
    return host, port


def _expand(src: _Src, item: str, path: str) -> list[tuple[str, int | None]]:
    """One ``ips`` item or flag element → addresses; ``a.b.c.d-a.b.c.e`` ranges expand (sealos)."""
    text = item.strip()
    if not text:
        raise src.err(path, item, "empty address")
    if "-" in text and not text.startswith("["):
        first, _, last = text.partition("-")
        last_host, port = _split_hostport(src, last, path)
        a, b = _canon_ip(first.strip()), _canon_ip(last_host.strip())
        if a is None or b is None:
            bad = first if a is None else last_host
            raise src.err(
                path,
                item,
                f"{bad.strip()!r} is not an IP address",
                "an IP range is written FIRST-LAST, e.g. 10.0.0.3-10.0.0.5",
            )
        start, end = ipaddress.ip_address(a), ipaddress.ip_address(b)
        if start.version != end.version or int(end) < int(start):
            raise src.err(path, item, "range end is before its start", "write LOW-HIGH")
        count = int(end) - int(start) + 1
        if count > MAX_RANGE:
            raise src.err(
                path,
                item,
                f"range has {count} addresses (more than {MAX_RANGE})",
                "check the range bounds for a typo",
            )
        return [(str(ipaddress.ip_address(int(start) + n)), port) for n in range(count)]
    host, port = _split_hostport(src, text, path)
    ip = _canon_ip(host)
    if ip is None:
        raise src.err(path, item, f"{host!r} is not an IP address", "hosts are given by IP address")
    return [(ip, port)]


# ----------------------------------------------------------------------------------- Clusterfile


_TOP_KEYS = ("apiVersion", "kind", "metadata", "spec", "status")
_META_KEYS = (
    "name",
    "namespace",
    "labels",
    "annotations",
    "creationTimestamp",
    "uid",
    "resourceVersion",
    "generation",
    "generateName",
    "finalizers",
    "ownerReferences",
    "managedFields",
    "selfLink",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
)
_SEALOS_SPEC_KEYS = ("command", "cmd_args")
_SPEC_KEYS = (
    "hosts",
    "ssh",
    "image",
    "env",
    "runtime",
    "network",
    "registry",
    "certs",
    "ha",
    *_SEALOS_SPEC_KEYS,
)
_HOST_KEYS = ("ips", "roles", "ssh", "env", "labels", "arch")
#: Clusterfile key → SSH field (None: accepted for sealos compatibility, not used)
_SSH_KEYS: dict[str, str | None] = {
    "user": "user",
    "passwd": "passwd",
    "pk": "pk",
    "pkPasswd": "pk_passwd",
    "pkData": "pk_data",
    "pkName": None,
    "port": "port",
    "sudoPasswd": "sudo_passwd",
}
_SSH_SECRETS = ("passwd", "pkPasswd", "pkData", "sudoPasswd")
_NETWORK_KEYS = {"podCIDR": "pod_cidr", "serviceCIDR": "service_cidr", "dnsDomain": "dns_domain"}
_REGISTRY_KEYS = ("domain", "port", "username", "password", "roles")
_CERTS_KEYS = {
    "caValidityDays": "ca_validity_days",
    "validityDays": "validity_days",
    "extraSANs": "extra_sans",
}
_HA_KEYS = ("strategy", "vip", "port")


def _ssh_fields(src: _Src, value: Any, path: str) -> dict[str, Any]:
    """The SSH fields written at ``path`` (model names), only those present; ``null`` is kept as
    None so a host can unset a cluster-level password or key."""
    raw = _as_map(src, value, path)
    _check_keys(src, raw, _SSH_KEYS, path)
    out: dict[str, Any] = {}
    for key, val in raw.items():
        name = _SSH_KEYS[key]
        if name is None:
            continue
        if val is None:
            out[name] = None
        elif name == "port":
            port = _as_int(src, val, f"{path}.port")
            if not 1 <= port <= 65535:
                raise src.err(f"{path}.port", val, "port out of range 1-65535")
            out[name] = port
        else:
            out[name] = _as_str(src, val, f"{path}.{key}", secret=key in _SSH_SECRETS)
            if name == "user" and not out[name].strip():
                raise src.err(f"{path}.{key}", val, "empty user name", "leave the key out to log in as root")
    return out


def _make_ssh(fields_: Mapping[str, Any]) -> SSH:
    kw = dict(fields_)
    if kw.get("user") in (None, ""):
        kw["user"] = "root"
    if kw.get("port") is None:
        kw["port"] = 22
    return SSH(**kw)


def _ssh_origins(base: str, host_path: str | None, host_fields: Mapping[str, Any]) -> dict[str, str]:
    inverse = {v: k for k, v in _SSH_KEYS.items() if v}
    out = {"ssh": host_path if host_path and host_fields else base}
    for name, key in inverse.items():
        out[f"ssh.{name}"] = f"{host_path}.{key}" if host_path and name in host_fields else f"{base}.{key}"
    return out


def _pick_cluster_doc(src: _Src, docs: list[Any], name: str) -> tuple[Any, list[Any]]:
    accepted = f"apiVersion {' or '.join(ACCEPTED_API_VERSIONS)} with kind {KIND}"
    if not docs:
        raise ValidationError(
            name, "", "the Clusterfile is empty", hint=f"it needs a document with {accepted}"
        )
    clusters = [d for d in docs if isinstance(d, dict) and d.get("kind") == KIND]
    if not clusters:
        first = docs[0]
        if not isinstance(first, dict):
            raise ValidationError(
                name, first, "the first document is not a mapping", hint=f"expected {accepted}"
            )
        kind = first.get("kind")
        hint = f"accepted: {accepted}"
        guess = _suggest(str(kind), [KIND]) if kind is not None else None
        if guess:
            hint = f"did you mean {guess!r}? {hint}"
        found = ", ".join(str(d.get("kind")) for d in docs if isinstance(d, dict))
        raise src.err("kind", kind, f"no document of kind {KIND} (found: {found})", hint)
    if len(clusters) > 1:
        raise src.err(
            "kind",
            KIND,
            "more than one Cluster document in the file",
            "keep one Cluster document; split clusters into separate files",
        )
    doc = clusters[0]
    api = doc.get("apiVersion")
    if api not in ACCEPTED_API_VERSIONS:
        doc_lines: dict[str, int] = {}
        _collect_lines(doc, "", doc_lines)
        raise _Src(name, doc_lines).err(
            "apiVersion",
            api,
            "unsupported apiVersion",
            _choice_hint(str(api), ACCEPTED_API_VERSIONS, "accepted"),
        )
    rest = []
    for d in docs:
        if d is doc:
            continue
        if not isinstance(d, dict):
            raise ValidationError(name, d, "a further document is not a mapping")
        rest.append(_plain(d))
    return doc, rest


def load_clusterfile(source: str | os.PathLike[str]) -> Cluster:
    """Parse a Clusterfile (path, or YAML text containing a newline) into a :class:`Cluster`.

    Raises ValidationError for syntax, unknown keys, types and unparsable addresses; run
    :func:`validate` on the result for the checks that need the whole model and the controller's SSH
    setup.
    """
    name, text = _read_source(source)
    docs = _parse_documents(name, text)
    # lines of the cluster document are collected before _plain strips them
    first_lines: dict[str, int] = {}
    if docs:
        _collect_lines(docs[0], "", first_lines)
    doc, rest = _pick_cluster_doc(_Src(name, first_lines), docs, name)
    lines: dict[str, int] = {}
    _collect_lines(doc, "", lines)
    src = _Src(name, lines)
    cluster = _cluster_from_doc(src, doc)
    cluster.documents = rest
    cluster.source = name
    cluster.source_lines = lines
    return cluster


def _cluster_from_doc(src: _Src, doc: Mapping[str, Any]) -> Cluster:
    _check_keys(src, doc, _TOP_KEYS, "")
    meta = _as_map(src, doc.get("metadata"), "metadata")
    _check_keys(src, meta, _META_KEYS, "metadata")
    name = _as_str(src, meta.get("name") or DEFAULT_NAME, "metadata.name")
    spec = _as_map(src, doc.get("spec"), "spec")
    _check_keys(src, spec, _SPEC_KEYS, "spec")

    cluster_ssh_fields = _ssh_fields(src, spec.get("ssh"), "spec.ssh")
    cluster_ssh = _make_ssh(cluster_ssh_fields)
    default_port = cluster_ssh.port

    hosts: list[Host] = []
    host_list = spec.get("hosts")
    if host_list is not None and not isinstance(host_list, list):
        raise src.err("spec.hosts", host_list, "expected a list of {ips, roles}")
    for i, entry in enumerate(host_list or []):
        hp = f"spec.hosts[{i}]"
        hm = _as_map(src, entry, hp)
        _check_keys(src, hm, _HOST_KEYS, hp)
        ips = _str_list(src, hm.get("ips"), f"{hp}.ips", split_commas=True)
        if not ips:
            raise src.err(f"{hp}.ips", hm.get("ips"), "no IP address", "e.g. ips: [192.168.0.2:22]")
        roles = _str_list(src, hm.get("roles"), f"{hp}.roles", split_commas=True)
        host_ssh = _ssh_fields(src, hm.get("ssh"), f"{hp}.ssh")
        merged = {**cluster_ssh_fields, **host_ssh}
        port_default = merged.get("port") or default_port
        env = _env(src, hm.get("env"), f"{hp}.env")
        labels = _str_map(src, hm.get("labels"), f"{hp}.labels")
        arch = _opt_str(src, hm.get("arch"), f"{hp}.arch")
        for j, item in enumerate(ips):
            ip_path = f"{hp}.ips[{j}]"
            for ip, port in _expand(src, item, ip_path):
                p = port or port_default
                origins = {
                    "ip": ip_path,
                    "roles": f"{hp}.roles",
                    "arch": f"{hp}.arch",
                    "env": f"{hp}.env",
                    **_ssh_origins("spec.ssh", f"{hp}.ssh", host_ssh),
                }
                hosts.append(
                    Host(
                        ip=ip,
                        port=p,
                        roles=list(roles),
                        ssh=_make_ssh({**merged, "port": p}),
                        labels=dict(labels),
                        env=dict(env),
                        arch=arch,
                        origins=origins,
                    )
                )

    images = _str_list(src, spec.get("image"), "spec.image")
    env = _env(src, spec.get("env"), "spec.env")
    runtime = _opt_str(src, spec.get("runtime"), "spec.runtime")

    net_raw = _as_map(src, spec.get("network"), "spec.network")
    _check_keys(src, net_raw, _NETWORK_KEYS, "spec.network")
    network = Network(
        **{
            _NETWORK_KEYS[k]: _as_str(src, v, f"spec.network.{k}")
            for k, v in net_raw.items()
            if v is not None
        }
    )

    reg_raw = _as_map(src, spec.get("registry"), "spec.registry")
    _check_keys(src, reg_raw, _REGISTRY_KEYS, "spec.registry")
    reg_kw: dict[str, Any] = {}
    for key, val in reg_raw.items():
        if val is None:
            continue
        where = f"spec.registry.{key}"
        if key == "port":
            reg_kw[key] = _as_int(src, val, where)
        elif key == "roles":
            reg_kw[key] = [
                ROLE_ALIASES.get(r.lower(), r.lower()) for r in _str_list(src, val, where, split_commas=True)
            ]
        else:
            reg_kw[key] = _as_str(src, val, where, secret=key == "password")
    registry = Registry(**reg_kw)

    certs_raw = _as_map(src, spec.get("certs"), "spec.certs")
    _check_keys(src, certs_raw, _CERTS_KEYS, "spec.certs")
    certs_kw: dict[str, Any] = {}
    for key, val in certs_raw.items():
        if val is None:
            continue
        where = f"spec.certs.{key}"
        if key == "extraSANs":
            certs_kw["extra_sans"] = _str_list(src, val, where, split_commas=True)
        else:
            certs_kw[_CERTS_KEYS[key]] = _as_int(src, val, where)
    certs = Certs(**certs_kw)

    ha_raw = _as_map(src, spec.get("ha"), "spec.ha")
    _check_keys(src, ha_raw, _HA_KEYS, "spec.ha")
    ha_kw: dict[str, Any] = {}
    for key, val in ha_raw.items():
        if val is None:
            continue
        where = f"spec.ha.{key}"
        ha_kw[key] = _as_int(src, val, where) if key == "port" else _as_str(src, val, where)
    ha = HA(**ha_kw)

    extra = {k: _plain(spec[k]) for k in _SEALOS_SPEC_KEYS if spec.get(k) is not None}
    return Cluster(
        name=name,
        hosts=hosts,
        images=images,
        env=env,
        runtime=runtime,
        network=network,
        registry=registry,
        certs=certs,
        ha=ha,
        ssh=cluster_ssh,
        extra_spec=extra,
    )


# ---------------------------------------------------------------------------------------- flags


def _split_flag(value: str | Sequence[str] | None) -> list[str]:
    if not value:
        return []
    parts = [value] if isinstance(value, str) else list(value)
    return [p.strip() for part in parts for p in part.split(",") if p.strip()]


def cluster_from_flags(
    masters: str | Sequence[str] | None = None,
    nodes: str | Sequence[str] | None = None,
    user: str | None = None,
    password: str | None = None,
    key: str | None = None,
    key_passphrase: str | None = None,
    port: int | None = None,
    env: Sequence[str] = (),
    images: Sequence[str] = (),
    name: str | None = None,
    runtime: str | None = None,
) -> Cluster:
    """The model ``sealkit run --masters … --nodes … -u -p -i --port -e K=V IMAGE…`` describes.

    ``masters``/``nodes`` are comma lists of ``IP``, ``IP:PORT`` or ``FIRST-LAST`` ranges; the
    result equals what the equivalent Clusterfile loads to. Run :func:`validate` on it.
    """
    src = _Src("<flags>")
    if port is not None and not 1 <= port <= 65535:
        raise ValidationError("--port", port, "port out of range 1-65535")
    ssh = _make_ssh({"user": user, "passwd": password, "pk": key, "pk_passwd": key_passphrase, "port": port})
    ssh_origins = {
        "ssh": "-u/-p/-i",
        "ssh.user": "-u",
        "ssh.passwd": "-p",
        "ssh.pk": "-i",
        "ssh.pk_passwd": "--pk-passwd",
        "ssh.port": "--port",
    }
    hosts: list[Host] = []
    for flag, role, value in (("--masters", "master", masters), ("--nodes", "node", nodes)):
        for i, item in enumerate(_split_flag(value)):
            where = f"{flag}[{i}]"
            for ip, p in _expand(src, item, where):
                hp = p or ssh.port
                hosts.append(
                    Host(
                        ip=ip,
                        port=hp,
                        roles=[role],
                        ssh=replace(ssh, port=hp),
                        origins={"ip": where, "roles": flag, **ssh_origins},
                    )
                )
    return Cluster(
        name=name or DEFAULT_NAME,
        hosts=hosts,
        images=[i.strip() for i in images],
        env=parse_env(list(env)),
        runtime=runtime,
        ssh=ssh,
        source="<flags>",
        origins={
            "name": "--cluster",
            "env": "-e",
            "image": "IMAGE",
            "runtime": "--runtime",
            "hosts": "--masters",
            **ssh_origins,
        },
    )


# ------------------------------------------------------------------------------------- validation


class _V:
    """Validation context: builds located errors and collects warnings."""

    def __init__(self, cluster: Cluster) -> None:
        self.c = cluster
        self.warnings: list[str] = []

    def path(self, key: str, default: str) -> str:
        return self.c.origins.get(key, default)

    def host_path(self, idx: int, host: Host, key: str, default_suffix: str) -> str:
        return host.origins.get(key) or f"hosts[{idx}].{default_suffix}"

    def fail(self, path: str, value: object, why: str, hint: str | None = None) -> ValidationError:
        name = self.c.source if self.c.source_lines else None
        return _located(ValidationError(path, value, why, hint=hint), name, self.c.source_lines)

    def warn(self, text: str) -> None:
        self.warnings.append(text)


def _network(v: _V, text: str, path: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    try:
        return ipaddress.ip_network(text, strict=True)
    except ValueError as exc:
        hint = "write a CIDR like 10.96.0.0/22"
        # when it is not a CIDR at all, the generic hint stands
        with contextlib.suppress(ValueError):
            hint = f"did you mean {ipaddress.ip_network(text, strict=False)}? ({exc})"
        raise v.fail(path, text, "not a valid network CIDR", hint) from None


def _check_port(v: _V, value: int, path: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
        raise v.fail(path, value, "port out of range 1-65535")


def validate(cluster: Cluster) -> list[str]:
    """Check the model before any host is contacted. Returns warnings; raises ValidationError
    (exit 2) on the first error, naming the field path, the bad value and why."""
    v = _V(cluster)
    c = cluster
    name_path = v.path("name", "metadata.name")
    if not NAME_RE.match(c.name) or c.name in (".", ".."):
        raise v.fail(
            name_path,
            c.name,
            "not a valid cluster name",
            "use letters, digits, '.', '_', '-' (at most 63, starting with a letter or digit)",
        )
    if c.runtime is not None and not RUNTIME_RE.match(c.runtime):
        raise v.fail(
            v.path("runtime", "spec.runtime"),
            c.runtime,
            "not a valid runtime name",
            "e.g. kubeadm, k3s, k0s, binary",
        )
    for i, image in enumerate(c.images):
        if not image or any(ch.isspace() for ch in image):
            raise v.fail(f"{v.path('image', 'spec.image')}[{i}]", image, "not an image reference")
    env_path = v.path("env", "spec.env")
    for key in c.env:
        if not ENV_KEY_RE.match(key):
            raise v.fail(f"{env_path}.{key}", key, "not a valid variable name")

    _validate_hosts(v)
    pod, svc = _validate_network(v)
    _validate_addresses(v, pod, svc)
    _validate_registry_certs_ha(v, pod, svc)
    _validate_auth(v)
    return v.warnings


def _validate_hosts(v: _V) -> None:
    c = v.c
    if not c.hosts:
        raise v.fail(
            v.path("hosts", "spec.hosts"),
            [],
            "no hosts",
            "list hosts under spec.hosts, or pass --masters IP[,IP…]",
        )
    seen: dict[tuple[str, int], str] = {}
    for i, h in enumerate(c.hosts):
        ip_path = v.host_path(i, h, "ip", "ip")
        if _canon_ip(h.ip) is None:
            raise v.fail(ip_path, h.ip, "not an IP address", "hosts are given by IP address")
        _check_port(v, h.port, ip_path)
        roles_path = v.host_path(i, h, "roles", "roles")
        if not h.roles:
            raise v.fail(roles_path, h.roles, "host has no role", f"give it one of: {', '.join(ROLES)}")
        for r in h.roles:
            if r not in ROLES:
                why = "unknown role"
                if r in ARCH_ALIASES:
                    why = f"architecture {ARCH_ALIASES[r]!r} conflicts with arch {h.arch!r}"
                raise v.fail(roles_path, r, why, _choice_hint(r, [*ROLES, *ROLE_ALIASES], "roles"))
        if h.arch is not None and h.arch not in ARCHES:
            raise v.fail(
                v.host_path(i, h, "arch", "arch"),
                h.arch,
                "unknown architecture",
                _choice_hint(h.arch, ARCHES, "supported"),
            )
        for key in h.env:
            if not ENV_KEY_RE.match(key):
                raise v.fail(f"{v.host_path(i, h, 'env', 'env')}.{key}", key, "not a valid variable name")
        ident = (_canon_ip(h.ip) or h.ip, h.port)
        if ident in seen:
            raise v.fail(
                ip_path,
                h.address,
                f"duplicate host (already at {seen[ident]})",
                "list each host once; give it several roles instead",
            )
        seen[ident] = ip_path
    masters = c.masters
    if not masters:
        raise v.fail(
            v.path("hosts", "spec.hosts"),
            [h.address for h in c.hosts],
            "no host has role master",
            "give at least one host the role master (--masters)",
        )
    if len(masters) % 2 == 0:
        v.warn(
            f"{len(masters)} masters: etcd needs a majority, so an even count tolerates no more "
            f"failures than {len(masters) - 1}; use an odd number (1, 3, 5)"
        )


def _validate_network(v: _V) -> tuple[Any, Any]:
    n = v.c.network
    pod_path = v.path("network.podCIDR", "spec.network.podCIDR")
    svc_path = v.path("network.serviceCIDR", "spec.network.serviceCIDR")
    pod = _network(v, n.pod_cidr, pod_path)
    svc = _network(v, n.service_cidr, svc_path)
    if pod.version == svc.version and pod.overlaps(svc):
        raise v.fail(
            svc_path,
            n.service_cidr,
            f"overlaps podCIDR {n.pod_cidr}",
            "pod and service networks must be disjoint",
        )
    if not DNS_NAME_RE.match(n.dns_domain) or n.dns_domain.startswith("*"):
        raise v.fail(
            v.path("network.dnsDomain", "spec.network.dnsDomain"),
            n.dns_domain,
            "not a valid DNS domain",
            "e.g. cluster.local",
        )
    return pod, svc


def _in(addr: Any, net: Any) -> bool:
    return addr.version == net.version and addr in net


def _validate_addresses(v: _V, pod: Any, svc: Any) -> None:
    for i, h in enumerate(v.c.hosts):
        addr = ipaddress.ip_address(h.ip)
        for net, label in ((pod, "podCIDR"), (svc, "serviceCIDR")):
            if _in(addr, net):
                raise v.fail(
                    v.host_path(i, h, "ip", "ip"),
                    h.ip,
                    f"host address is inside {label} {net}",
                    f"choose a {label} (spec.network.{label}) that does not contain host addresses",
                )


def _validate_registry_certs_ha(v: _V, pod: Any, svc: Any) -> None:
    c = v.c
    reg = c.registry
    _check_port(v, reg.port, "spec.registry.port")
    if not DNS_NAME_RE.match(reg.domain) and _canon_ip(reg.domain) is None:
        raise v.fail("spec.registry.domain", reg.domain, "not a valid host name", "e.g. sealkit.hub")
    for r in reg.roles:
        if r not in ROLES:
            raise v.fail("spec.registry.roles", r, "unknown role", _choice_hint(r, ROLES, "roles"))
    if not c.registry_hosts:
        raise v.fail(
            "spec.registry.roles",
            reg.roles,
            "no host has any of these roles",
            "the embedded registry needs at least one host",
        )

    certs = c.certs
    for value, key in (
        (certs.ca_validity_days, "caValidityDays"),
        (certs.validity_days, "validityDays"),
    ):
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise v.fail(f"spec.certs.{key}", value, "must be a positive number of days")
    if certs.validity_days > certs.ca_validity_days:
        v.warn(
            f"spec.certs.validityDays ({certs.validity_days}) exceeds caValidityDays "
            f"({certs.ca_validity_days}): leaf certificates stop verifying when the CA expires"
        )
    for i, san in enumerate(certs.extra_sans):
        if _canon_ip(san) is None and not DNS_NAME_RE.match(san):
            raise v.fail(f"spec.certs.extraSANs[{i}]", san, "neither an IP address nor a DNS name")

    ha = c.ha
    if ha.strategy not in HA_STRATEGIES:
        raise v.fail(
            "spec.ha.strategy",
            ha.strategy,
            "unknown HA strategy",
            _choice_hint(ha.strategy, HA_STRATEGIES, "strategies"),
        )
    _check_port(v, ha.port, "spec.ha.port")
    vip = _canon_ip(ha.vip)
    if vip is None:
        raise v.fail("spec.ha.vip", ha.vip, "not an IP address", "e.g. 10.103.97.2")
    addr = ipaddress.ip_address(vip)
    for net, label in ((pod, "podCIDR"), (svc, "serviceCIDR")):
        if _in(addr, net):
            raise v.fail(
                "spec.ha.vip",
                ha.vip,
                f"inside {label} {net}",
                "choose a virtual IP outside the pod and service networks",
            )
    for h in c.hosts:
        if _canon_ip(h.ip) == vip:
            raise v.fail(
                "spec.ha.vip",
                ha.vip,
                f"is the address of host {h.address}",
                "the virtual IP must not belong to any host",
            )


# ------------------------------------------------------------------------------------- SSH auth


def _home() -> Path:
    return Path(os.path.expanduser("~"))


def _readable_file(path: Path) -> bool:
    return path.is_file() and os.access(path, os.R_OK)


def _agent_available() -> bool:
    sock = os.environ.get("SSH_AUTH_SOCK")
    if not sock:
        return False
    try:
        return stat.S_ISSOCK(os.stat(sock).st_mode)
    except OSError:
        return False


def _ssh_config_identities(ip: str, user: str) -> tuple[list[Path], bool]:
    """IdentityFile entries of ``~/.ssh/config`` that apply to ``ip``; the second item is True when
    the file uses Match/Include, which this small reader does not evaluate (keys may exist then).

    Deliberately not paramiko's parser: its ``Match exec`` would run commands during validation."""
    config = _home() / ".ssh" / "config"
    if not _readable_file(config):
        return [], False
    applies = True  # lines before the first Host apply to every host
    unknown = False
    found: list[Path] = []
    for raw in config.read_text(encoding="utf-8", errors="replace").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        parts = re.split(r"\s*=\s*|\s+", line, maxsplit=1)
        keyword, arg = parts[0].lower(), (parts[1] if len(parts) > 1 else "").strip()
        if keyword == "host":
            patterns = arg.split()
            positive = [p for p in patterns if not p.startswith("!")]
            negative = [p[1:] for p in patterns if p.startswith("!")]
            applies = any(fnmatchcase(ip, p) for p in positive) and not any(
                fnmatchcase(ip, p) for p in negative
            )
        elif keyword == "match":
            applies = False
            unknown = True
        elif keyword == "include":
            unknown = True
        elif keyword == "identityfile" and applies and arg.lower() != "none":
            value = arg.strip('"')
            value = (
                value.replace("%d", str(_home()))
                .replace("%h", ip)
                .replace("%r", user)
                .replace("%u", user)
                .replace("%%", "%")
            )
            found.append(Path(os.path.expanduser(value)))
    return found, unknown


def _check_inline_key(v: _V, idx: int, host: Host) -> None:
    """``pkData`` is used to log in, so a key that cannot be loaded is refused here, before any host is
    contacted (the value itself is never echoed: it is a secret)."""
    from sealkit.errors import ConnectError
    from sealkit.ssh.connection import load_key_text

    try:
        load_key_text(host.ssh.pk_data or "", host.ssh.pk_passwd)
    except ConnectError as err:
        path = v.host_path(idx, host, "ssh.pkData", "ssh.pkData")
        raise v.fail(path, _REDACTED, err.message, err.hint) from None


def _validate_auth(v: _V) -> None:
    """Every host needs some way to authenticate, decided on the controller alone."""
    agent = _agent_available()
    home = _home()
    default_keys = [home / ".ssh" / n for n in DEFAULT_KEY_NAMES if _readable_file(home / ".ssh" / n)]
    warned_keys: set[str] = set()
    for i, h in enumerate(v.c.hosts):
        s = h.ssh
        sources: list[str] = []
        if s.passwd:
            sources.append("password")
        if s.pk_data:
            _check_inline_key(v, i, h)
            sources.append("inline key (pkData)")
        key = s.key_path
        if key is not None:
            key_path = v.host_path(i, h, "ssh.pk", "ssh.pk")
            if not _readable_file(key):
                why = "key file does not exist" if not key.exists() else "key file is not readable"
                if not sources:
                    raise v.fail(
                        key_path,
                        s.pk,
                        why,
                        "fix the path or its permissions, or give a password (-p / passwd)",
                    )
                if s.pk not in warned_keys:
                    v.warn(f"{key_path}: {why} ({s.pk}); using the password instead")
                    warned_keys.add(s.pk or "")
            else:
                sources.append(f"key {s.pk}")
                if key.stat().st_mode & 0o077 and s.pk not in warned_keys:
                    v.warn(
                        f"{key_path}: key file {s.pk} is readable by group or others; run: chmod 600 {s.pk}"
                    )
                    warned_keys.add(s.pk or "")
        if not sources:
            if agent:
                sources.append("ssh-agent")
            sources.extend(f"default key {k}" for k in default_keys)
        if not sources:
            ids, unknown = _ssh_config_identities(h.ip, s.user)
            sources.extend(f"ssh_config IdentityFile {p}" for p in ids if _readable_file(p))
            if unknown and not sources:
                sources.append("ssh_config (Match/Include, not evaluated)")
        if not sources:
            raise v.fail(
                v.host_path(i, h, "ip", "ip"),
                f"{s.user}@{h.address}",
                "no usable SSH auth: no "
                "password, no key file, no ssh-agent (SSH_AUTH_SOCK), no default key "
                f"(~/.ssh/{', ~/.ssh/'.join(DEFAULT_KEY_NAMES)}), no IdentityFile in ~/.ssh/config",
                "give spec.ssh.passwd or spec.ssh.pk (flags -p / -i), or start ssh-agent",
            )
        if s.needs_sudo and not s.sudo_passwd:
            v.warn(f"{h.address}: user {s.user} has no password for sudo; sudo must be passwordless")


def iter_hosts(cluster: Cluster, roles: Iterable[str] = (), ips: Iterable[str] = ()) -> Iterator[Host]:
    """Hosts filtered like ``sealkit exec --roles … --ips …`` (no filter: all).

    An IP that is not in the cluster is a UsageError, not an empty selection."""
    wanted_roles = {ROLE_ALIASES.get(r.lower(), r.lower()) for r in roles}
    for r in wanted_roles:
        if r not in ROLES:
            raise ValidationError("--roles", r, "unknown role", hint=_choice_hint(r, ROLES, "roles"))
    chosen = {id(cluster.host(ip)) for ip in ips}
    for h in cluster.hosts:
        if wanted_roles and not wanted_roles.intersection(h.roles):
            continue
        if chosen and id(h) not in chosen:
            continue
        yield h
