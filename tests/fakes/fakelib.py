"""Shared helpers for sealkit's CONTRACT FAKES of Kubernetes tools (sealkit-contract-fake).

These fakes stand in for k3s/kubeadm/k0s/kubelet/kube-apiserver in sealkit's tests only: they must
never ship in the product. They run on lab hosts with Debian's /usr/bin/python3 and the standard
library only, so everything here is stdlib: a tiny YAML subset parser/emitter (no PyYAML on the
hosts), Go-flag and pflag style argument parsers (so unknown flags fail the way the real tools
fail), certificate work through the `openssl` CLI (stdlib cannot sign), a small etcd v3 JSON
gateway client, a small Kubernetes REST client and a few process helpers.
"""

from __future__ import annotations

import base64
import contextlib
import ctypes
import datetime as _dt
import hashlib
import json
import os
import re
import secrets
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

FAKE_MARK = "sealkit-contract-fake"


class FakeError(Exception):
    """A failure the fake reports like the real tool would: message plus exit code."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


# --------------------------------------------------------------------------------------------
# paths: tests redirect every absolute path under a private root; sealkit never sets this.
# --------------------------------------------------------------------------------------------


def host_path(path: str) -> str:
    """Map an absolute host path under $SEALKIT_FAKE_ROOT (unit tests only) or return it as is."""
    root = os.environ.get("SEALKIT_FAKE_ROOT", "").rstrip("/")
    if root and path.startswith("/") and not path.startswith(root + "/"):
        return os.path.join(root, path.lstrip("/"))
    return path


def write_file(path: str, data: str | bytes, mode: int = 0o644) -> None:
    """Write atomically with an exact mode (keys 0600), creating parent directories."""
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    raw = data.encode() if isinstance(data, str) else data
    tmp = f"{path}.tmp.{os.getpid()}.{threading.get_ident()}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.write(fd, raw)
        os.fchmod(fd, mode)
    finally:
        os.close(fd)
    os.replace(tmp, path)


def read_text(path: str) -> str:
    with open(path, encoding="utf-8") as fh:
        return fh.read()


def read_bytes(path: str) -> bytes:
    with open(path, "rb") as fh:
        return fh.read()


# --------------------------------------------------------------------------------------------
# logging in the real tools' styles
# --------------------------------------------------------------------------------------------


def now_rfc3339() -> str:
    return _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_rfc3339(value: str) -> float:
    """Seconds since the epoch of an RFC 3339 timestamp (Z or offset, optional fraction)."""
    text = value.replace("Z", "+00:00")
    return _dt.datetime.fromisoformat(text).timestamp()


def logrus(level: str, msg: str) -> None:
    """k3s-style log line on stderr."""
    safe = msg.replace('"', '\\"')
    sys.stderr.write(f'time="{now_rfc3339()}" level={level} msg="{safe}"\n')
    sys.stderr.flush()


def klog(level: str, msg: str) -> None:
    """klog-style log line on stderr (kubeadm, kubelet, kube-apiserver, k0s)."""
    stamp = _dt.datetime.now(_dt.UTC).strftime("%m%d %H:%M:%S.%f")
    sys.stderr.write(f"{level[0].upper()}{stamp} {os.getpid()} fake] {msg}\n")
    sys.stderr.flush()


# --------------------------------------------------------------------------------------------
# tiny YAML: the block subset that config files of these tools use
# --------------------------------------------------------------------------------------------

_YAML11_TRUE = {"y", "Y", "yes", "Yes", "YES", "on", "On", "ON", "true", "True", "TRUE"}
_YAML11_FALSE = {"n", "N", "no", "No", "NO", "off", "Off", "OFF", "false", "False", "FALSE"}


class YamlError(FakeError):
    """Raised on YAML outside the supported subset or malformed YAML."""


@dataclass
class _Line:
    indent: int
    text: str
    lineno: int


def _strip_comment(text: str) -> str:
    out = []
    quote = ""
    for i, ch in enumerate(text):
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "\"'" and (i == 0 or text[i - 1] in " \t:[{,-"):
            quote = ch
        elif ch == "#" and (i == 0 or text[i - 1] in " \t"):
            break
        out.append(ch)
    return "".join(out).rstrip()


class _YamlParser:
    """Recursive-descent parser for block mappings/sequences, flow collections and scalars.

    Supported: `key: value`, nested blocks by indentation, `- item` sequences (also of mappings),
    `[a, b]` / `{a: b}` flow collections (one line), single/double quoted scalars, `|`/`>` block
    scalars, comments, multi-document streams. Not supported: anchors/aliases, tags, complex keys,
    multi-line plain or flow scalars. Anything unsupported raises YamlError, never silently
    misparses.
    """

    def __init__(self, text: str, yaml11: bool) -> None:
        self.raw = text.splitlines()
        self.yaml11 = yaml11

    def documents(self) -> list[Any]:
        docs: list[list[tuple[int, str]]] = [[]]
        for n, line in enumerate(self.raw, start=1):
            if line.startswith("---"):
                rest = line[3:].strip()
                docs.append([])
                if rest and not rest.startswith("#"):
                    raise YamlError(f"yaml line {n}: content after '---' is not supported")
                continue
            if line.strip() == "...":
                continue
            if line.startswith("%"):
                continue
            docs[-1].append((n, line))
        result = []
        for doc in docs:
            value = self._parse_doc(doc)
            if value is not None or any(t.strip() for _, t in doc if not t.strip().startswith("#")):
                result.append(value)
        return result

    def _parse_doc(self, doc: list[tuple[int, str]]) -> Any:
        self.lines: list[tuple[int, str]] = doc
        self.pos = 0
        self._skip_blank()
        if self.pos >= len(self.lines):
            return None
        indent = self._indent(self.lines[self.pos][1])
        value = self._block(indent)
        self._skip_blank()
        if self.pos < len(self.lines):
            n, text = self.lines[self.pos]
            raise YamlError(f"yaml line {n}: unexpected content {text.strip()!r}")
        return value

    @staticmethod
    def _indent(text: str) -> int:
        if "\t" in text[: len(text) - len(text.lstrip())]:
            raise YamlError("yaml: tabs are not allowed for indentation")
        return len(text) - len(text.lstrip(" "))

    def _skip_blank(self) -> None:
        while self.pos < len(self.lines):
            text = _strip_comment(self.lines[self.pos][1])
            if text.strip():
                return
            self.pos += 1

    def _current(self) -> tuple[int, int, str] | None:
        self._skip_blank()
        if self.pos >= len(self.lines):
            return None
        n, text = self.lines[self.pos]
        clean = _strip_comment(text)
        return n, self._indent(clean), clean.strip()

    def _block(self, indent: int) -> Any:
        cur = self._current()
        if cur is None:
            return None
        _, ind, text = cur
        if ind < indent:
            return None
        if text == "-" or text.startswith("- "):
            return self._sequence(ind)
        return self._mapping(ind)

    def _sequence(self, indent: int) -> list[Any]:
        items: list[Any] = []
        while True:
            cur = self._current()
            if cur is None:
                return items
            n, ind, text = cur
            if ind < indent:
                return items
            if ind > indent:
                raise YamlError(f"yaml line {n}: bad indentation")
            if not (text == "-" or text.startswith("- ")):
                return items
            rest = text[1:].lstrip()
            if not rest:
                self.pos += 1
                items.append(self._block(indent + 1))
                continue
            inner = indent + (len(text) - len(rest))
            if rest.startswith("- "):
                self.lines[self.pos] = (n, " " * inner + rest)
                items.append(self._sequence(inner))
                continue
            if self._is_mapping_entry(rest):
                # "- key: v" starts a mapping whose column is that of "key"
                self.lines[self.pos] = (n, " " * inner + rest)
                items.append(self._mapping(inner))
                continue
            self.pos += 1
            items.append(self._scalar_or_block(rest, indent, n))

    @staticmethod
    def _is_mapping_entry(text: str) -> bool:
        if text[:1] in "\"'":
            quote = text[0]
            end = text.find(quote, 1)
            return end > 0 and text[end + 1 :].lstrip().startswith(":")
        if text[:1] in "[{":
            return False
        m = re.match(r"^[^:]+?:(\s|$)", text)
        return m is not None

    def _split_key(self, text: str, n: int) -> tuple[str, str]:
        if text[:1] in "\"'":
            quote = text[0]
            end = text.find(quote, 1)
            key = self._quoted(text[: end + 1], n)
            rest = text[end + 1 :].lstrip()
            if not rest.startswith(":"):
                raise YamlError(f"yaml line {n}: expected ':' after key")
            return str(key), rest[1:].strip()
        m = re.match(r"^([^:]+?):(\s+|$)(.*)$", text)
        if not m:
            raise YamlError(f"yaml line {n}: expected 'key: value', got {text!r}")
        key = m.group(1).strip()
        # only a plain key can be an alias, anchor, tag or complex key: a quoted "*" is the string *
        # (k3s' wildcard mirror in registries.yaml)
        if key.startswith(("&", "*", "!", "?")):
            raise YamlError(f"yaml line {n}: anchors, aliases and tags are not supported")
        return key, m.group(3).strip()

    def _mapping(self, indent: int) -> dict[str, Any]:
        out: dict[str, Any] = {}
        while True:
            cur = self._current()
            if cur is None:
                return out
            n, ind, text = cur
            if ind < indent:
                return out
            if ind > indent:
                raise YamlError(f"yaml line {n}: bad indentation")
            if text == "-" or text.startswith("- "):
                return out
            if not self._is_mapping_entry(text):
                raise YamlError(f"yaml line {n}: expected 'key: value', got {text!r}")
            key, rest = self._split_key(text, n)
            if rest.startswith(("&", "*", "!")):
                raise YamlError(f"yaml line {n}: anchors, aliases and tags are not supported")
            if key in out:
                raise YamlError(f"yaml line {n}: duplicate key {key!r}")
            self.pos += 1
            if rest:
                out[key] = self._scalar_or_block(rest, indent, n)
                continue
            nxt = self._current()
            if nxt is None:
                out[key] = None
                continue
            _, nind, ntext = nxt
            if nind > indent:
                out[key] = self._block(nind)
            elif nind == indent and (ntext == "-" or ntext.startswith("- ")):
                out[key] = self._sequence(indent)
            else:
                out[key] = None

    def _scalar_or_block(self, text: str, indent: int, n: int) -> Any:
        if text[:1] in "|>":
            return self._block_scalar(text, indent, n)
        return self._scalar(text, n)

    def _block_scalar(self, header: str, indent: int, n: int) -> str:
        style = header[0]
        chomp = "+" if "+" in header else ("-" if "-" in header else "")
        lines: list[str] = []
        block_indent = -1
        while self.pos < len(self.lines):
            _, raw = self.lines[self.pos]
            if raw.strip() == "":
                lines.append("")
                self.pos += 1
                continue
            ind = len(raw) - len(raw.lstrip(" "))
            if block_indent < 0:
                if ind <= indent:
                    break
                block_indent = ind
            if ind < block_indent:
                break
            lines.append(raw[block_indent:])
            self.pos += 1
        while lines and lines[-1] == "" and chomp != "+":
            lines.pop()
            # keep trailing blanks out of the content; they are chomping's business
        if style == "|":
            body = "\n".join(lines)
        else:
            body = ""
            for i, line in enumerate(lines):
                if i and line and lines[i - 1]:
                    body += " "
                elif i:
                    body += "\n"
                body += line
        if chomp == "-":
            return body
        return body + "\n" if body else body

    def _quoted(self, text: str, n: int) -> str:
        if text[0] == "'":
            if not text.endswith("'") or len(text) < 2:
                raise YamlError(f"yaml line {n}: unterminated quoted string")
            return text[1:-1].replace("''", "'")
        if not text.endswith('"') or len(text) < 2:
            raise YamlError(f"yaml line {n}: unterminated quoted string")
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise YamlError(f"yaml line {n}: bad double-quoted string: {exc}") from exc

    def _scalar(self, text: str, n: int) -> Any:
        text = text.strip()
        if text[:1] in "\"'":
            end = text.rfind(text[0])
            if end > 0 and text[end + 1 :].strip():
                raise YamlError(f"yaml line {n}: content after quoted string")
            return self._quoted(text, n)
        if text.startswith("["):
            return self._flow_seq(text, n)
        if text.startswith("{"):
            return self._flow_map(text, n)
        if text.startswith(("&", "*", "!")):
            raise YamlError(f"yaml line {n}: anchors, aliases and tags are not supported")
        return resolve_scalar(text, self.yaml11)

    def _flow_items(self, body: str, n: int) -> list[str]:
        items, depth, quote, cur = [], 0, "", ""
        for ch in body:
            if quote:
                cur += ch
                if ch == quote:
                    quote = ""
                continue
            if ch in "\"'":
                quote = ch
            elif ch in "[{":
                depth += 1
            elif ch in "]}":
                depth -= 1
            elif ch == "," and depth == 0:
                items.append(cur.strip())
                cur = ""
                continue
            cur += ch
        if quote or depth:
            raise YamlError(f"yaml line {n}: unbalanced flow collection")
        if cur.strip():
            items.append(cur.strip())
        return items

    def _flow_seq(self, text: str, n: int) -> list[Any]:
        if not text.endswith("]"):
            raise YamlError(f"yaml line {n}: multi-line flow sequences are not supported")
        return [self._scalar(item, n) for item in self._flow_items(text[1:-1], n)]

    def _flow_map(self, text: str, n: int) -> dict[str, Any]:
        if not text.endswith("}"):
            raise YamlError(f"yaml line {n}: multi-line flow mappings are not supported")
        out: dict[str, Any] = {}
        for item in self._flow_items(text[1:-1], n):
            key, rest = self._split_key(item, n)
            out[key] = self._scalar(rest, n) if rest else None
        return out


def resolve_scalar(text: str, yaml11: bool = True) -> Any:
    """Type a plain scalar the way Go's yaml.v2 (YAML 1.1) does, which k3s/kubeadm use."""
    if text in ("", "~", "null", "Null", "NULL"):
        return None
    if yaml11:
        if text in _YAML11_TRUE:
            return True
        if text in _YAML11_FALSE:
            return False
    elif text in ("true", "True", "TRUE"):
        return True
    elif text in ("false", "False", "FALSE"):
        return False
    if re.fullmatch(r"[-+]?(0|[1-9][0-9_]*)", text):
        return int(text.replace("_", ""))
    if yaml11 and re.fullmatch(r"[-+]?0[0-7_]+", text):
        return int(text.replace("_", ""), 8)  # YAML 1.1 octal: "0644" is 420
    if re.fullmatch(r"0o[0-7]+", text):
        return int(text[2:], 8)
    if re.fullmatch(r"[-+]?0x[0-9a-fA-F_]+", text):
        return int(text.replace("_", ""), 16)
    if re.fullmatch(r"[-+]?([0-9][0-9_]*)?\.[0-9_]+([eE][-+]?[0-9]+)?", text):
        return float(text.replace("_", ""))
    return text


def yaml_load_all(text: str, yaml11: bool = True) -> list[Any]:
    """Parse a multi-document YAML stream of the supported subset."""
    return _YamlParser(text, yaml11).documents()


def yaml_load(text: str, yaml11: bool = True) -> Any:
    docs = yaml_load_all(text, yaml11)
    if len(docs) > 1:
        raise YamlError("yaml: expected a single document")
    return docs[0] if docs else None


_PLAIN_SAFE = re.compile(r"^[A-Za-z0-9_./][A-Za-z0-9_./:@+=-]*$")


def _yaml_scalar(value: Any) -> str:
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int | float):
        return str(value)
    text = str(value)
    if _PLAIN_SAFE.match(text) and resolve_scalar(text) == text and not text.endswith(":"):
        return text
    return json.dumps(text)


def yaml_dump(value: Any, indent: int = 0) -> str:
    """Emit block YAML that PyYAML, Go yaml and this module's parser all read identically."""
    pad = " " * indent
    if isinstance(value, dict):
        if not value:
            return pad + "{}\n"
        out = []
        for key, item in value.items():
            k = _yaml_scalar(str(key))
            if isinstance(item, dict) and item:
                out.append(f"{pad}{k}:\n{yaml_dump(item, indent + 2)}")
            elif isinstance(item, list) and item:
                out.append(f"{pad}{k}:\n{yaml_dump(item, indent)}")
            elif isinstance(item, dict):
                out.append(f"{pad}{k}: {{}}\n")
            elif isinstance(item, list):
                out.append(f"{pad}{k}: []\n")
            else:
                out.append(f"{pad}{k}: {_yaml_scalar(item)}\n")
        return "".join(out)
    if isinstance(value, list):
        if not value:
            return pad + "[]\n"
        out = []
        for item in value:
            if isinstance(item, dict) and item:
                body = yaml_dump(item, indent + 2)
                out.append(f"{pad}- {body[indent + 2 :]}")
            elif isinstance(item, list) and item:
                out.append(f"{pad}-\n{yaml_dump(item, indent + 2)}")
            elif isinstance(item, dict):
                out.append(f"{pad}- {{}}\n")
            elif isinstance(item, list):
                out.append(f"{pad}- []\n")
            else:
                out.append(f"{pad}- {_yaml_scalar(item)}\n")
        return "".join(out)
    return pad + _yaml_scalar(value) + "\n"


# --------------------------------------------------------------------------------------------
# flag parsing: Go `flag` semantics (urfave/cli v1: k3s) and spf13/pflag (cobra tools)
# --------------------------------------------------------------------------------------------


@dataclass
class Flag:
    """One flag of a real tool. kind: bool | string | opt | int | slice | duration.

    `opt` is a string flag that may be given without a value (pflag's NoOptDefVal: "true").
    """

    name: str
    kind: str = "string"
    default: Any = None
    aliases: tuple[str, ...] = ()
    env: tuple[str, ...] = ()
    split_commas: bool = False
    hidden: bool = False


class FlagError(FakeError):
    """A command-line error, worded exactly like the real parser words it."""


@dataclass
class ParsedArgs:
    values: dict[str, Any] = field(default_factory=dict)
    given: set[str] = field(default_factory=set)
    positional: list[str] = field(default_factory=list)

    def get(self, name: str) -> Any:
        return self.values.get(name)

    def is_set(self, name: str) -> bool:
        return name in self.given


_DURATION = re.compile(r"^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$")


def parse_duration(text: str) -> float:
    """Go time.ParseDuration → seconds."""
    if text == "0":
        return 0.0
    if not _DURATION.match(text):
        raise ValueError(f"time: invalid duration {text!r}")
    units = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
    total = 0.0
    for num, _, unit in re.findall(r"([0-9]+(\.[0-9]+)?)(ns|us|µs|ms|s|m|h)", text):
        total += float(num) * units[unit]
    return total


class FlagSet:
    """A tool's flag table; `parse_go` mimics urfave/cli v1, `parse_pflag` mimics cobra/pflag."""

    def __init__(self, flags: Iterable[Flag]) -> None:
        self.flags: dict[str, Flag] = {}
        self.by_name: dict[str, Flag] = {}
        for f in flags:
            self.flags[f.name] = f
            for n in (f.name, *f.aliases):
                self.by_name[n] = f

    def _defaults(self) -> ParsedArgs:
        out = ParsedArgs()
        for f in self.flags.values():
            if f.kind == "slice":
                out.values[f.name] = list(f.default or [])
            elif f.kind == "bool":
                out.values[f.name] = bool(f.default)
            else:
                out.values[f.name] = f.default
        return out

    def _assign(self, out: ParsedArgs, f: Flag, raw: str, shown: str, style: str) -> None:
        try:
            if f.kind == "bool":
                low = raw.lower()
                if low in ("1", "t", "true"):
                    value: Any = True
                elif low in ("0", "f", "false"):
                    value = False
                else:
                    raise ValueError(raw)
            elif f.kind == "int":
                value = int(raw, 0) if style == "go" else int(raw)
            elif f.kind == "duration":
                parse_duration(raw)
                value = raw
            else:
                value = raw
        except ValueError as exc:
            if style == "go":
                raise FlagError(f'invalid value "{raw}" for flag -{shown}: parse error') from exc
            raise FlagError(f'invalid argument "{raw}" for "--{shown}" flag: {exc}') from exc
        if f.kind == "slice":
            if f.name not in out.given:
                out.values[f.name] = []  # explicit values replace the default
            parts = [p.strip() for p in raw.split(",")] if f.split_commas else [raw]
            out.values[f.name].extend(p for p in parts if p != "")
        else:
            out.values[f.name] = value
        out.given.add(f.name)

    def apply_env(self, out: ParsedArgs, environ: dict[str, str] | None = None) -> None:
        """Fill unset flags from their environment variables (urfave/cli EnvVar semantics)."""
        env = os.environ if environ is None else environ
        for f in self.flags.values():
            if f.name in out.given:
                continue
            for var in f.env:
                if env.get(var, "") != "":
                    self._assign(out, f, env[var], f.name, "go")
                    break

    def parse_go(self, args: Sequence[str]) -> ParsedArgs:
        """Go flag semantics with urfave v1 argument reordering (flags may follow arguments)."""
        out = self._defaults()
        i = 0
        args = list(args)
        while i < len(args):
            arg = args[i]
            if arg == "--":
                out.positional.extend(args[i + 1 :])
                break
            if not arg.startswith("-") or arg == "-":
                out.positional.append(arg)
                i += 1
                continue
            body = arg[2:] if arg.startswith("--") else arg[1:]
            if not body or body.startswith("-") or body.startswith("="):
                raise FlagError(f"bad flag syntax: {arg}")
            name, eq, value = body.partition("=")
            f = self.by_name.get(name)
            if f is None:
                raise FlagError(f"flag provided but not defined: -{name}")
            if f.kind == "bool":
                self._assign(out, f, value if eq else "true", name, "go")
                i += 1
                continue
            if not eq:
                if i + 1 >= len(args):
                    raise FlagError(f"flag needs an argument: -{name}")
                value = args[i + 1]
                i += 1
            self._assign(out, f, value, name, "go")
            i += 1
        return out

    def parse_pflag(self, args: Sequence[str]) -> ParsedArgs:
        """spf13/pflag semantics: --long[=v], -s[v], grouped bool shorthands, interspersed args."""
        out = self._defaults()
        args = list(args)
        i = 0
        while i < len(args):
            arg = args[i]
            if arg == "--":
                out.positional.extend(args[i + 1 :])
                break
            if arg.startswith("--"):
                name, eq, value = arg[2:].partition("=")
                f = self.by_name.get(name)
                if f is None:
                    raise FlagError(f"unknown flag: --{name}")
                if f.kind in ("bool", "opt"):  # opt: pflag NoOptDefVal, e.g. --version[=raw]
                    self._assign(out, f, value if eq else "true", name, "pflag")
                elif eq:
                    self._assign(out, f, value, name, "pflag")
                else:
                    if i + 1 >= len(args):
                        raise FlagError(f"flag needs an argument: --{name}")
                    i += 1
                    self._assign(out, f, args[i], name, "pflag")
                i += 1
                continue
            if arg.startswith("-") and arg != "-":
                shorts = arg[1:]
                j = 0
                while j < len(shorts):
                    c = shorts[j]
                    f = self.by_name.get(c)
                    if f is None:
                        raise FlagError(f"unknown shorthand flag: '{c}' in {arg}")
                    rest = shorts[j + 1 :]
                    if f.kind == "bool":
                        if rest.startswith("="):
                            self._assign(out, f, rest[1:], f.name, "pflag")
                            break
                        self._assign(out, f, "true", f.name, "pflag")
                        j += 1
                        continue
                    if rest:
                        self._assign(out, f, rest.lstrip("="), f.name, "pflag")
                    else:
                        if i + 1 >= len(args):
                            raise FlagError(f"flag needs an argument: '{c}' in -{c}")
                        i += 1
                        self._assign(out, f, args[i], f.name, "pflag")
                    break
                i += 1
                continue
            out.positional.append(arg)
            i += 1
        return out


# --------------------------------------------------------------------------------------------
# certificates through the openssl CLI
# --------------------------------------------------------------------------------------------


def run(cmd: Sequence[str], *, input_data: bytes | None = None, what: str = "") -> bytes:
    """Run a helper command; a failure raises FakeError carrying its stderr."""
    try:
        proc = subprocess.run(list(cmd), input=input_data, capture_output=True, check=False)
    except FileNotFoundError as exc:
        raise FakeError(f"{what or cmd[0]}: {cmd[0]} not found: {exc}") from exc
    if proc.returncode != 0:
        err = proc.stderr.decode(errors="replace").strip()
        raise FakeError(f"{what or ' '.join(cmd[:2])} failed: {err}")
    return proc.stdout


def gen_key_pem() -> bytes:
    """A fresh EC P-256 private key (what k3s and kubeadm generate nowadays)."""
    return run(
        ["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"],
        what="openssl genpkey",
    )


def _subj(cn: str, orgs: Sequence[str] = ()) -> str:
    def esc(v: str) -> str:
        return re.sub(r"([/+=\\])", r"\\\1", v)

    return "".join(f"/O={esc(o)}" for o in orgs) + f"/CN={esc(cn)}"


@dataclass
class CertSpec:
    """What a leaf certificate says: subject, SANs, usages, lifetime."""

    cn: str
    orgs: tuple[str, ...] = ()
    dns: tuple[str, ...] = ()
    ips: tuple[str, ...] = ()
    server: bool = False
    client: bool = False
    days: int = 365


def make_ca(cert_path: str, key_path: str, cn: str, days: int = 3650) -> None:
    """Write a self-signed CA (key 0600)."""
    key = gen_key_pem()
    write_file(key_path, key, 0o600)
    cert = run(
        [
            "openssl",
            "req",
            "-x509",
            "-new",
            "-key",
            key_path,
            "-sha256",
            "-days",
            str(days),
            "-subj",
            _subj(cn),
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,digitalSignature,keyEncipherment,keyCertSign",
        ],
        what=f"openssl req (CA {cn})",
    )
    write_file(cert_path, cert, 0o644)


def _extfile(spec: CertSpec) -> str:
    usages = []
    if spec.server:
        usages.append("serverAuth")
    if spec.client:
        usages.append("clientAuth")
    lines = [
        "basicConstraints=critical,CA:FALSE",
        "keyUsage=critical,digitalSignature,keyEncipherment",
        "authorityKeyIdentifier=keyid",
        "subjectKeyIdentifier=hash",
    ]
    if usages:
        lines.append("extendedKeyUsage=" + ",".join(usages))
    sans = [f"DNS:{d}" for d in dict.fromkeys(spec.dns)] + [f"IP:{i}" for i in dict.fromkeys(spec.ips)]
    if sans:
        lines.append("subjectAltName=" + ",".join(sans))
    return "\n".join(lines) + "\n"


def sign_csr(ca_cert: str, ca_key: str, csr_pem: bytes, spec: CertSpec) -> bytes:
    """Sign a CSR's public key with the CA, imposing the subject and extensions of `spec`."""
    with tempfile.TemporaryDirectory(prefix="fakepki-") as tmp:
        csr_path = os.path.join(tmp, "req.csr")
        ext_path = os.path.join(tmp, "ext.cnf")
        write_file(csr_path, csr_pem, 0o600)
        write_file(ext_path, _extfile(spec), 0o600)
        return run(
            [
                "openssl",
                "x509",
                "-req",
                "-in",
                csr_path,
                "-CA",
                ca_cert,
                "-CAkey",
                ca_key,
                "-set_serial",
                "0x" + secrets.token_hex(16),
                "-days",
                str(spec.days),
                "-sha256",
                "-extfile",
                ext_path,
                "-subj",
                _subj(spec.cn, spec.orgs),
            ],
            what=f"openssl x509 -req (sign {spec.cn})",
        )


def make_csr(key_path: str, cn: str, orgs: Sequence[str] = (), der: bool = False) -> bytes:
    args = ["openssl", "req", "-new", "-key", key_path, "-subj", _subj(cn, orgs)]
    if der:
        args += ["-outform", "DER"]
    return run(args, what="openssl req -new")


def csr_to_pem(data: bytes) -> bytes:
    """Accept a CSR as PEM or DER (k3s agents POST DER) and return PEM."""
    if data.lstrip().startswith(b"-----BEGIN"):
        return data
    return run(
        ["openssl", "req", "-inform", "DER", "-outform", "PEM"],
        input_data=data,
        what="openssl req (DER CSR)",
    )


def issue_cert(ca_cert: str, ca_key: str, cert_path: str, key_path: str, spec: CertSpec) -> None:
    """Generate a key (0600) and a CA-signed leaf certificate."""
    write_file(key_path, gen_key_pem(), 0o600)
    csr = make_csr(key_path, spec.cn, spec.orgs)
    write_file(cert_path, sign_csr(ca_cert, ca_key, csr, spec), 0o644)


def pem_certs(data: str | bytes) -> list[str]:
    text = data.decode() if isinstance(data, bytes) else data
    return re.findall(r"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", text, flags=re.S)


def cert_der_sha256(pem: str) -> str:
    return hashlib.sha256(ssl.PEM_cert_to_DER_cert(pem)).hexdigest()


@dataclass
class CertInfo:
    subject_cn: str
    orgs: list[str]
    issuer_cn: str
    not_after: float
    dns: list[str]
    ips: list[str]
    is_ca: bool


def cert_info(pem: str) -> CertInfo:
    """Decode the fields the fakes check, through `openssl x509 -text`."""
    text = run(
        [
            "openssl",
            "x509",
            "-noout",
            "-subject",
            "-issuer",
            "-enddate",
            "-ext",
            "subjectAltName,basicConstraints",
            "-nameopt",
            "RFC2253",
        ],
        input_data=pem.encode(),
        what="openssl x509 -noout",
    ).decode()
    subject = re.search(r"^subject=(.*)$", text, re.M)
    issuer = re.search(r"^issuer=(.*)$", text, re.M)
    end = re.search(r"^notAfter=(.*)$", text, re.M)

    def rdn(dn: str, attr: str) -> list[str]:
        return [m for m in re.findall(rf"(?:^|,){attr}=((?:\\,|[^,])*)", dn)]

    subj = subject.group(1) if subject else ""
    not_after = 0.0
    if end:
        not_after = (
            _dt.datetime.strptime(end.group(1).strip(), "%b %d %H:%M:%S %Y %Z")
            .replace(tzinfo=_dt.UTC)
            .timestamp()
        )
    return CertInfo(
        subject_cn=(rdn(subj, "CN") or [""])[0],
        orgs=rdn(subj, "O"),
        issuer_cn=(rdn(issuer.group(1) if issuer else "", "CN") or [""])[0],
        not_after=not_after,
        dns=re.findall(r"DNS:([^,\s]+)", text),
        ips=re.findall(r"IP Address:([^,\s]+)", text),
        is_ca="CA:TRUE" in text,
    )


def verify_chain(ca_file: str, cert_file: str) -> bool:
    proc = subprocess.run(
        ["openssl", "verify", "-CAfile", ca_file, cert_file], capture_output=True, check=False
    )
    return proc.returncode == 0


# --------------------------------------------------------------------------------------------
# kubeconfig
# --------------------------------------------------------------------------------------------


def b64(data: str | bytes) -> str:
    raw = data.encode() if isinstance(data, str) else data
    return base64.b64encode(raw).decode()


def kubeconfig(
    server: str,
    ca_pem: str,
    *,
    cert_pem: str = "",
    key_pem: str = "",
    token: str = "",
    cluster: str = "default",
    user: str = "default",
    context: str = "default",
) -> str:
    """A kubeconfig with embedded data, as k3s/kubeadm write them."""
    cred: dict[str, Any] = {}
    if cert_pem:
        cred["client-certificate-data"] = b64(cert_pem)
        cred["client-key-data"] = b64(key_pem)
    if token:
        cred["token"] = token
    doc = {
        "apiVersion": "v1",
        "clusters": [
            {
                "cluster": {"certificate-authority-data": b64(ca_pem), "server": server},
                "name": cluster,
            }
        ],
        "contexts": [{"context": {"cluster": cluster, "user": user}, "name": context}],
        "current-context": context,
        "kind": "Config",
        "preferences": {},
        "users": [{"name": user, "user": cred}],
    }
    return yaml_dump(doc)


@dataclass
class KubeCreds:
    """Where and as whom to talk to an apiserver (client cert as files or in memory)."""

    server: str
    ca_pem: str = ""
    cert_file: str = ""
    key_file: str = ""
    token: str = ""
    insecure: bool = False
    cert_pem: str = ""
    key_pem: str = ""

    def client_cert_pem(self) -> str:
        return self.cert_pem or (read_text(self.cert_file) if self.cert_file else "")

    def client_key_pem(self) -> str:
        return self.key_pem or (read_text(self.key_file) if self.key_file else "")


def load_kubeconfig(path: str) -> KubeCreds:
    """Read the current context of a kubeconfig (embedded data or file references)."""
    cfg = yaml_load(read_text(path))
    ctx_name = cfg.get("current-context")
    ctx = next(c["context"] for c in cfg.get("contexts", []) if c["name"] == ctx_name)
    cluster = next(c["cluster"] for c in cfg["clusters"] if c["name"] == ctx["cluster"])
    user = next(u["user"] for u in cfg["users"] if u["name"] == ctx["user"]) or {}
    base = os.path.dirname(path)

    def ref(p: str) -> str:
        return host_path(p) if p.startswith("/") else os.path.join(base, p)

    ca = ""
    if cluster.get("certificate-authority-data"):
        ca = base64.b64decode(cluster["certificate-authority-data"]).decode()
    elif cluster.get("certificate-authority"):
        ca = read_text(ref(cluster["certificate-authority"]))
    creds = KubeCreds(server=cluster["server"], ca_pem=ca, token=user.get("token", ""))
    creds.insecure = bool(cluster.get("insecure-skip-tls-verify"))
    if user.get("client-certificate-data"):
        creds.cert_pem = base64.b64decode(user["client-certificate-data"]).decode()
        creds.key_pem = base64.b64decode(user["client-key-data"]).decode()
    elif user.get("client-certificate"):
        creds.cert_file = ref(user["client-certificate"])
        creds.key_file = ref(user["client-key"])
    return creds


# --------------------------------------------------------------------------------------------
# HTTP clients: Kubernetes REST and etcd v3 JSON gateway
# --------------------------------------------------------------------------------------------


class HTTPStatusError(FakeError):
    def __init__(self, status: int, body: str, url: str) -> None:
        super().__init__(f"{url}: HTTP {status}: {body.strip()[:300]}")
        self.status = status
        self.body = body


def client_ssl_context(
    ca_pem: str = "",
    cert_file: str = "",
    key_file: str = "",
    insecure: bool = False,
    ca_file: str = "",
    cert_pem: str = "",
    key_pem: str = "",
) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if insecure:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    elif ca_pem:
        ctx.load_verify_locations(cadata=ca_pem)
    elif ca_file:
        ctx.load_verify_locations(cafile=ca_file)
    else:
        ctx.load_default_certs()
    if cert_file:
        ctx.load_cert_chain(cert_file, key_file)
    elif cert_pem:
        # ssl wants files: load from a private temp dir that is gone right after
        with tempfile.TemporaryDirectory(prefix="fakecred-") as tmp:
            crt, key = os.path.join(tmp, "c.crt"), os.path.join(tmp, "c.key")
            write_file(crt, cert_pem, 0o600)
            write_file(key, key_pem, 0o600)
            ctx.load_cert_chain(crt, key)
    return ctx


def http_request(
    url: str,
    *,
    method: str = "GET",
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    context: ssl.SSLContext | None = None,
    timeout: float = 10.0,
) -> tuple[int, bytes, dict[str, str]]:
    """One HTTP(S) request; returns (status, body, headers) for any HTTP status."""
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout, context=context) as resp:
            return resp.status, resp.read(), dict(resp.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(), dict(exc.headers or {})


class KubeClient:
    """Minimal JSON client for the Kubernetes API, with endpoint failover (like k3s' agent LB)."""

    def __init__(self, creds: KubeCreds, extra_servers: Sequence[str] = ()) -> None:
        self.creds = creds
        self.servers = list(dict.fromkeys([creds.server, *extra_servers]))
        self.ctx = client_ssl_context(
            creds.ca_pem,
            creds.cert_file,
            creds.key_file,
            creds.insecure,
            cert_pem=creds.cert_pem,
            key_pem=creds.key_pem,
        )
        self.ctx.check_hostname = False if creds.insecure else self.ctx.check_hostname

    def request(
        self,
        method: str,
        path: str,
        obj: Any = None,
        content_type: str = "application/json",
        ok: Iterable[int] = (200, 201, 202),
    ) -> Any:
        headers = {"Accept": "application/json", "Content-Type": content_type}
        if self.creds.token:
            headers["Authorization"] = f"Bearer {self.creds.token}"
        body = json.dumps(obj).encode() if obj is not None else None
        last: Exception | None = None
        for server in list(self.servers):
            url = server.rstrip("/") + path
            try:
                status, data, _ = http_request(
                    url, method=method, body=body, headers=headers, context=self.ctx
                )
            except (OSError, urllib.error.URLError) as exc:
                last = FakeError(f"{url}: {exc}")
                continue
            if status in set(ok):
                # stick to the server that answered
                self.servers.remove(server)
                self.servers.insert(0, server)
                return json.loads(data) if data else None
            raise HTTPStatusError(status, data.decode(errors="replace"), url)
        raise last or FakeError("no apiserver endpoints")


class EtcdClient:
    """etcd v3 through its JSON gateway (`/v3/kv/...`), over http or https with client certs."""

    def __init__(
        self,
        endpoints: Sequence[str],
        ca_file: str = "",
        cert_file: str = "",
        key_file: str = "",
        timeout: float = 5.0,
    ) -> None:
        if not endpoints:
            raise FakeError("etcd: no endpoints")
        self.endpoints = [e.rstrip("/") for e in endpoints]
        self.timeout = timeout
        self.ctx: ssl.SSLContext | None = None
        if any(e.startswith("https://") for e in self.endpoints):
            self.ctx = client_ssl_context(ca_file=ca_file, cert_file=cert_file, key_file=key_file)
            self.ctx.check_hostname = False  # k3s' etcd certs name the node IP, we may dial 127.0.0.1

    def call(self, path: str, payload: dict[str, Any]) -> dict[str, Any]:
        body = json.dumps(payload).encode()
        errors: list[str] = []
        for ep in list(self.endpoints):
            try:
                status, data, _ = http_request(
                    ep + path,
                    method="POST",
                    body=body,
                    headers={"Content-Type": "application/json"},
                    context=self.ctx,
                    timeout=self.timeout,
                )
            except (OSError, urllib.error.URLError) as exc:
                errors.append(f"{ep}: {exc}")
                continue
            if status == 200:
                if ep != self.endpoints[0]:
                    self.endpoints.remove(ep)
                    self.endpoints.insert(0, ep)
                return json.loads(data)
            errors.append(f"{ep}: HTTP {status}: {data.decode(errors='replace')[:200]}")
        raise FakeError("etcd request failed on every endpoint: " + "; ".join(errors))

    @staticmethod
    def enc(value: str | bytes) -> str:
        return b64(value)

    @staticmethod
    def prefix_end(prefix: str) -> str:
        raw = bytearray(prefix.encode())
        while raw:
            if raw[-1] < 0xFF:
                raw[-1] += 1
                return base64.b64encode(bytes(raw)).decode()
            raw.pop()
        return base64.b64encode(b"\0").decode()

    def health(self) -> bool:
        for ep in self.endpoints:
            try:
                status, data, _ = http_request(ep + "/health", context=self.ctx, timeout=2)
            except (OSError, urllib.error.URLError):
                continue
            if status == 200 and b'"true"' in data:
                return True
        return False

    def member_list(self) -> list[dict[str, Any]]:
        return self.call("/v3/cluster/member/list", {}).get("members", [])

    def member_add(self, peer_urls: Sequence[str], *, learner: bool = False) -> dict[str, Any]:
        body: dict[str, Any] = {"peerURLs": list(peer_urls)}
        if learner:
            body["isLearner"] = True
        return self.call("/v3/cluster/member/add", body)

    def member_promote(self, member_id: str) -> None:
        """Refused by etcd until the learner has caught up with the leader (FakeError then)."""
        self.call("/v3/cluster/member/promote", {"ID": member_id})

    def member_remove(self, member_id: str) -> None:
        self.call("/v3/cluster/member/remove", {"ID": member_id})


# --------------------------------------------------------------------------------------------
# processes and host facts
# --------------------------------------------------------------------------------------------

_PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """preexec: the child gets SIGTERM when the fake dies, like an in-process component would."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


def spawn_child(cmd: Sequence[str], log_path: str) -> subprocess.Popen[bytes]:
    """Start a helper daemon (etcd) that dies with this process; output to a log file."""
    os.makedirs(os.path.dirname(log_path), exist_ok=True)
    log = open(log_path, "ab")  # noqa: SIM115 - handed to the child, closed below
    try:
        return subprocess.Popen(
            list(cmd),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            preexec_fn=die_with_parent,
        )
    finally:
        log.close()


def stop_child(proc: subprocess.Popen[bytes] | None, timeout: float = 10.0) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout)


def wait_until(pred: Callable[[], bool], timeout: float, interval: float = 0.2) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        if pred():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


def hostname() -> str:
    try:
        name = read_text(host_path("/etc/hostname")).strip()
    except OSError:
        name = ""
    return (name or socket.gethostname()).lower()


def default_ip() -> str:
    """The source address of the default route (a UDP connect sends no packet)."""
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_DGRAM)) as s:
        try:
            s.connect(("192.0.2.254", 9))
            return s.getsockname()[0]
        except OSError:
            return "127.0.0.1"


def os_image() -> str:
    with contextlib.suppress(OSError):
        for line in read_text("/etc/os-release").splitlines():
            if line.startswith("PRETTY_NAME="):
                return line.split("=", 1)[1].strip('"')
    return "Linux"


def machine_id() -> str:
    for p in ("/etc/machine-id", "/var/lib/dbus/machine-id"):
        with contextlib.suppress(OSError):
            value = read_text(host_path(p)).strip()
            if value:
                return value
    return hashlib.md5(hostname().encode(), usedforsecurity=False).hexdigest()


def sd_notify(state: str) -> None:
    """Tell systemd we are ready (Type=notify units, as k3s and k0s ship); no-op elsewhere."""
    addr = os.environ.get("NOTIFY_SOCKET", "")
    if not addr:
        return
    if addr.startswith("@"):
        addr = "\0" + addr[1:]
    with contextlib.closing(socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)) as s:
        s.connect(addr)
        s.sendall(state.encode())


def install_term_handler(stop: threading.Event) -> None:
    """SIGTERM/SIGINT set `stop` so the daemon loop shuts down cleanly."""

    def handler(signum: int, frame: Any) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)


def split_kv_list(items: Iterable[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items:
        key, _, value = item.partition("=")
        out[key.strip()] = value.strip()
    return out


def parse_taint(text: str) -> dict[str, str]:
    """`key=value:Effect` or `key:Effect` → a Node taint; rejects bad effects like the kubelet."""
    kv, sep, effect = text.rpartition(":")
    if not sep or effect not in ("NoSchedule", "PreferNoSchedule", "NoExecute"):
        raise FakeError(
            f'invalid taint spec: "{text}"; effect must be NoSchedule, PreferNoSchedule or NoExecute'
        )
    key, _, value = kv.partition("=")
    taint = {"key": key, "effect": effect}
    if value:
        taint["value"] = value
    return taint


# --------------------------------------------------------------------------------------------
# Node objects as kubelets (and k3s/k0s agents) register them
# --------------------------------------------------------------------------------------------


LogFn = Callable[[str, str], None]


def spki_sha256(pem: str) -> str:
    """sha256 of a certificate's SubjectPublicKeyInfo: kubeadm's --discovery-token-ca-cert-hash."""
    der = ssl.PEM_cert_to_DER_cert(pem)

    def tlv(buf: bytes, pos: int) -> tuple[int, int, int]:
        """(tag, start of value, end of value) of the DER element at pos."""
        tag = buf[pos]
        length = buf[pos + 1]
        pos += 2
        if length & 0x80:
            n = length & 0x7F
            length = int.from_bytes(buf[pos : pos + n], "big")
            pos += n
        return tag, pos, pos + length

    _, cert_start, _ = tlv(der, 0)
    _, tbs_start, _ = tlv(der, cert_start)
    pos = tbs_start
    fields = []
    while len(fields) < 7:
        tag, _, vend = tlv(der, pos)
        fields.append((tag, pos, vend))
        pos = vend
    if fields[0][0] != 0xA0:  # v1 certificates have no explicit version field
        fields.insert(0, (0xA0, 0, 0))
    _, spki_start, spki_end = fields[6]
    return hashlib.sha256(der[spki_start:spki_end]).hexdigest()


def node_object(
    name: str,
    ips: list[str],
    ext_ips: list[str],
    version: str,
    labels: dict[str, str],
    taints: list[dict[str, str]],
    annotations: dict[str, str],
    instance_type: str = "",
) -> dict[str, Any]:
    stamp = now_rfc3339()
    addrs = [{"type": "InternalIP", "address": ip} for ip in ips]
    addrs += [{"type": "ExternalIP", "address": ip} for ip in ext_ips]
    addrs.append({"type": "Hostname", "address": name})
    base_labels = {
        "beta.kubernetes.io/arch": "amd64",
        "beta.kubernetes.io/os": "linux",
        "kubernetes.io/arch": "amd64",
        "kubernetes.io/hostname": name,
        "kubernetes.io/os": "linux",
    }
    if instance_type:
        base_labels["node.kubernetes.io/instance-type"] = instance_type
        base_labels["beta.kubernetes.io/instance-type"] = instance_type
    conds = [
        {
            "type": t,
            "status": "False",
            "reason": f"KubeletHas{r}",
            "message": m,
            "lastHeartbeatTime": stamp,
            "lastTransitionTime": stamp,
        }
        for t, r, m in (
            ("MemoryPressure", "SufficientMemory", "kubelet has sufficient memory"),
            ("DiskPressure", "NoDiskPressure", "kubelet has no disk pressure"),
            ("PIDPressure", "SufficientPID", "kubelet has sufficient PID available"),
        )
    ]
    conds.append(
        {
            "type": "Ready",
            "status": "True",
            "reason": "KubeletReady",
            "message": f"kubelet is posting ready status ({FAKE_MARK})",
            "lastHeartbeatTime": stamp,
            "lastTransitionTime": stamp,
        }
    )
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": {**base_labels, **labels}, "annotations": annotations},
        "spec": {"taints": taints, "providerID": f"{instance_type or 'fake'}://{name}"},
        "status": {
            "addresses": addrs,
            "conditions": conds,
            "capacity": {"cpu": str(os.cpu_count() or 1), "memory": "8Gi", "pods": "110"},
            "allocatable": {"cpu": str(os.cpu_count() or 1), "memory": "8Gi", "pods": "110"},
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
            "nodeInfo": {
                "architecture": "amd64",
                "bootID": secrets.token_hex(16),
                "containerRuntimeVersion": f"containerd://1.7.20-{FAKE_MARK}",
                "kernelVersion": os.uname().release,
                "kubeProxyVersion": version,
                "kubeletVersion": version,
                "machineID": machine_id(),
                "operatingSystem": "linux",
                "osImage": os_image(),
                "systemUUID": machine_id(),
            },
        },
    }


def register_node(client: KubeClient, node: dict[str, Any], log_fn: LogFn = klog) -> None:
    """Create our Node, or (restart/upgrade) update labels, addresses and nodeInfo in place."""
    name = node["metadata"]["name"]
    try:
        client.request("POST", "/api/v1/nodes", node)
        log_fn("info", f"Registered node {name} ({node['status']['nodeInfo']['kubeletVersion']})")
        return
    except HTTPStatusError as exc:
        if exc.status != 409:
            raise
    patch = {
        "metadata": {
            "labels": node["metadata"]["labels"],
            "annotations": node["metadata"]["annotations"],
        }
    }
    client.request("PATCH", f"/api/v1/nodes/{name}", patch, content_type="application/merge-patch+json")
    client.request(
        "PATCH",
        f"/api/v1/nodes/{name}/status",
        {"status": node["status"]},
        content_type="application/merge-patch+json",
    )
    log_fn("info", f"Updated existing node {name} ({node['status']['nodeInfo']['kubeletVersion']})")


def heartbeat_once(client: KubeClient, name: str, log_fn: LogFn = klog) -> bool:
    """One node-status update like the kubelet's; False when the Node no longer exists."""
    stamp = now_rfc3339()
    try:
        node = client.request("GET", f"/api/v1/nodes/{name}")
        conds = node.get("status", {}).get("conditions", [])
        for c in conds:
            if c.get("status") == "Unknown" or (c["type"] == "Ready" and c.get("status") != "True"):
                c["lastTransitionTime"] = stamp
            c["status"] = "True" if c["type"] == "Ready" else "False"
            c["lastHeartbeatTime"] = stamp
            c["reason"] = "KubeletReady" if c["type"] == "Ready" else c.get("reason", "")
        client.request(
            "PATCH",
            f"/api/v1/nodes/{name}/status",
            {"status": {"conditions": conds}},
            content_type="application/merge-patch+json",
        )
        taints = node.get("spec", {}).get("taints") or []
        kept = [t for t in taints if t.get("key") != "node.kubernetes.io/unreachable"]
        if kept != taints:
            client.request(
                "PATCH",
                f"/api/v1/nodes/{name}",
                {"spec": {"taints": kept}},
                content_type="application/merge-patch+json",
            )
    except HTTPStatusError as exc:
        if exc.status == 404:
            return False
        log_fn("warning", f"Failed to update node status: {exc}")
    except FakeError as exc:
        log_fn("warning", f"Failed to update node status: {exc}")
    return True


def heartbeat_loop(
    client: KubeClient, name: str, interval: float, stop: threading.Event, log_fn: LogFn = klog
) -> None:
    """Post node status every `interval`; a deleted Node is not recreated until restart."""
    warned = False
    while not stop.wait(interval):
        if heartbeat_once(client, name, log_fn):
            warned = False
        elif not warned:
            log_fn("error", f"Node {name} not found; not re-registering until restart")
            warned = True


# --------------------------------------------------------------------------------------------
# upstream facts (tests/fakes/upstream/<tool>/<release>.yaml): what a fake enforces, with provenance
# --------------------------------------------------------------------------------------------

UPSTREAM_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "upstream")


def upstream_text(tool: str, release: str) -> str | None:
    """The data file's text: beside this module (tests, launchers), else the copy embedded below
    (a bundled fake is one file on a host); None when neither has it."""
    if not re.fullmatch(r"[a-z0-9-]+", tool) or not re.fullmatch(r"v[0-9][0-9A-Za-z.+-]*", release):
        raise FakeError(f"bad upstream data name {tool}/{release}")
    path = os.path.join(UPSTREAM_DIR, tool, f"{release}.yaml")
    if os.path.isfile(path):
        return read_text(path)
    return EMBEDDED_UPSTREAM.get(f"{tool}/{release}")


def upstream(tool: str, release: str) -> dict[str, Any] | None:
    """The facts of ``tool`` at ``release`` with ``inherits`` resolved (a release file lists only
    what changed since the one it inherits: top-level keys replace the parent's)."""
    text = upstream_text(tool, release)
    if text is None:
        return None
    doc = yaml_load(text) or {}
    parent = doc.get("inherits")
    if not parent:
        return doc
    base = upstream(tool, str(parent))
    if base is None:
        raise FakeError(f"upstream data {tool}/{release} inherits {parent}, which is missing")
    return {**base, **{k: v for k, v in doc.items() if k != "inherits"}}


def flag_from_spec(spec: str) -> Flag:
    """``name[/short]:type[=default]`` (the data files' flag notation) → Flag."""
    m = re.fullmatch(r"([a-z0-9-]+)(?:/([a-z]))?:(bool|int|string|slice|duration)(?:=(.*))?", spec)
    if not m:
        raise FakeError(f"bad flag spec in upstream data: {spec!r}")
    name, short, kind, default = m.groups()
    aliases = (short,) if short else ()
    if kind == "bool":
        return Flag(name, "bool", default == "true", aliases=aliases)
    if kind == "int":
        return Flag(name, "int", int(default or 0), aliases=aliases)
    if kind == "slice":
        return Flag(name, "slice", default.split(",") if default else None, aliases, split_commas=True)
    return Flag(name, kind, default, aliases=aliases)


def unknown_fields(doc: Any, type_name: str, types: dict[str, Any], where: str = "") -> list[str]:
    """Field paths of ``doc`` that the schema's ``type_name`` does not know (json names, recursive)."""
    if type_name.startswith("[]"):
        if not isinstance(doc, list):
            return []
        return [
            p
            for i, item in enumerate(doc)
            for p in unknown_fields(item, type_name[2:], types, f"{where}[{i}]")
        ]
    fields = types.get(type_name)
    if fields is None or not isinstance(doc, dict):
        return []  # a scalar or a map: nothing to check by name
    out = []
    for key, value in doc.items():
        path = f"{where}.{key}" if where else str(key)
        if key not in fields:
            out.append(path)
        else:
            out += unknown_fields(value, str(fields[key]), types, path)
    return out


#: generated by embed_upstream() from tests/fakes/upstream/kubernetes/*.yaml; do not edit by hand
EMBEDDED_UPSTREAM: dict[str, str] = {
    "kubernetes/v1.34": '# Facts about Kubernetes v1.34 that sealkit\'s fakes and plugin checks rely on (TEST DATA, not shipped).\n# Extracted by reading kubernetes/kubernetes (facts only, no code). Every entry names repo, tag, path.\n# Caveat (also in README.md beside this file): the kubernetes/kubernetes snapshot\n# (1.9 GB) is over the fetch limit, so the files were read from the search index\'s stored copies, whose\n# commits could not be matched to release tags. `tag` is the release the entry is meant for; `checked`\n# says how the fact was read ("index" = a stored copy of the path from v1.31 or later, where the\n# stored copies could be dated by their content). Re-check at the tag when a snapshot can be fetched.\nrelease: v1.34\nrepo: kubernetes/kubernetes\ntag: v1.34.0\nsources:\n  token_create:\n    path: cmd/kubeadm/app/cmd/token.go\n    fact: "token create: flags config, print-join-command, ttl, usages, groups, description, certificate-key; persistent kubeconfig, dry-run; RunCreateToken → tokenphase.CreateNewTokens"\n    checked: index\n  token_exists:\n    path: cmd/kubeadm/app/phases/bootstraptoken/node/token.go\n    fact: "CreateNewTokens = UpdateOrCreateTokens(failIfExists=true): \'a token with id %q already exists\'; kubeadm init uses failIfExists=false"\n    checked: index\n  mixed_args:\n    path: cmd/kubeadm/app/apis/kubeadm/validation/validation.go\n    fact: "ValidateMixedArguments/isAllowedFlag: --config mixes only with config, ignore-preflight-errors, dry-run, kubeconfig, node-name, kubeconfig-dir, upload-certs, print-join-command, rootfs, v, log-file and skip-*"\n    checked: index\n  strict_decoding:\n    path: cmd/kubeadm/app/util/config/initconfiguration.go\n    fact: "BytesToInitConfiguration → documentMapToInitConfiguration(strictErrors=false): unknown fields are a klog warning for init/join/reset/upgrade; an error only for `kubeadm config validate` (ValidateConfig, strictErrors=true)"\n    checked: index\n  api_versions:\n    path: cmd/kubeadm/app/util/config/common.go\n    fact: "validateSupportedVersion: v1alpha1..v1beta2 refused as old API specs; v1beta3 and v1beta4 read"\n    checked: index\n  schema_v1beta4:\n    path: cmd/kubeadm/app/apis/kubeadm/v1beta4/types.go\n    fact: "json field names of InitConfiguration, ClusterConfiguration, JoinConfiguration and their structs; extraArgs/kubeletExtraArgs are []Arg{name,value}"\n    checked: index\n  schema_v1beta3:\n    path: cmd/kubeadm/app/apis/kubeadm/v1beta3/types.go\n    fact: "json field names; extraArgs/kubeletExtraArgs are map[string]string; timeouts, proxy, dryRun, encryptionAlgorithm absent"\n    checked: index\n  bootstrap_token:\n    path: cmd/kubeadm/app/apis/bootstraptoken/v1/types.go\n    fact: "BootstrapToken fields token, description, ttl, expires, usages, groups"\n    checked: index\n  flags_init_join_reset_upgrade:\n    path: cmd/kubeadm/app/cmd/options/constant.go\n    fact: "flag names of init, join, reset, upgrade apply|node (registered in cmd/kubeadm/app/cmd/{init,join,reset}.go, cmd/kubeadm/app/cmd/upgrade/{apply,node,common}.go)"\n    checked: index\n  kube_apiserver_flags:\n    path: "cmd/kube-apiserver/app/options/options.go; pkg/controlplane/apiserver/options/options.go; pkg/kubeapiserver/options/{authentication,authorization}.go; staging/src/k8s.io/apiserver/pkg/server/options/{serving,authentication,etcd,admission,server_run_options}.go"\n    fact: "flag names of the kube-apiserver flags the binary runtime renders"\n    checked: index\n  kube_controller_manager_flags:\n    path: "cmd/kube-controller-manager/app/options/*.go; staging/src/k8s.io/controller-manager/config/options; staging/src/k8s.io/apiserver/pkg/server/options/{serving,authentication,authorization}.go"\n    fact: "flag names of the controller-manager flags the binary runtime renders"\n    checked: index\n  kube_scheduler_flags:\n    path: "cmd/kube-scheduler/app/options/options.go; staging/src/k8s.io/component-base/config/options/leaderelectionconfig.go"\n    fact: "flag names of the scheduler flags the binary runtime renders"\n    checked: index\n  kubelet_flags:\n    path: cmd/kubelet/app/options/options.go\n    fact: "flag names of the kubelet flags sealkit renders (binary unit ExecStart, kubeadm kubeletExtraArgs)"\n    checked: index\n  kube_proxy_flags:\n    path: cmd/kube-proxy/app/options.go\n    fact: "flag names of the kube-proxy flags sealkit renders"\n    checked: index\n\nkubeadm:\n  # `init`/`join` read their config with strictErrors=false: unknown fields are warned, not refused;\n  # `config validate` refuses them (strict_decoding above)\n  unknown_field: warn\n  api_versions:\n    - kubeadm.k8s.io/v1beta3\n    - kubeadm.k8s.io/v1beta4\n  old_api_versions:\n    - kubeadm.k8s.io/v1alpha1\n    - kubeadm.k8s.io/v1alpha2\n    - kubeadm.k8s.io/v1alpha3\n    - kubeadm.k8s.io/v1beta1\n    - kubeadm.k8s.io/v1beta2\n  # flags: name[/shorthand]:type[=default]; types bool, int, string, slice, duration\n  commands:\n    init:\n      - apiserver-advertise-address:string\n      - apiserver-bind-port:int=6443\n      - apiserver-cert-extra-sans:slice\n      - cert-dir:string=/etc/kubernetes/pki\n      - certificate-key:string\n      - config:string\n      - control-plane-endpoint:string\n      - cri-socket:string\n      - dry-run:bool\n      - feature-gates:string\n      - ignore-preflight-errors:slice\n      - image-repository:string=registry.k8s.io\n      - kubernetes-version:string\n      - node-name:string\n      - patches:string\n      - pod-network-cidr:string\n      - service-cidr:string=10.96.0.0/12\n      - service-dns-domain:string=cluster.local\n      - skip-certificate-key-print:bool\n      - skip-phases:slice\n      - skip-token-print:bool\n      - token:string\n      - token-ttl:duration=24h0m0s\n      - upload-certs:bool\n    join:\n      - apiserver-advertise-address:string\n      - apiserver-bind-port:int=6443\n      - certificate-key:string\n      - config:string\n      - control-plane:bool\n      - cri-socket:string\n      - discovery-file:string\n      - discovery-token:string\n      - discovery-token-ca-cert-hash:slice\n      - discovery-token-unsafe-skip-ca-verification:bool\n      - dry-run:bool\n      - ignore-preflight-errors:slice\n      - node-name:string\n      - patches:string\n      - skip-phases:slice\n      - tls-bootstrap-token:string\n      - token:string\n    reset:\n      - cert-dir:string=/etc/kubernetes/pki\n      - cleanup-tmp-dir:bool\n      - config:string\n      - cri-socket:string\n      - dry-run:bool\n      - force/f:bool\n      - ignore-preflight-errors:slice\n      - kubeconfig:string=/etc/kubernetes/admin.conf\n      - skip-phases:slice\n    upgrade apply:\n      - allow-experimental-upgrades:bool\n      - allow-release-candidate-upgrades:bool\n      - certificate-renewal:bool=true\n      - config:string\n      - dry-run:bool\n      - etcd-upgrade:bool=true\n      - feature-gates:string\n      - force/f:bool\n      - ignore-preflight-errors:slice\n      - kubeconfig:string=/etc/kubernetes/admin.conf\n      - patches:string\n      - print-config:bool\n      - skip-phases:slice\n      - yes/y:bool\n    upgrade node:\n      - certificate-renewal:bool=true\n      - config:string\n      - dry-run:bool\n      - etcd-upgrade:bool=true\n      - ignore-preflight-errors:slice\n      - kubeconfig:string=/etc/kubernetes/admin.conf\n      - patches:string\n      - skip-phases:slice\n    token create:\n      - certificate-key:string\n      - config:string\n      - description:string\n      - dry-run:bool\n      - groups:slice=system:bootstrappers:kubeadm:default-node-token\n      - kubeconfig:string=/etc/kubernetes/admin.conf\n      - print-join-command:bool\n      - ttl:duration=24h0m0s\n      - usages:slice=signing,authentication\n    token list:\n      - kubeconfig:string=/etc/kubernetes/admin.conf\n      - dry-run:bool\n      - output/o:string\n      - allow-missing-template-keys:bool=true\n      - show-managed-fields:bool\n    token delete:\n      - kubeconfig:string=/etc/kubernetes/admin.conf\n      - dry-run:bool\n  # flags that may accompany --config (isAllowedFlag of ValidateMixedArguments; skip-* too)\n  mix_with_config:\n    - config\n    - ignore-preflight-errors\n    - dry-run\n    - kubeconfig\n    - node-name\n    - kubeconfig-dir\n    - upload-certs\n    - print-join-command\n    - rootfs\n    - v\n    - log-file\n  # json field names per apiVersion; a type is a scalar (string, bool, int, duration), []T, map, or a\n  # struct named in `types`\n  schemas:\n    kubeadm.k8s.io/v1beta4:\n      kinds:\n        InitConfiguration: InitConfiguration\n        ClusterConfiguration: ClusterConfiguration\n        JoinConfiguration: JoinConfiguration\n        ResetConfiguration: ResetConfiguration\n        UpgradeConfiguration: UpgradeConfiguration\n      types:\n        InitConfiguration: {bootstrapTokens: "[]BootstrapToken", dryRun: bool, nodeRegistration: NodeRegistrationOptions, localAPIEndpoint: APIEndpoint, certificateKey: string, skipPhases: "[]string", patches: Patches, timeouts: Timeouts}\n        ClusterConfiguration: {etcd: Etcd, networking: Networking, kubernetesVersion: string, controlPlaneEndpoint: string, apiServer: APIServer, controllerManager: ControlPlaneComponent, scheduler: ControlPlaneComponent, dns: DNS, proxy: Proxy, certificatesDir: string, imageRepository: string, featureGates: map, clusterName: string, encryptionAlgorithm: string, certificateValidityPeriod: duration, caCertificateValidityPeriod: duration}\n        ControlPlaneComponent: {extraArgs: "[]Arg", extraVolumes: "[]HostPathMount", extraEnvs: "[]map"}\n        APIServer: {extraArgs: "[]Arg", extraVolumes: "[]HostPathMount", extraEnvs: "[]map", certSANs: "[]string"}\n        DNS: {imageRepository: string, imageTag: string, disabled: bool}\n        Proxy: {disabled: bool}\n        APIEndpoint: {advertiseAddress: string, bindPort: int}\n        NodeRegistrationOptions: {name: string, criSocket: string, taints: "[]map", kubeletExtraArgs: "[]Arg", ignorePreflightErrors: "[]string", imagePullPolicy: string, imagePullSerial: bool}\n        Networking: {serviceSubnet: string, podSubnet: string, dnsDomain: string}\n        Etcd: {local: LocalEtcd, external: ExternalEtcd}\n        LocalEtcd: {imageRepository: string, imageTag: string, dataDir: string, extraArgs: "[]Arg", extraEnvs: "[]map", serverCertSANs: "[]string", peerCertSANs: "[]string"}\n        ExternalEtcd: {endpoints: "[]string", caFile: string, certFile: string, keyFile: string}\n        JoinConfiguration: {dryRun: bool, nodeRegistration: NodeRegistrationOptions, caCertPath: string, discovery: Discovery, controlPlane: JoinControlPlane, skipPhases: "[]string", patches: Patches, timeouts: Timeouts}\n        JoinControlPlane: {localAPIEndpoint: APIEndpoint, certificateKey: string}\n        Discovery: {bootstrapToken: BootstrapTokenDiscovery, file: FileDiscovery, tlsBootstrapToken: string}\n        BootstrapTokenDiscovery: {token: string, apiServerEndpoint: string, caCertHashes: "[]string", unsafeSkipCAVerification: bool}\n        FileDiscovery: {kubeConfigPath: string}\n        HostPathMount: {name: string, hostPath: string, mountPath: string, readOnly: bool, pathType: string}\n        Patches: {directory: string}\n        Arg: {name: string, value: string}\n        BootstrapToken: {token: string, description: string, ttl: duration, expires: string, usages: "[]string", groups: "[]string"}\n        Timeouts: {controlPlaneComponentHealthCheck: duration, kubeletHealthCheck: duration, kubernetesAPICall: duration, etcdAPICall: duration, tlsBootstrap: duration, discovery: duration, upgradeManifests: duration}\n        ResetConfiguration: {cleanupTmpDir: bool, certificatesDir: string, criSocket: string, dryRun: bool, force: bool, ignorePreflightErrors: "[]string", skipPhases: "[]string", unmountFlags: "[]string", timeouts: Timeouts}\n        UpgradeConfiguration: {apply: map, diff: map, node: map, plan: map, timeouts: Timeouts}\n    kubeadm.k8s.io/v1beta3:\n      kinds:\n        InitConfiguration: InitConfiguration\n        ClusterConfiguration: ClusterConfiguration\n        JoinConfiguration: JoinConfiguration\n      types:\n        InitConfiguration: {bootstrapTokens: "[]BootstrapToken", nodeRegistration: NodeRegistrationOptions, localAPIEndpoint: APIEndpoint, certificateKey: string, skipPhases: "[]string", patches: Patches}\n        ClusterConfiguration: {etcd: Etcd, networking: Networking, kubernetesVersion: string, controlPlaneEndpoint: string, apiServer: APIServer, controllerManager: ControlPlaneComponent, scheduler: ControlPlaneComponent, dns: DNS, certificatesDir: string, imageRepository: string, featureGates: map, clusterName: string}\n        ControlPlaneComponent: {extraArgs: map, extraVolumes: "[]HostPathMount"}\n        APIServer: {extraArgs: map, extraVolumes: "[]HostPathMount", certSANs: "[]string", timeoutForControlPlane: duration}\n        DNS: {imageRepository: string, imageTag: string}\n        APIEndpoint: {advertiseAddress: string, bindPort: int}\n        NodeRegistrationOptions: {name: string, criSocket: string, taints: "[]map", kubeletExtraArgs: map, ignorePreflightErrors: "[]string", imagePullPolicy: string}\n        Networking: {serviceSubnet: string, podSubnet: string, dnsDomain: string}\n        Etcd: {local: LocalEtcd, external: ExternalEtcd}\n        LocalEtcd: {imageRepository: string, imageTag: string, dataDir: string, extraArgs: map, serverCertSANs: "[]string", peerCertSANs: "[]string"}\n        ExternalEtcd: {endpoints: "[]string", caFile: string, certFile: string, keyFile: string}\n        JoinConfiguration: {nodeRegistration: NodeRegistrationOptions, caCertPath: string, discovery: Discovery, controlPlane: JoinControlPlane, skipPhases: "[]string", patches: Patches}\n        JoinControlPlane: {localAPIEndpoint: APIEndpoint, certificateKey: string}\n        Discovery: {bootstrapToken: BootstrapTokenDiscovery, file: FileDiscovery, tlsBootstrapToken: string, timeout: duration}\n        BootstrapTokenDiscovery: {token: string, apiServerEndpoint: string, caCertHashes: "[]string", unsafeSkipCAVerification: bool}\n        FileDiscovery: {kubeConfigPath: string}\n        HostPathMount: {name: string, hostPath: string, mountPath: string, readOnly: bool, pathType: string}\n        Patches: {directory: string}\n        BootstrapToken: {token: string, description: string, ttl: duration, expires: string, usages: "[]string", groups: "[]string"}\n\n# component flags sealkit renders (binary runtime units, kubeadm kubeletExtraArgs): names only\ncomponents:\n  kube-apiserver:\n    - advertise-address\n    - allow-privileged\n    - authorization-mode\n    - bind-address\n    - client-ca-file\n    - enable-admission-plugins\n    - enable-bootstrap-token-auth\n    - etcd-cafile\n    - etcd-certfile\n    - etcd-keyfile\n    - etcd-servers\n    - kubelet-certificate-authority\n    - kubelet-client-certificate\n    - kubelet-client-key\n    - kubelet-preferred-address-types\n    - proxy-client-cert-file\n    - proxy-client-key-file\n    - requestheader-allowed-names\n    - requestheader-client-ca-file\n    - requestheader-extra-headers-prefix\n    - requestheader-group-headers\n    - requestheader-username-headers\n    - secure-port\n    - service-account-issuer\n    - service-account-key-file\n    - service-account-signing-key-file\n    - service-cluster-ip-range\n    - tls-cert-file\n    - tls-private-key-file\n  kube-controller-manager:\n    - allocate-node-cidrs\n    - authentication-kubeconfig\n    - authorization-kubeconfig\n    - bind-address\n    - client-ca-file\n    - cluster-cidr\n    - cluster-name\n    - cluster-signing-cert-file\n    - cluster-signing-duration\n    - cluster-signing-key-file\n    - controllers\n    - kubeconfig\n    - leader-elect\n    - requestheader-client-ca-file\n    - root-ca-file\n    - service-account-private-key-file\n    - service-cluster-ip-range\n    - use-service-account-credentials\n  kube-scheduler:\n    - authentication-kubeconfig\n    - authorization-kubeconfig\n    - bind-address\n    - kubeconfig\n    - leader-elect\n  kubelet:\n    - bootstrap-kubeconfig\n    - config\n    - container-runtime-endpoint\n    - hostname-override\n    - kubeconfig\n    - node-ip\n    - node-labels\n  kube-proxy:\n    - config\n    - cleanup\n  # flags the kubelet no longer has (cmd/kubelet/app/options/options.go): refused if rendered\n  removed:\n    kubelet:\n      - container-runtime\n      - network-plugin\n      - logtostderr\n',  # noqa: E501
    "kubernetes/v1.35": "# Kubernetes v1.35: what differs from v1.34 for the facts in v1.34.yaml (TEST DATA, not shipped).\n# No difference was found in the subcommands, flags and kubeadm config fields sealkit uses; read from\n# the same kubernetes/kubernetes paths as v1.34.yaml (see its caveat on tags).\nrelease: v1.35\nrepo: kubernetes/kubernetes\ntag: v1.35.0\ninherits: v1.34\n",  # noqa: E501
    "kubernetes/v1.36": "# Kubernetes v1.36: what differs from v1.35 for the facts in v1.34.yaml (TEST DATA, not shipped).\n# v1beta3 is still read (kind and kindest mark its removal for v1.37, per their v1beta4 switch; the\n# kubernetes/kubernetes snapshot shows v1.37 only as alpha). No other difference found.\nrelease: v1.36\nrepo: kubernetes/kubernetes\ntag: v1.36.0\ninherits: v1.35\n",  # noqa: E501
    "k0s/v1.30.4+k0s.0": '# k0s v1.30.4+k0s.0: ClusterConfig (k0s.yaml) fields, extracted by tests/fakes/upstream/k0s/extract.py\n# from the source at the tag; facts only (names, decoders), no upstream code or prose.\ntool: k0s\nrelease: v1.30.4+k0s.0\nrepo: k0sproject/k0s\ntag: v1.30.4+k0s.0\ncommit: ee185e719fb2f408fb22827094d8944fbcf4afe9\nclusterconfig:\n  apiVersion: k0s.k0sproject.io/v1beta1\n  kinds: [ClusterConfig]\n  root: ClusterConfig\n  strict_source:\n    repo: k0sproject/k0s\n    tag: v1.30.4+k0s.0\n    path: pkg/apis/k0s/v1beta1/clusterconfig_types.go\n  ignored_unknown: [interval, podSecurityPolicy]\n  types:\n    APISpec:\n      path: pkg/apis/k0s/v1beta1/api.go\n      decoder: own\n      fields:\n        address: "scalar"\n        externalAddress: "scalar"\n        extraArgs: "map"\n        k0sApiPort: "scalar"\n        port: "scalar"\n        sans: "list"\n    Calico:\n      path: pkg/apis/k0s/v1beta1/calico.go\n      decoder: own\n      fields:\n        envVars: "map"\n        flexVolumeDriverPath: "scalar"\n        ipAutodetectionMethod: "scalar"\n        ipV6AutodetectionMethod: "scalar"\n        mode: "scalar"\n        mtu: "scalar"\n        overlay: "scalar"\n        vxlanPort: "scalar"\n        vxlanVNI: "scalar"\n        wireguard: "scalar"\n    CalicoImageSpec:\n      path: pkg/apis/k0s/v1beta1/images.go\n      decoder: inherited\n      fields:\n        cni: "ImageSpec"\n        kubecontrollers: "ImageSpec"\n        node: "ImageSpec"\n    Chart:\n      path: pkg/apis/k0s/v1beta1/extensions.go\n      decoder: inherited\n      fields:\n        chartname: "scalar"\n        name: "scalar"\n        namespace: "scalar"\n        order: "scalar"\n        timeout: "scalar"\n        values: "scalar"\n        version: "scalar"\n    ClusterConfig:\n      path: pkg/apis/k0s/v1beta1/clusterconfig_types.go\n      decoder: inherited\n      fields:\n        apiVersion: "scalar"\n        kind: "scalar"\n        metadata: "opaque"\n        spec: "ClusterSpec"\n        status: "ClusterConfigStatus"\n    ClusterConfigStatus:\n      path: pkg/apis/k0s/v1beta1/clusterconfig_types.go\n      decoder: inherited\n      fields:\n    ClusterExtensions:\n      path: pkg/apis/k0s/v1beta1/extensions.go\n      decoder: inherited\n      fields:\n        helm: "HelmExtensions"\n        storage: "StorageExtension"\n    ClusterImages:\n      path: pkg/apis/k0s/v1beta1/images.go\n      decoder: own\n      fields:\n        calico: "CalicoImageSpec"\n        coredns: "ImageSpec"\n        default_pull_policy: "scalar"\n        konnectivity: "ImageSpec"\n        kubeproxy: "ImageSpec"\n        kuberouter: "KubeRouterImageSpec"\n        metricsserver: "ImageSpec"\n        pause: "ImageSpec"\n        pushgateway: "ImageSpec"\n        repository: "scalar"\n    ClusterSpec:\n      path: pkg/apis/k0s/v1beta1/clusterconfig_types.go\n      decoder: inherited\n      fields:\n        api: "APISpec"\n        controllerManager: "ControllerManagerSpec"\n        extensions: "ClusterExtensions"\n        featureGates: "[]FeatureGate"\n        images: "ClusterImages"\n        installConfig: "InstallSpec"\n        konnectivity: "KonnectivitySpec"\n        network: "Network"\n        scheduler: "SchedulerSpec"\n        storage: "StorageSpec"\n        telemetry: "ClusterTelemetry"\n        workerProfiles: "[]WorkerProfile"\n    ClusterTelemetry:\n      path: pkg/apis/k0s/v1beta1/telemetry.go\n      decoder: inherited\n      fields:\n        enabled: "scalar"\n    ControlPlaneLoadBalancingSpec:\n      path: pkg/apis/k0s/v1beta1/cplb.go\n      decoder: inherited\n      fields:\n        enabled: "scalar"\n        keepalived: "KeepalivedSpec"\n        type: "scalar"\n    ControllerManagerSpec:\n      path: pkg/apis/k0s/v1beta1/clusterconfig_types.go\n      decoder: inherited\n      fields:\n        extraArgs: "map"\n    DualStack:\n      path: pkg/apis/k0s/v1beta1/dualstack.go\n      decoder: inherited\n      fields:\n        IPv6podCIDR: "scalar"\n        IPv6serviceCIDR: "scalar"\n        enabled: "scalar"\n    EnvoyProxy:\n      path: pkg/apis/k0s/v1beta1/nllb.go\n      decoder: own\n      fields:\n        apiServerBindPort: "scalar"\n        image: "ImageSpec"\n        imagePullPolicy: "opaque"\n        konnectivityServerBindPort: "scalar"\n    EtcdConfig:\n      path: pkg/apis/k0s/v1beta1/storage.go\n      decoder: inherited\n      fields:\n        externalCluster: "ExternalCluster"\n        extraArgs: "map"\n        peerAddress: "scalar"\n    ExternalCluster:\n      path: pkg/apis/k0s/v1beta1/storage.go\n      decoder: inherited\n      fields:\n        caFile: "scalar"\n        clientCertFile: "scalar"\n        clientKeyFile: "scalar"\n        endpoints: "list"\n        etcdPrefix: "scalar"\n    FeatureGate:\n      path: pkg/apis/k0s/v1beta1/feature_gates.go\n      decoder: inherited\n      fields:\n        components: "list"\n        enabled: "scalar"\n        name: "scalar"\n    HelmExtensions:\n      path: pkg/apis/k0s/v1beta1/extensions.go\n      decoder: inherited\n      fields:\n        charts: "[]Chart"\n        concurrencyLevel: "scalar"\n        repositories: "[]Repository"\n    ImageSpec:\n      path: pkg/apis/k0s/v1beta1/images.go\n      decoder: inherited\n      fields:\n        image: "scalar"\n        version: "scalar"\n    InstallSpec:\n      path: pkg/apis/k0s/v1beta1/clusterconfig_types.go\n      decoder: inherited\n      fields:\n        users: "SystemUser"\n    KeepalivedSpec:\n      path: pkg/apis/k0s/v1beta1/cplb.go\n      decoder: inherited\n      fields:\n        virtualServers: "[]VirtualServer"\n        vrrpInstances: "[]VRRPInstance"\n    KineConfig:\n      path: pkg/apis/k0s/v1beta1/storage.go\n      decoder: inherited\n      fields:\n        dataSource: "scalar"\n    KonnectivitySpec:\n      path: pkg/apis/k0s/v1beta1/konnectivity.go\n      decoder: inherited\n      fields:\n        adminPort: "scalar"\n        agentPort: "scalar"\n    KubeProxy:\n      path: pkg/apis/k0s/v1beta1/kubeproxy.go\n      decoder: inherited\n      fields:\n        disabled: "scalar"\n        iptables: "KubeProxyIPTablesConfiguration"\n        ipvs: "KubeProxyIPVSConfiguration"\n        metricsBindAddress: "scalar"\n        mode: "scalar"\n        nodePortAddresses: "list"\n    KubeProxyIPTablesConfiguration:\n      path: pkg/apis/k0s/v1beta1/kubeproxy.go\n      decoder: inherited\n      fields:\n        localhostNodePorts: "scalar"\n        masqueradeAll: "scalar"\n        masqueradeBit: "scalar"\n        minSyncPeriod: "scalar"\n        syncPeriod: "scalar"\n    KubeProxyIPVSConfiguration:\n      path: pkg/apis/k0s/v1beta1/kubeproxy.go\n      decoder: inherited\n      fields:\n        excludeCIDRs: "list"\n        minSyncPeriod: "scalar"\n        scheduler: "scalar"\n        strictARP: "scalar"\n        syncPeriod: "scalar"\n        tcpFinTimeout: "scalar"\n        tcpTimeout: "scalar"\n        udpTimeout: "scalar"\n    KubeRouter:\n      path: pkg/apis/k0s/v1beta1/kuberouter.go\n      decoder: inherited\n      fields:\n        autoMTU: "scalar"\n        extraArgs: "map"\n        hairpin: "scalar"\n        hairpinMode: "scalar"\n        ipMasq: "scalar"\n        metricsPort: "scalar"\n        mtu: "scalar"\n        peerRouterASNs: "scalar"\n        peerRouterIPs: "scalar"\n    KubeRouterImageSpec:\n      path: pkg/apis/k0s/v1beta1/images.go\n      decoder: inherited\n      fields:\n        cni: "ImageSpec"\n        cniInstaller: "ImageSpec"\n    Network:\n      path: pkg/apis/k0s/v1beta1/network.go\n      decoder: own\n      fields:\n        calico: "Calico"\n        clusterDomain: "scalar"\n        controlPlaneLoadBalancing: "ControlPlaneLoadBalancingSpec"\n        dualStack: "DualStack"\n        kubeProxy: "KubeProxy"\n        kuberouter: "KubeRouter"\n        nodeLocalLoadBalancing: "NodeLocalLoadBalancing"\n        podCIDR: "scalar"\n        provider: "scalar"\n        serviceCIDR: "scalar"\n    NodeLocalLoadBalancing:\n      path: pkg/apis/k0s/v1beta1/nllb.go\n      decoder: own\n      fields:\n        enabled: "scalar"\n        envoyProxy: "EnvoyProxy"\n        type: "scalar"\n    Repository:\n      path: pkg/apis/k0s/v1beta1/extensions.go\n      decoder: inherited\n      fields:\n        caFile: "scalar"\n        certFile: "scalar"\n        insecure: "scalar"\n        keyfile: "scalar"\n        name: "scalar"\n        password: "scalar"\n        url: "scalar"\n        username: "scalar"\n    SchedulerSpec:\n      path: pkg/apis/k0s/v1beta1/clusterconfig_types.go\n      decoder: inherited\n      fields:\n        extraArgs: "map"\n    StorageExtension:\n      path: pkg/apis/k0s/v1beta1/storageextensions.go\n      decoder: inherited\n      fields:\n        create_default_storage_class: "scalar"\n        type: "scalar"\n    StorageSpec:\n      path: pkg/apis/k0s/v1beta1/storage.go\n      decoder: own\n      fields:\n        etcd: "EtcdConfig"\n        kine: "KineConfig"\n        type: "scalar"\n    SystemUser:\n      path: pkg/apis/k0s/v1beta1/system.go\n      decoder: inherited\n      fields:\n        etcdUser: "scalar"\n        kineUser: "scalar"\n        konnectivityUser: "scalar"\n        kubeAPIserverUser: "scalar"\n        kubeSchedulerUser: "scalar"\n    VRRPInstance:\n      path: pkg/apis/k0s/v1beta1/cplb.go\n      decoder: inherited\n      fields:\n        advertIntervalSeconds: "scalar"\n        authPass: "scalar"\n        interface: "scalar"\n        virtualIPs: "list"\n        virtualRouterID: "scalar"\n    VirtualServer:\n      path: pkg/apis/k0s/v1beta1/cplb.go\n      decoder: inherited\n      fields:\n        delayLoop: "scalar"\n        ipAddress: "scalar"\n        lbAlgo: "scalar"\n        lbKind: "scalar"\n        persistenceTimeoutSeconds: "scalar"\n    WorkerProfile:\n      path: pkg/apis/k0s/v1beta1/workerprofile.go\n      decoder: inherited\n      fields:\n        name: "scalar"\n        values: "opaque"\ncommands:\n  install controller:\n    source:\n      repo: k0sproject/k0s\n      tag: v1.30.4+k0s.0\n      paths: [cmd/install/controller.go, cmd/install/install.go, pkg/config/cli.go, cmd/internal/debug.go]\n    flags:\n      cidr-range:\n        short: ""\n        value: true\n      config:\n        short: "c"\n        value: true\n      cri-socket:\n        short: ""\n        value: true\n      data-dir:\n        short: ""\n        value: true\n      debug:\n        short: "d"\n        value: false\n      debugListenOn:\n        short: ""\n        value: true\n      disable-components:\n        short: ""\n        value: true\n      enable-cloud-provider:\n        short: ""\n        value: false\n      enable-dynamic-config:\n        short: ""\n        value: false\n      enable-k0s-cloud-provider:\n        short: ""\n        value: false\n      enable-metrics-scraper:\n        short: ""\n        value: false\n      enable-worker:\n        short: ""\n        value: false\n      env:\n        short: "e"\n        value: true\n      force:\n        short: ""\n        value: false\n      iptables-mode:\n        short: ""\n        value: true\n      k0s-cloud-provider-port:\n        short: ""\n        value: true\n      k0s-cloud-provider-update-frequency:\n        short: ""\n        value: true\n      kube-controller-manager-extra-args:\n        short: ""\n        value: true\n      kubelet-extra-args:\n        short: ""\n        value: true\n      labels:\n        short: ""\n        value: true\n      logging:\n        short: "l"\n        value: true\n      no-taints:\n        short: ""\n        value: false\n      profile:\n        short: ""\n        value: true\n      single:\n        short: ""\n        value: false\n      status-socket:\n        short: ""\n        value: true\n      taints:\n        short: ""\n        value: true\n      token-file:\n        short: ""\n        value: true\n      verbose:\n        short: "v"\n        value: false\n  install worker:\n    source:\n      repo: k0sproject/k0s\n      tag: v1.30.4+k0s.0\n      paths: [cmd/install/worker.go, cmd/install/install.go, pkg/config/cli.go, cmd/internal/debug.go]\n    flags:\n      cidr-range:\n        short: ""\n        value: true\n      cri-socket:\n        short: ""\n        value: true\n      data-dir:\n        short: ""\n        value: true\n      debug:\n        short: "d"\n        value: false\n      debugListenOn:\n        short: ""\n        value: true\n      enable-cloud-provider:\n        short: ""\n        value: false\n      env:\n        short: "e"\n        value: true\n      force:\n        short: ""\n        value: false\n      iptables-mode:\n        short: ""\n        value: true\n      kubelet-extra-args:\n        short: ""\n        value: true\n      labels:\n        short: ""\n        value: true\n      logging:\n        short: "l"\n        value: true\n      profile:\n        short: ""\n        value: true\n      status-socket:\n        short: ""\n        value: true\n      taints:\n        short: ""\n        value: true\n      token-file:\n        short: ""\n        value: true\n      verbose:\n        short: "v"\n        value: false\n  token create:\n    source:\n      repo: k0sproject/k0s\n      tag: v1.30.4+k0s.0\n      paths: [cmd/token/create.go, cmd/token/token.go, pkg/config/cli.go, cmd/internal/debug.go]\n    flags:\n      data-dir:\n        short: ""\n        value: true\n      debug:\n        short: "d"\n        value: false\n      debugListenOn:\n        short: ""\n        value: true\n      expiry:\n        short: ""\n        value: true\n      role:\n        short: ""\n        value: true\n      status-socket:\n        short: ""\n        value: true\n      verbose:\n        short: "v"\n        value: false\n      wait:\n        short: ""\n        value: false\n  etcd leave:\n    source:\n      repo: k0sproject/k0s\n      tag: v1.30.4+k0s.0\n      paths: [cmd/etcd/leave.go, cmd/etcd/etcd.go, pkg/config/cli.go, cmd/internal/debug.go]\n    flags:\n      data-dir:\n        short: ""\n        value: true\n      debug:\n        short: "d"\n        value: false\n      debugListenOn:\n        short: ""\n        value: true\n      peer-address:\n        short: ""\n        value: true\n      status-socket:\n        short: ""\n        value: true\n      verbose:\n        short: "v"\n        value: false\n',  # noqa: E501
    "k0s/v1.32.13+k0s.0": '# k0s v1.32.13+k0s.0: ClusterConfig (k0s.yaml) fields, extracted by tests/fakes/upstream/k0s/extract.py\n# from the source at the tag; facts only (names, decoders), no upstream code or prose.\ntool: k0s\nrelease: v1.32.13+k0s.0\nrepo: k0sproject/k0s\ntag: v1.32.13+k0s.0\ncommit: 7eb7fccc315348e478d443a8a98cf2a9e3b62dd4\nclusterconfig:\n  apiVersion: k0s.k0sproject.io/v1beta1\n  kinds: [ClusterConfig]\n  root: ClusterConfig\n  strict_source:\n    repo: k0sproject/k0s\n    tag: v1.32.13+k0s.0\n    path: pkg/apis/k0s/v1beta1/clusterconfig_types.go\n  ignored_unknown: [interval, podSecurityPolicy]\n  types:\n    APISpec:\n      path: pkg/apis/k0s/v1beta1/api.go\n      decoder: own\n      fields:\n        address: "scalar"\n        externalAddress: "scalar"\n        extraArgs: "map"\n        k0sApiPort: "scalar"\n        onlyBindToAddress: "scalar"\n        port: "scalar"\n        sans: "list"\n    Calico:\n      path: pkg/apis/k0s/v1beta1/calico.go\n      decoder: own\n      fields:\n        envVars: "map"\n        flexVolumeDriverPath: "scalar"\n        ipAutodetectionMethod: "scalar"\n        ipV6AutodetectionMethod: "scalar"\n        mode: "scalar"\n        mtu: "scalar"\n        overlay: "scalar"\n        vxlanPort: "scalar"\n        vxlanVNI: "scalar"\n        wireguard: "scalar"\n    CalicoImageSpec:\n      path: pkg/apis/k0s/v1beta1/images.go\n      decoder: inherited\n      fields:\n        cni: "ImageSpec"\n        kubecontrollers: "ImageSpec"\n        node: "ImageSpec"\n    Chart:\n      path: pkg/apis/k0s/v1beta1/extensions.go\n      decoder: inherited\n      fields:\n        chartname: "scalar"\n        forceUpgrade: "scalar"\n        name: "scalar"\n        namespace: "scalar"\n        order: "scalar"\n        timeout: "scalar"\n        values: "scalar"\n        version: "scalar"\n    ClusterConfig:\n      path: pkg/apis/k0s/v1beta1/clusterconfig_types.go\n      decoder: inherited\n      fields:\n        apiVersion: "scalar"\n        kind: "scalar"\n        metadata: "opaque"\n        spec: "ClusterSpec"\n        status: "ClusterConfigStatus"\n    ClusterConfigStatus:\n      path: pkg/apis/k0s/v1beta1/clusterconfig_types.go\n      decoder: inherited\n      fields:\n    ClusterExtensions:\n      path: pkg/apis/k0s/v1beta1/extensions.go\n      decoder: inherited\n      fields:\n        helm: "HelmExtensions"\n        storage: "StorageExtension"\n    ClusterImages:\n      path: pkg/apis/k0s/v1beta1/images.go\n      decoder: own\n      fields:\n        calico: "CalicoImageSpec"\n        coredns: "ImageSpec"\n        default_pull_policy: "scalar"\n        konnectivity: "ImageSpec"\n        kubeproxy: "ImageSpec"\n        kuberouter: "KubeRouterImageSpec"\n        metricsserver: "ImageSpec"\n        pause: "ImageSpec"\n        pushgateway: "ImageSpec"\n        repository: "scalar"\n    ClusterSpec:\n      path: pkg/apis/k0s/v1beta1/clusterconfig_types.go\n      decoder: inherited\n      fields:\n        api: "APISpec"\n        controllerManager: "ControllerManagerSpec"\n        extensions: "ClusterExtensions"\n        featureGates: "[]FeatureGate"\n        images: "ClusterImages"\n        installConfig: "InstallSpec"\n        konnectivity: "KonnectivitySpec"\n        network: "Network"\n        scheduler: "SchedulerSpec"\n        storage: "StorageSpec"\n        telemetry: "ClusterTelemetry"\n        workerProfiles: "[]WorkerProfile"\n    ClusterTelemetry:\n      path: pkg/apis/k0s/v1beta1/telemetry.go\n      decoder: inherited\n      fields:\n        enabled: "scalar"\n    ControlPlaneLoadBalancingSpec:\n      path: pkg/apis/k0s/v1beta1/cplb.go\n      decoder: inherited\n      fields:\n        enabled: "scalar"\n        keepalived: "KeepalivedSpec"\n        type: "scalar"\n    ControllerManagerSpec:\n      path: pkg/apis/k0s/v1beta1/clusterconfig_types.go\n      decoder: inherited\n      fields:\n        extraArgs: "map"\n    DualStack:\n      path: pkg/apis/k0s/v1beta1/dualstack.go\n      decoder: inherited\n      fields:\n        IPv6podCIDR: "scalar"\n        IPv6serviceCIDR: "scalar"\n        enabled: "scalar"\n    EnvoyProxy:\n      path: pkg/apis/k0s/v1beta1/nllb.go\n      decoder: own\n      fields:\n        apiServerBindPort: "scalar"\n        image: "ImageSpec"\n        imagePullPolicy: "opaque"\n        konnectivityServerBindPort: "scalar"\n    EtcdConfig:\n      path: pkg/apis/k0s/v1beta1/storage.go\n      decoder: inherited\n      fields:\n        externalCluster: "ExternalCluster"\n        extraArgs: "map"\n        peerAddress: "scalar"\n    ExternalCluster:\n      path: pkg/apis/k0s/v1beta1/storage.go\n      decoder: inherited\n      fields:\n        caFile: "scalar"\n        clientCertFile: "scalar"\n        clientKeyFile: "scalar"\n        endpoints: "list"\n        etcdPrefix: "scalar"\n    FeatureGate:\n      path: pkg/apis/k0s/v1beta1/feature_gates.go\n      decoder: inherited\n      fields:\n        components: "list"\n        enabled: "scalar"\n        name: "scalar"\n    HelmExtensions:\n      path: pkg/apis/k0s/v1beta1/extensions.go\n      decoder: inherited\n      fields:\n        charts: "[]Chart"\n        concurrencyLevel: "scalar"\n        repositories: "[]Repository"\n    ImageSpec:\n      path: pkg/apis/k0s/v1beta1/images.go\n      decoder: inherited\n      fields:\n        image: "scalar"\n        version: "scalar"\n    InstallSpec:\n      path: pkg/apis/k0s/v1beta1/clusterconfig_types.go\n      decoder: inherited\n      fields:\n        users: "SystemUser"\n    KeepalivedSpec:\n      path: pkg/apis/k0s/v1beta1/cplb.go\n      decoder: inherited\n      fields:\n        disableLoadBalancer: "scalar"\n        userSpaceProxyBindPort: "scalar"\n        virtualServers: "[]VirtualServer"\n        vrrpInstances: "[]VRRPInstance"\n    KineConfig:\n      path: pkg/apis/k0s/v1beta1/storage.go\n      decoder: inherited\n      fields:\n        dataSource: "scalar"\n    KonnectivitySpec:\n      path: pkg/apis/k0s/v1beta1/konnectivity.go\n      decoder: inherited\n      fields:\n        adminPort: "scalar"\n        agentPort: "scalar"\n        externalAddress: "scalar"\n    KubeProxy:\n      path: pkg/apis/k0s/v1beta1/kubeproxy.go\n      decoder: inherited\n      fields:\n        disabled: "scalar"\n        extraArgs: "map"\n        iptables: "KubeProxyIPTablesConfiguration"\n        ipvs: "KubeProxyIPVSConfiguration"\n        metricsBindAddress: "scalar"\n        mode: "scalar"\n        nftables: "KubeProxyNFTablesConfiguration"\n        nodePortAddresses: "list"\n    KubeProxyIPTablesConfiguration:\n      path: pkg/apis/k0s/v1beta1/kubeproxy.go\n      decoder: inherited\n      fields:\n        localhostNodePorts: "scalar"\n        masqueradeAll: "scalar"\n        masqueradeBit: "scalar"\n        minSyncPeriod: "scalar"\n        syncPeriod: "scalar"\n    KubeProxyIPVSConfiguration:\n      path: pkg/apis/k0s/v1beta1/kubeproxy.go\n      decoder: inherited\n      fields:\n        excludeCIDRs: "list"\n        minSyncPeriod: "scalar"\n        scheduler: "scalar"\n        strictARP: "scalar"\n        syncPeriod: "scalar"\n        tcpFinTimeout: "scalar"\n        tcpTimeout: "scalar"\n        udpTimeout: "scalar"\n    KubeProxyNFTablesConfiguration:\n      path: pkg/apis/k0s/v1beta1/kubeproxy.go\n      decoder: inherited\n      fields:\n        masqueradeAll: "scalar"\n        masqueradeBit: "scalar"\n        minSyncPeriod: "scalar"\n        syncPeriod: "scalar"\n    KubeRouter:\n      path: pkg/apis/k0s/v1beta1/kuberouter.go\n      decoder: inherited\n      fields:\n        autoMTU: "scalar"\n        extraArgs: "map"\n        hairpin: "scalar"\n        hairpinMode: "scalar"\n        ipMasq: "scalar"\n        metricsPort: "scalar"\n        mtu: "scalar"\n        peerRouterASNs: "scalar"\n        peerRouterIPs: "scalar"\n    KubeRouterImageSpec:\n      path: pkg/apis/k0s/v1beta1/images.go\n      decoder: inherited\n      fields:\n        cni: "ImageSpec"\n        cniInstaller: "ImageSpec"\n    Network:\n      path: pkg/apis/k0s/v1beta1/network.go\n      decoder: own\n      fields:\n        calico: "Calico"\n        clusterDomain: "scalar"\n        controlPlaneLoadBalancing: "ControlPlaneLoadBalancingSpec"\n        dualStack: "DualStack"\n        kubeProxy: "KubeProxy"\n        kuberouter: "KubeRouter"\n        nodeLocalLoadBalancing: "NodeLocalLoadBalancing"\n        podCIDR: "scalar"\n        provider: "scalar"\n        serviceCIDR: "scalar"\n    NodeLocalLoadBalancing:\n      path: pkg/apis/k0s/v1beta1/nllb.go\n      decoder: own\n      fields:\n        enabled: "scalar"\n        envoyProxy: "EnvoyProxy"\n        type: "scalar"\n    Repository:\n      path: pkg/apis/k0s/v1beta1/extensions.go\n      decoder: inherited\n      fields:\n        caFile: "scalar"\n        certFile: "scalar"\n        insecure: "scalar"\n        keyfile: "scalar"\n        name: "scalar"\n        password: "scalar"\n        url: "scalar"\n        username: "scalar"\n    SchedulerSpec:\n      path: pkg/apis/k0s/v1beta1/clusterconfig_types.go\n      decoder: inherited\n      fields:\n        extraArgs: "map"\n    StorageExtension:\n      path: pkg/apis/k0s/v1beta1/extensions.go\n      decoder: inherited\n      fields:\n        create_default_storage_class: "scalar"\n        type: "scalar"\n    StorageSpec:\n      path: pkg/apis/k0s/v1beta1/storage.go\n      decoder: own\n      fields:\n        etcd: "EtcdConfig"\n        kine: "KineConfig"\n        type: "scalar"\n    SystemUser:\n      path: pkg/apis/k0s/v1beta1/system.go\n      decoder: inherited\n      fields:\n        etcdUser: "scalar"\n        kineUser: "scalar"\n        konnectivityUser: "scalar"\n        kubeAPIserverUser: "scalar"\n        kubeSchedulerUser: "scalar"\n    VRRPInstance:\n      path: pkg/apis/k0s/v1beta1/cplb.go\n      decoder: inherited\n      fields:\n        advertIntervalSeconds: "scalar"\n        authPass: "scalar"\n        interface: "scalar"\n        unicastPeers: "list"\n        unicastSourceIP: "scalar"\n        virtualIPs: "list"\n        virtualRouterID: "scalar"\n    VirtualServer:\n      path: pkg/apis/k0s/v1beta1/cplb.go\n      decoder: inherited\n      fields:\n        delayLoop: "scalar"\n        ipAddress: "scalar"\n        lbAlgo: "scalar"\n        lbKind: "scalar"\n        persistenceTimeoutSeconds: "scalar"\n    WorkerProfile:\n      path: pkg/apis/k0s/v1beta1/workerprofile.go\n      decoder: inherited\n      fields:\n        name: "scalar"\n        values: "opaque"\ncommands:\n  install controller:\n    source:\n      repo: k0sproject/k0s\n      tag: v1.32.13+k0s.0\n      paths: [cmd/install/controller.go, cmd/install/install.go, pkg/config/cli.go, cmd/internal/debug.go]\n    flags:\n      cidr-range:\n        short: ""\n        value: true\n      config:\n        short: "c"\n        value: true\n      cri-socket:\n        short: ""\n        value: true\n      data-dir:\n        short: ""\n        value: true\n      debug:\n        short: "d"\n        value: false\n      debugListenOn:\n        short: ""\n        value: true\n      disable-components:\n        short: ""\n        value: true\n      enable-cloud-provider:\n        short: ""\n        value: false\n      enable-dynamic-config:\n        short: ""\n        value: false\n      enable-k0s-cloud-provider:\n        short: ""\n        value: false\n      enable-metrics-scraper:\n        short: ""\n        value: false\n      enable-worker:\n        short: ""\n        value: false\n      env:\n        short: "e"\n        value: true\n      force:\n        short: ""\n        value: false\n      iptables-mode:\n        short: ""\n        value: true\n      k0s-cloud-provider-port:\n        short: ""\n        value: true\n      k0s-cloud-provider-update-frequency:\n        short: ""\n        value: true\n      kube-controller-manager-extra-args:\n        short: ""\n        value: true\n      kubelet-extra-args:\n        short: ""\n        value: true\n      kubelet-root-dir:\n        short: ""\n        value: true\n      labels:\n        short: ""\n        value: true\n      logging:\n        short: "l"\n        value: true\n      no-taints:\n        short: ""\n        value: false\n      profile:\n        short: ""\n        value: true\n      single:\n        short: ""\n        value: false\n      status-socket:\n        short: ""\n        value: true\n      taints:\n        short: ""\n        value: true\n      token-file:\n        short: ""\n        value: true\n      verbose:\n        short: "v"\n        value: false\n  install worker:\n    source:\n      repo: k0sproject/k0s\n      tag: v1.32.13+k0s.0\n      paths: [cmd/install/worker.go, cmd/install/install.go, pkg/config/cli.go, cmd/internal/debug.go]\n    flags:\n      cidr-range:\n        short: ""\n        value: true\n      cri-socket:\n        short: ""\n        value: true\n      data-dir:\n        short: ""\n        value: true\n      debug:\n        short: "d"\n        value: false\n      debugListenOn:\n        short: ""\n        value: true\n      enable-cloud-provider:\n        short: ""\n        value: false\n      env:\n        short: "e"\n        value: true\n      force:\n        short: ""\n        value: false\n      iptables-mode:\n        short: ""\n        value: true\n      kubelet-extra-args:\n        short: ""\n        value: true\n      kubelet-root-dir:\n        short: ""\n        value: true\n      labels:\n        short: ""\n        value: true\n      logging:\n        short: "l"\n        value: true\n      profile:\n        short: ""\n        value: true\n      status-socket:\n        short: ""\n        value: true\n      taints:\n        short: ""\n        value: true\n      token-file:\n        short: ""\n        value: true\n      verbose:\n        short: "v"\n        value: false\n  token create:\n    source:\n      repo: k0sproject/k0s\n      tag: v1.32.13+k0s.0\n      paths: [cmd/token/create.go, cmd/token/token.go, pkg/config/cli.go, cmd/internal/debug.go]\n    flags:\n      data-dir:\n        short: ""\n        value: true\n      debug:\n        short: "d"\n        value: false\n      debugListenOn:\n        short: ""\n        value: true\n      expiry:\n        short: ""\n        value: true\n      role:\n        short: ""\n        value: true\n      status-socket:\n        short: ""\n        value: true\n      verbose:\n        short: "v"\n        value: false\n      wait:\n        short: ""\n        value: false\n  etcd leave:\n    source:\n      repo: k0sproject/k0s\n      tag: v1.32.13+k0s.0\n      paths: [cmd/etcd/leave.go, cmd/etcd/etcd.go, pkg/config/cli.go, cmd/internal/debug.go]\n    flags:\n      data-dir:\n        short: ""\n        value: true\n      debug:\n        short: "d"\n        value: false\n      debugListenOn:\n        short: ""\n        value: true\n      peer-address:\n        short: ""\n        value: true\n      status-socket:\n        short: ""\n        value: true\n      verbose:\n        short: "v"\n        value: false\n',  # noqa: E501
    "k0s/v1.33.1+k0s.0": '# k0s v1.33.1+k0s.0: ClusterConfig (k0s.yaml) fields, extracted by tests/fakes/upstream/k0s/extract.py\n# from the source at the tag; facts only (names, decoders), no upstream code or prose.\ntool: k0s\nrelease: v1.33.1+k0s.0\nrepo: k0sproject/k0s\ntag: v1.33.1+k0s.0\ncommit: 20acdb22c67e31810714f87521de5f56006a948b\nclusterconfig:\n  apiVersion: k0s.k0sproject.io/v1beta1\n  kinds: [ClusterConfig]\n  root: ClusterConfig\n  strict_source:\n    repo: k0sproject/k0s\n    tag: v1.33.1+k0s.0\n    path: pkg/apis/k0s/v1beta1/clusterconfig_types.go\n  ignored_unknown: [interval, podSecurityPolicy]\n  types:\n    APISpec:\n      path: pkg/apis/k0s/v1beta1/api.go\n      decoder: own\n      fields:\n        address: "scalar"\n        ca: "CA"\n        externalAddress: "scalar"\n        extraArgs: "map"\n        k0sApiPort: "scalar"\n        onlyBindToAddress: "scalar"\n        port: "scalar"\n        sans: "list"\n    CA:\n      path: pkg/apis/k0s/v1beta1/cert.go\n      decoder: inherited\n      fields:\n        certificatesExpireAfter: "scalar"\n        expiresAfter: "scalar"\n    Calico:\n      path: pkg/apis/k0s/v1beta1/calico.go\n      decoder: own\n      fields:\n        envVars: "map"\n        flexVolumeDriverPath: "scalar"\n        ipAutodetectionMethod: "scalar"\n        ipV6AutodetectionMethod: "scalar"\n        mode: "scalar"\n        mtu: "scalar"\n        overlay: "scalar"\n        vxlanPort: "scalar"\n        vxlanVNI: "scalar"\n        wireguard: "scalar"\n    CalicoImageSpec:\n      path: pkg/apis/k0s/v1beta1/images.go\n      decoder: inherited\n      fields:\n        cni: "ImageSpec"\n        kubecontrollers: "ImageSpec"\n        node: "ImageSpec"\n    Chart:\n      path: pkg/apis/k0s/v1beta1/extensions.go\n      decoder: inherited\n      fields:\n        chartname: "scalar"\n        forceUpgrade: "scalar"\n        name: "scalar"\n        namespace: "scalar"\n        order: "scalar"\n        timeout: "scalar"\n        values: "scalar"\n        version: "scalar"\n    ClusterConfig:\n      path: pkg/apis/k0s/v1beta1/clusterconfig_types.go\n      decoder: inherited\n      fields:\n        apiVersion: "scalar"\n        kind: "scalar"\n        metadata: "opaque"\n        spec: "ClusterSpec"\n        status: "ClusterConfigStatus"\n    ClusterConfigStatus:\n      path: pkg/apis/k0s/v1beta1/clusterconfig_types.go\n      decoder: inherited\n      fields:\n    ClusterExtensions:\n      path: pkg/apis/k0s/v1beta1/extensions.go\n      decoder: inherited\n      fields:\n        helm: "HelmExtensions"\n        storage: "StorageExtension"\n    ClusterImages:\n      path: pkg/apis/k0s/v1beta1/images.go\n      decoder: own\n      fields:\n        calico: "CalicoImageSpec"\n        coredns: "ImageSpec"\n        default_pull_policy: "scalar"\n        konnectivity: "ImageSpec"\n        kubeproxy: "ImageSpec"\n        kuberouter: "KubeRouterImageSpec"\n        metricsserver: "ImageSpec"\n        pause: "ImageSpec"\n        pushgateway: "ImageSpec"\n        repository: "scalar"\n    ClusterSpec:\n      path: pkg/apis/k0s/v1beta1/clusterconfig_types.go\n      decoder: inherited\n      fields:\n        api: "APISpec"\n        controllerManager: "ControllerManagerSpec"\n        extensions: "ClusterExtensions"\n        featureGates: "[]FeatureGate"\n        images: "ClusterImages"\n        installConfig: "InstallSpec"\n        konnectivity: "KonnectivitySpec"\n        network: "Network"\n        scheduler: "SchedulerSpec"\n        storage: "StorageSpec"\n        telemetry: "ClusterTelemetry"\n        workerProfiles: "[]WorkerProfile"\n    ClusterTelemetry:\n      path: pkg/apis/k0s/v1beta1/telemetry.go\n      decoder: inherited\n      fields:\n        enabled: "scalar"\n    ControlPlaneLoadBalancingSpec:\n      path: pkg/apis/k0s/v1beta1/cplb.go\n      decoder: inherited\n      fields:\n        enabled: "scalar"\n        keepalived: "KeepalivedSpec"\n        type: "scalar"\n    ControllerManagerSpec:\n      path: pkg/apis/k0s/v1beta1/clusterconfig_types.go\n      decoder: inherited\n      fields:\n        extraArgs: "map"\n    DualStack:\n      path: pkg/apis/k0s/v1beta1/dualstack.go\n      decoder: inherited\n      fields:\n        IPv6podCIDR: "scalar"\n        IPv6serviceCIDR: "scalar"\n        enabled: "scalar"\n    EnvoyProxy:\n      path: pkg/apis/k0s/v1beta1/nllb.go\n      decoder: own\n      fields:\n        apiServerBindPort: "scalar"\n        image: "ImageSpec"\n        imagePullPolicy: "opaque"\n        konnectivityServerBindPort: "scalar"\n    EtcdConfig:\n      path: pkg/apis/k0s/v1beta1/storage.go\n      decoder: inherited\n      fields:\n        ca: "CA"\n        externalCluster: "ExternalCluster"\n        extraArgs: "map"\n        peerAddress: "scalar"\n    ExternalCluster:\n      path: pkg/apis/k0s/v1beta1/storage.go\n      decoder: inherited\n      fields:\n        caFile: "scalar"\n        clientCertFile: "scalar"\n        clientKeyFile: "scalar"\n        endpoints: "list"\n        etcdPrefix: "scalar"\n    FeatureGate:\n      path: pkg/apis/k0s/v1beta1/feature_gates.go\n      decoder: inherited\n      fields:\n        components: "list"\n        enabled: "scalar"\n        name: "scalar"\n    HelmExtensions:\n      path: pkg/apis/k0s/v1beta1/extensions.go\n      decoder: inherited\n      fields:\n        charts: "[]Chart"\n        concurrencyLevel: "scalar"\n        repositories: "[]Repository"\n    ImageSpec:\n      path: pkg/apis/k0s/v1beta1/images.go\n      decoder: inherited\n      fields:\n        image: "scalar"\n        version: "scalar"\n    InstallSpec:\n      path: pkg/apis/k0s/v1beta1/clusterconfig_types.go\n      decoder: inherited\n      fields:\n        users: "SystemUser"\n    KeepalivedSpec:\n      path: pkg/apis/k0s/v1beta1/cplb.go\n      decoder: inherited\n      fields:\n        disableLoadBalancer: "scalar"\n        userSpaceProxyBindPort: "scalar"\n        virtualServers: "[]VirtualServer"\n        vrrpInstances: "[]VRRPInstance"\n    KineConfig:\n      path: pkg/apis/k0s/v1beta1/storage.go\n      decoder: inherited\n      fields:\n        dataSource: "scalar"\n    KonnectivitySpec:\n      path: pkg/apis/k0s/v1beta1/konnectivity.go\n      decoder: inherited\n      fields:\n        adminPort: "scalar"\n        agentPort: "scalar"\n    KubeProxy:\n      path: pkg/apis/k0s/v1beta1/kubeproxy.go\n      decoder: inherited\n      fields:\n        disabled: "scalar"\n        extraArgs: "map"\n        iptables: "KubeProxyIPTablesConfiguration"\n        ipvs: "KubeProxyIPVSConfiguration"\n        metricsBindAddress: "scalar"\n        mode: "scalar"\n        nftables: "KubeProxyNFTablesConfiguration"\n        nodePortAddresses: "list"\n    KubeProxyIPTablesConfiguration:\n      path: pkg/apis/k0s/v1beta1/kubeproxy.go\n      decoder: inherited\n      fields:\n        localhostNodePorts: "scalar"\n        masqueradeAll: "scalar"\n        masqueradeBit: "scalar"\n        minSyncPeriod: "scalar"\n        syncPeriod: "scalar"\n    KubeProxyIPVSConfiguration:\n      path: pkg/apis/k0s/v1beta1/kubeproxy.go\n      decoder: inherited\n      fields:\n        excludeCIDRs: "list"\n        minSyncPeriod: "scalar"\n        scheduler: "scalar"\n        strictARP: "scalar"\n        syncPeriod: "scalar"\n        tcpFinTimeout: "scalar"\n        tcpTimeout: "scalar"\n        udpTimeout: "scalar"\n    KubeProxyNFTablesConfiguration:\n      path: pkg/apis/k0s/v1beta1/kubeproxy.go\n      decoder: inherited\n      fields:\n        masqueradeAll: "scalar"\n        masqueradeBit: "scalar"\n        minSyncPeriod: "scalar"\n        syncPeriod: "scalar"\n    KubeRouter:\n      path: pkg/apis/k0s/v1beta1/kuberouter.go\n      decoder: inherited\n      fields:\n        autoMTU: "scalar"\n        extraArgs: "map"\n        hairpin: "scalar"\n        hairpinMode: "scalar"\n        ipMasq: "scalar"\n        metricsPort: "scalar"\n        mtu: "scalar"\n        peerRouterASNs: "scalar"\n        peerRouterIPs: "scalar"\n    KubeRouterImageSpec:\n      path: pkg/apis/k0s/v1beta1/images.go\n      decoder: inherited\n      fields:\n        cni: "ImageSpec"\n        cniInstaller: "ImageSpec"\n    Network:\n      path: pkg/apis/k0s/v1beta1/network.go\n      decoder: own\n      fields:\n        calico: "Calico"\n        clusterDomain: "scalar"\n        controlPlaneLoadBalancing: "ControlPlaneLoadBalancingSpec"\n        dualStack: "DualStack"\n        kubeProxy: "KubeProxy"\n        kuberouter: "KubeRouter"\n        nodeLocalLoadBalancing: "NodeLocalLoadBalancing"\n        podCIDR: "scalar"\n        provider: "scalar"\n        serviceCIDR: "scalar"\n    NodeLocalLoadBalancing:\n      path: pkg/apis/k0s/v1beta1/nllb.go\n      decoder: own\n      fields:\n        enabled: "scalar"\n        envoyProxy: "EnvoyProxy"\n        type: "scalar"\n    Repository:\n      path: pkg/apis/k0s/v1beta1/extensions.go\n      decoder: inherited\n      fields:\n        caFile: "scalar"\n        certFile: "scalar"\n        insecure: "scalar"\n        keyfile: "scalar"\n        name: "scalar"\n        password: "scalar"\n        url: "scalar"\n        username: "scalar"\n    SchedulerSpec:\n      path: pkg/apis/k0s/v1beta1/clusterconfig_types.go\n      decoder: inherited\n      fields:\n        extraArgs: "map"\n    StorageExtension:\n      path: pkg/apis/k0s/v1beta1/extensions.go\n      decoder: inherited\n      fields:\n        create_default_storage_class: "scalar"\n        type: "scalar"\n    StorageSpec:\n      path: pkg/apis/k0s/v1beta1/storage.go\n      decoder: own\n      fields:\n        etcd: "EtcdConfig"\n        kine: "KineConfig"\n        type: "scalar"\n    SystemUser:\n      path: pkg/apis/k0s/v1beta1/system.go\n      decoder: inherited\n      fields:\n        etcdUser: "scalar"\n        kineUser: "scalar"\n        konnectivityUser: "scalar"\n        kubeAPIserverUser: "scalar"\n        kubeSchedulerUser: "scalar"\n    VRRPInstance:\n      path: pkg/apis/k0s/v1beta1/cplb.go\n      decoder: inherited\n      fields:\n        advertIntervalSeconds: "scalar"\n        authPass: "scalar"\n        interface: "scalar"\n        unicastPeers: "list"\n        unicastSourceIP: "scalar"\n        virtualIPs: "list"\n        virtualRouterID: "scalar"\n    VirtualServer:\n      path: pkg/apis/k0s/v1beta1/cplb.go\n      decoder: inherited\n      fields:\n        delayLoop: "scalar"\n        ipAddress: "scalar"\n        lbAlgo: "scalar"\n        lbKind: "scalar"\n        persistenceTimeoutSeconds: "scalar"\n    WorkerProfile:\n      path: pkg/apis/k0s/v1beta1/workerprofile.go\n      decoder: inherited\n      fields:\n        name: "scalar"\n        values: "opaque"\ncommands:\n  install controller:\n    source:\n      repo: k0sproject/k0s\n      tag: v1.33.1+k0s.0\n      paths: [cmd/install/controller.go, cmd/install/install.go, pkg/config/cli.go, cmd/internal/debug.go]\n    flags:\n      cidr-range:\n        short: ""\n        value: true\n      config:\n        short: "c"\n        value: true\n      cri-socket:\n        short: ""\n        value: true\n      data-dir:\n        short: ""\n        value: true\n      debug:\n        short: "d"\n        value: false\n      debugListenOn:\n        short: ""\n        value: true\n      disable-components:\n        short: ""\n        value: true\n      enable-cloud-provider:\n        short: ""\n        value: false\n      enable-dynamic-config:\n        short: ""\n        value: false\n      enable-k0s-cloud-provider:\n        short: ""\n        value: false\n      enable-metrics-scraper:\n        short: ""\n        value: false\n      enable-worker:\n        short: ""\n        value: false\n      env:\n        short: "e"\n        value: true\n      force:\n        short: ""\n        value: false\n      init-only:\n        short: ""\n        value: false\n      iptables-mode:\n        short: ""\n        value: true\n      k0s-cloud-provider-port:\n        short: ""\n        value: true\n      k0s-cloud-provider-update-frequency:\n        short: ""\n        value: true\n      kube-controller-manager-extra-args:\n        short: ""\n        value: true\n      kubelet-extra-args:\n        short: ""\n        value: true\n      kubelet-root-dir:\n        short: ""\n        value: true\n      labels:\n        short: ""\n        value: true\n      logging:\n        short: "l"\n        value: true\n      no-taints:\n        short: ""\n        value: false\n      profile:\n        short: ""\n        value: true\n      single:\n        short: ""\n        value: false\n      status-socket:\n        short: ""\n        value: true\n      taints:\n        short: ""\n        value: true\n      token-file:\n        short: ""\n        value: true\n      verbose:\n        short: "v"\n        value: false\n  install worker:\n    source:\n      repo: k0sproject/k0s\n      tag: v1.33.1+k0s.0\n      paths: [cmd/install/worker.go, cmd/install/install.go, pkg/config/cli.go, cmd/internal/debug.go]\n    flags:\n      cidr-range:\n        short: ""\n        value: true\n      cri-socket:\n        short: ""\n        value: true\n      data-dir:\n        short: ""\n        value: true\n      debug:\n        short: "d"\n        value: false\n      debugListenOn:\n        short: ""\n        value: true\n      enable-cloud-provider:\n        short: ""\n        value: false\n      env:\n        short: "e"\n        value: true\n      force:\n        short: ""\n        value: false\n      iptables-mode:\n        short: ""\n        value: true\n      kubelet-extra-args:\n        short: ""\n        value: true\n      kubelet-root-dir:\n        short: ""\n        value: true\n      labels:\n        short: ""\n        value: true\n      logging:\n        short: "l"\n        value: true\n      profile:\n        short: ""\n        value: true\n      status-socket:\n        short: ""\n        value: true\n      taints:\n        short: ""\n        value: true\n      token-file:\n        short: ""\n        value: true\n      verbose:\n        short: "v"\n        value: false\n  token create:\n    source:\n      repo: k0sproject/k0s\n      tag: v1.33.1+k0s.0\n      paths: [cmd/token/create.go, cmd/token/token.go, pkg/config/cli.go, cmd/internal/debug.go]\n    flags:\n      data-dir:\n        short: ""\n        value: true\n      expiry:\n        short: ""\n        value: true\n      role:\n        short: ""\n        value: true\n      status-socket:\n        short: ""\n        value: true\n      wait:\n        short: ""\n        value: false\n  etcd leave:\n    source:\n      repo: k0sproject/k0s\n      tag: v1.33.1+k0s.0\n      paths: [cmd/etcd/leave.go, cmd/etcd/etcd.go, pkg/config/cli.go, cmd/internal/debug.go]\n    flags:\n      data-dir:\n        short: ""\n        value: true\n      debug:\n        short: "d"\n        value: false\n      debugListenOn:\n        short: ""\n        value: true\n      peer-address:\n        short: ""\n        value: true\n      status-socket:\n        short: ""\n        value: true\n      verbose:\n        short: "v"\n        value: false\n',  # noqa: E501
    "k0s/v1.34.10+k0s.0": '# k0s v1.34.10+k0s.0: ClusterConfig (k0s.yaml) fields, extracted by tests/fakes/upstream/k0s/extract.py\n# from the source at the tag; facts only (names, decoders), no upstream code or prose.\ntool: k0s\nrelease: v1.34.10+k0s.0\nrepo: k0sproject/k0s\ntag: v1.34.10+k0s.0\ncommit: 72cb9dd9ba41d045c2b641fb4c796c9e040a92fc\nclusterconfig:\n  apiVersion: k0s.k0sproject.io/v1beta1\n  kinds: [ClusterConfig]\n  root: ClusterConfig\n  strict_source:\n    repo: k0sproject/k0s\n    tag: v1.34.10+k0s.0\n    path: pkg/apis/k0s/v1beta1/clusterconfig_types.go\n  ignored_unknown: [interval, podSecurityPolicy]\n  types:\n    APISpec:\n      path: pkg/apis/k0s/v1beta1/api.go\n      decoder: own\n      fields:\n        address: "scalar"\n        ca: "CA"\n        externalAddress: "scalar"\n        extraArgs: "map"\n        k0sApiPort: "scalar"\n        onlyBindToAddress: "scalar"\n        port: "scalar"\n        rawArgs: "list"\n        sans: "list"\n    CA:\n      path: pkg/apis/k0s/v1beta1/cert.go\n      decoder: inherited\n      fields:\n        certificatesExpireAfter: "scalar"\n        expiresAfter: "scalar"\n    Calico:\n      path: pkg/apis/k0s/v1beta1/calico.go\n      decoder: own\n      fields:\n        envVars: "map"\n        flexVolumeDriverPath: "scalar"\n        ipAutodetectionMethod: "scalar"\n        ipV6AutodetectionMethod: "scalar"\n        mode: "scalar"\n        mtu: "scalar"\n        overlay: "scalar"\n        vxlanPort: "scalar"\n        vxlanVNI: "scalar"\n        wireguard: "scalar"\n    CalicoImageSpec:\n      path: pkg/apis/k0s/v1beta1/images.go\n      decoder: inherited\n      fields:\n        cni: "ImageSpec"\n        kubecontrollers: "ImageSpec"\n        node: "ImageSpec"\n        windows: "CalicoWindowsImageSpec"\n    CalicoWindowsImageSpec:\n      path: pkg/apis/k0s/v1beta1/images.go\n      decoder: inherited\n      fields:\n        cni: "ImageSpec"\n        node: "ImageSpec"\n    Chart:\n      path: pkg/apis/k0s/v1beta1/extensions.go\n      decoder: inherited\n      fields:\n        chartname: "scalar"\n        forceUpgrade: "scalar"\n        name: "scalar"\n        namespace: "scalar"\n        order: "scalar"\n        timeout: "scalar"\n        values: "scalar"\n        version: "scalar"\n    ClusterConfig:\n      path: pkg/apis/k0s/v1beta1/clusterconfig_types.go\n      decoder: inherited\n      fields:\n        apiVersion: "scalar"\n        kind: "scalar"\n        metadata: "opaque"\n        spec: "ClusterSpec"\n        status: "ClusterConfigStatus"\n    ClusterConfigStatus:\n      path: pkg/apis/k0s/v1beta1/clusterconfig_types.go\n      decoder: inherited\n      fields:\n    ClusterExtensions:\n      path: pkg/apis/k0s/v1beta1/extensions.go\n      decoder: inherited\n      fields:\n        helm: "HelmExtensions"\n        storage: "StorageExtension"\n    ClusterImages:\n      path: pkg/apis/k0s/v1beta1/images.go\n      decoder: own\n      fields:\n        calico: "CalicoImageSpec"\n        coredns: "ImageSpec"\n        default_pull_policy: "scalar"\n        konnectivity: "ImageSpec"\n        kubeproxy: "ImageSpec"\n        kuberouter: "KubeRouterImageSpec"\n        metricsserver: "ImageSpec"\n        pause: "ImageSpec"\n        pushgateway: "ImageSpec"\n        repository: "scalar"\n        windows: "WindowsImageSpec"\n    ClusterSpec:\n      path: pkg/apis/k0s/v1beta1/clusterconfig_types.go\n      decoder: inherited\n      fields:\n        api: "APISpec"\n        controllerManager: "ControllerManagerSpec"\n        extensions: "ClusterExtensions"\n        featureGates: "[]FeatureGate"\n        images: "ClusterImages"\n        installConfig: "InstallSpec"\n        konnectivity: "KonnectivitySpec"\n        network: "Network"\n        scheduler: "SchedulerSpec"\n        storage: "StorageSpec"\n        telemetry: "ClusterTelemetry"\n        workerProfiles: "[]WorkerProfile"\n    ClusterTelemetry:\n      path: pkg/apis/k0s/v1beta1/telemetry.go\n      decoder: inherited\n      fields:\n        enabled: "scalar"\n    ControlPlaneLoadBalancingSpec:\n      path: pkg/apis/k0s/v1beta1/cplb.go\n      decoder: inherited\n      fields:\n        enabled: "scalar"\n        keepalived: "KeepalivedSpec"\n        type: "scalar"\n    ControllerManagerSpec:\n      path: pkg/apis/k0s/v1beta1/clusterconfig_types.go\n      decoder: inherited\n      fields:\n        extraArgs: "map"\n        rawArgs: "list"\n    DualStack:\n      path: pkg/apis/k0s/v1beta1/dualstack.go\n      decoder: inherited\n      fields:\n        IPv6podCIDR: "scalar"\n        IPv6serviceCIDR: "scalar"\n        enabled: "scalar"\n    EnvoyProxy:\n      path: pkg/apis/k0s/v1beta1/nllb.go\n      decoder: own\n      fields:\n        apiServerBindPort: "scalar"\n        image: "ImageSpec"\n        imagePullPolicy: "opaque"\n        konnectivityServerBindPort: "scalar"\n    EtcdConfig:\n      path: pkg/apis/k0s/v1beta1/storage.go\n      decoder: inherited\n      fields:\n        ca: "CA"\n        externalCluster: "ExternalCluster"\n        extraArgs: "map"\n        peerAddress: "scalar"\n        rawArgs: "list"\n    ExternalCluster:\n      path: pkg/apis/k0s/v1beta1/storage.go\n      decoder: inherited\n      fields:\n        caFile: "scalar"\n        clientCertFile: "scalar"\n        clientKeyFile: "scalar"\n        endpoints: "list"\n        etcdPrefix: "scalar"\n    FeatureGate:\n      path: pkg/apis/k0s/v1beta1/feature_gates.go\n      decoder: inherited\n      fields:\n        components: "list"\n        enabled: "scalar"\n        name: "scalar"\n    HelmExtensions:\n      path: pkg/apis/k0s/v1beta1/extensions.go\n      decoder: inherited\n      fields:\n        charts: "[]Chart"\n        concurrencyLevel: "scalar"\n        repositories: "[]Repository"\n    ImageSpec:\n      path: pkg/apis/k0s/v1beta1/images.go\n      decoder: inherited\n      fields:\n        image: "scalar"\n        version: "scalar"\n    InstallSpec:\n      path: pkg/apis/k0s/v1beta1/clusterconfig_types.go\n      decoder: inherited\n      fields:\n        users: "SystemUser"\n    KeepalivedSpec:\n      path: pkg/apis/k0s/v1beta1/cplb.go\n      decoder: inherited\n      fields:\n        disableLoadBalancer: "scalar"\n        userSpaceProxyBindPort: "scalar"\n        virtualServers: "[]VirtualServer"\n        vrrpInstances: "[]VRRPInstance"\n    KineConfig:\n      path: pkg/apis/k0s/v1beta1/storage.go\n      decoder: inherited\n      fields:\n        dataSource: "scalar"\n    KonnectivitySpec:\n      path: pkg/apis/k0s/v1beta1/konnectivity.go\n      decoder: inherited\n      fields:\n        adminPort: "scalar"\n        agentPort: "scalar"\n        externalAddress: "scalar"\n    KubeProxy:\n      path: pkg/apis/k0s/v1beta1/kubeproxy.go\n      decoder: inherited\n      fields:\n        disabled: "scalar"\n        extraArgs: "map"\n        iptables: "KubeProxyIPTablesConfiguration"\n        ipvs: "KubeProxyIPVSConfiguration"\n        metricsBindAddress: "scalar"\n        mode: "scalar"\n        nftables: "KubeProxyNFTablesConfiguration"\n        nodePortAddresses: "list"\n        rawArgs: "list"\n    KubeProxyIPTablesConfiguration:\n      path: pkg/apis/k0s/v1beta1/kubeproxy.go\n      decoder: inherited\n      fields:\n        localhostNodePorts: "scalar"\n        masqueradeAll: "scalar"\n        masqueradeBit: "scalar"\n        minSyncPeriod: "scalar"\n        syncPeriod: "scalar"\n    KubeProxyIPVSConfiguration:\n      path: pkg/apis/k0s/v1beta1/kubeproxy.go\n      decoder: inherited\n      fields:\n        excludeCIDRs: "list"\n        minSyncPeriod: "scalar"\n        scheduler: "scalar"\n        strictARP: "scalar"\n        syncPeriod: "scalar"\n        tcpFinTimeout: "scalar"\n        tcpTimeout: "scalar"\n        udpTimeout: "scalar"\n    KubeProxyNFTablesConfiguration:\n      path: pkg/apis/k0s/v1beta1/kubeproxy.go\n      decoder: inherited\n      fields:\n        masqueradeAll: "scalar"\n        masqueradeBit: "scalar"\n        minSyncPeriod: "scalar"\n        syncPeriod: "scalar"\n    KubeRouter:\n      path: pkg/apis/k0s/v1beta1/kuberouter.go\n      decoder: inherited\n      fields:\n        autoMTU: "scalar"\n        extraArgs: "map"\n        hairpin: "scalar"\n        hairpinMode: "scalar"\n        ipMasq: "scalar"\n        metricsPort: "scalar"\n        mtu: "scalar"\n        peerRouterASNs: "scalar"\n        peerRouterIPs: "scalar"\n        rawArgs: "list"\n    KubeRouterImageSpec:\n      path: pkg/apis/k0s/v1beta1/images.go\n      decoder: inherited\n      fields:\n        cni: "ImageSpec"\n        cniInstaller: "ImageSpec"\n    Network:\n      path: pkg/apis/k0s/v1beta1/network.go\n      decoder: own\n      fields:\n        calico: "Calico"\n        clusterDomain: "scalar"\n        controlPlaneLoadBalancing: "ControlPlaneLoadBalancingSpec"\n        dualStack: "DualStack"\n        kubeProxy: "KubeProxy"\n        kuberouter: "KubeRouter"\n        nodeLocalLoadBalancing: "NodeLocalLoadBalancing"\n        podCIDR: "scalar"\n        primaryAddressFamily: "scalar"\n        provider: "scalar"\n        serviceCIDR: "scalar"\n    NodeLocalLoadBalancing:\n      path: pkg/apis/k0s/v1beta1/nllb.go\n      decoder: own\n      fields:\n        enabled: "scalar"\n        envoyProxy: "EnvoyProxy"\n        type: "scalar"\n    Repository:\n      path: pkg/apis/k0s/v1beta1/extensions.go\n      decoder: inherited\n      fields:\n        caFile: "scalar"\n        certFile: "scalar"\n        insecure: "scalar"\n        keyfile: "scalar"\n        name: "scalar"\n        password: "scalar"\n        url: "scalar"\n        username: "scalar"\n    SchedulerSpec:\n      path: pkg/apis/k0s/v1beta1/clusterconfig_types.go\n      decoder: inherited\n      fields:\n        extraArgs: "map"\n        rawArgs: "list"\n    StorageExtension:\n      path: pkg/apis/k0s/v1beta1/extensions.go\n      decoder: inherited\n      fields:\n        create_default_storage_class: "scalar"\n        type: "scalar"\n    StorageSpec:\n      path: pkg/apis/k0s/v1beta1/storage.go\n      decoder: own\n      fields:\n        etcd: "EtcdConfig"\n        kine: "KineConfig"\n        type: "scalar"\n    SystemUser:\n      path: pkg/apis/k0s/v1beta1/system.go\n      decoder: inherited\n      fields:\n        etcdUser: "scalar"\n        kineUser: "scalar"\n        konnectivityUser: "scalar"\n        kubeAPIserverUser: "scalar"\n        kubeSchedulerUser: "scalar"\n    VRRPInstance:\n      path: pkg/apis/k0s/v1beta1/cplb.go\n      decoder: inherited\n      fields:\n        addressLabel: "scalar"\n        advertIntervalSeconds: "scalar"\n        authPass: "scalar"\n        interface: "scalar"\n        unicastPeers: "list"\n        unicastSourceIP: "scalar"\n        virtualIPs: "list"\n        virtualRouterID: "scalar"\n    VirtualServer:\n      path: pkg/apis/k0s/v1beta1/cplb.go\n      decoder: inherited\n      fields:\n        delayLoop: "scalar"\n        ipAddress: "scalar"\n        lbAlgo: "scalar"\n        lbKind: "scalar"\n        persistenceTimeoutSeconds: "scalar"\n    WindowsImageSpec:\n      path: pkg/apis/k0s/v1beta1/images.go\n      decoder: inherited\n      fields:\n        kubeproxy: "ImageSpec"\n        pause: "ImageSpec"\n    WorkerProfile:\n      path: pkg/apis/k0s/v1beta1/workerprofile.go\n      decoder: inherited\n      fields:\n        name: "scalar"\n        values: "opaque"\ncommands:\n  install controller:\n    source:\n      repo: k0sproject/k0s\n      tag: v1.34.10+k0s.0\n      paths: [cmd/install/controller.go, cmd/install/install.go, pkg/config/cli.go, cmd/internal/debug.go]\n    flags:\n      cidr-range:\n        short: ""\n        value: true\n      config:\n        short: "c"\n        value: true\n      cri-socket:\n        short: ""\n        value: true\n      data-dir:\n        short: ""\n        value: true\n      debug:\n        short: "d"\n        value: false\n      debugListenOn:\n        short: ""\n        value: true\n      disable-components:\n        short: ""\n        value: true\n      enable-cloud-provider:\n        short: ""\n        value: false\n      enable-dynamic-config:\n        short: ""\n        value: false\n      enable-k0s-cloud-provider:\n        short: ""\n        value: false\n      enable-metrics-scraper:\n        short: ""\n        value: false\n      enable-worker:\n        short: ""\n        value: false\n      env:\n        short: "e"\n        value: true\n      feature-gates:\n        short: ""\n        value: true\n      force:\n        short: ""\n        value: false\n      ignore-pre-flight-checks:\n        short: ""\n        value: false\n      init-only:\n        short: ""\n        value: false\n      iptables-mode:\n        short: ""\n        value: true\n      k0s-cloud-provider-port:\n        short: ""\n        value: true\n      k0s-cloud-provider-update-frequency:\n        short: ""\n        value: true\n      kube-controller-manager-extra-args:\n        short: ""\n        value: true\n      kubelet-extra-args:\n        short: ""\n        value: true\n      kubelet-root-dir:\n        short: ""\n        value: true\n      labels:\n        short: ""\n        value: true\n      logging:\n        short: "l"\n        value: true\n      no-taints:\n        short: ""\n        value: false\n      profile:\n        short: ""\n        value: true\n      single:\n        short: ""\n        value: false\n      status-socket:\n        short: ""\n        value: true\n      taints:\n        short: ""\n        value: true\n      token-file:\n        short: ""\n        value: true\n      verbose:\n        short: "v"\n        value: false\n  install worker:\n    source:\n      repo: k0sproject/k0s\n      tag: v1.34.10+k0s.0\n      paths: [cmd/install/worker.go, cmd/install/install.go, pkg/config/cli.go, cmd/internal/debug.go]\n    flags:\n      cidr-range:\n        short: ""\n        value: true\n      cri-socket:\n        short: ""\n        value: true\n      data-dir:\n        short: ""\n        value: true\n      debug:\n        short: "d"\n        value: false\n      debugListenOn:\n        short: ""\n        value: true\n      enable-cloud-provider:\n        short: ""\n        value: false\n      env:\n        short: "e"\n        value: true\n      force:\n        short: ""\n        value: false\n      ignore-pre-flight-checks:\n        short: ""\n        value: false\n      iptables-mode:\n        short: ""\n        value: true\n      kubelet-extra-args:\n        short: ""\n        value: true\n      kubelet-root-dir:\n        short: ""\n        value: true\n      labels:\n        short: ""\n        value: true\n      logging:\n        short: "l"\n        value: true\n      profile:\n        short: ""\n        value: true\n      status-socket:\n        short: ""\n        value: true\n      taints:\n        short: ""\n        value: true\n      token-file:\n        short: ""\n        value: true\n      verbose:\n        short: "v"\n        value: false\n  token create:\n    source:\n      repo: k0sproject/k0s\n      tag: v1.34.10+k0s.0\n      paths: [cmd/token/create.go, cmd/token/token.go, pkg/config/cli.go, cmd/internal/debug.go]\n    flags:\n      data-dir:\n        short: ""\n        value: true\n      expiry:\n        short: ""\n        value: true\n      role:\n        short: ""\n        value: true\n      status-socket:\n        short: ""\n        value: true\n      wait:\n        short: ""\n        value: false\n  etcd leave:\n    source:\n      repo: k0sproject/k0s\n      tag: v1.34.10+k0s.0\n      paths: [cmd/etcd/leave.go, cmd/etcd/etcd.go, pkg/config/cli.go, cmd/internal/debug.go]\n    flags:\n      data-dir:\n        short: ""\n        value: true\n      debug:\n        short: "d"\n        value: false\n      debugListenOn:\n        short: ""\n        value: true\n      peer-address:\n        short: ""\n        value: true\n      status-socket:\n        short: ""\n        value: true\n      verbose:\n        short: "v"\n        value: false\n',  # noqa: E501
    "k0s/v1.35.7+k0s.0": '# k0s v1.35.7+k0s.0: ClusterConfig (k0s.yaml) fields, extracted by tests/fakes/upstream/k0s/extract.py\n# from the source at the tag; facts only (names, decoders), no upstream code or prose.\ntool: k0s\nrelease: v1.35.7+k0s.0\nrepo: k0sproject/k0s\ntag: v1.35.7+k0s.0\ncommit: 175316edce42c2d7323d1c0835a40e90559689a3\nclusterconfig:\n  apiVersion: k0s.k0sproject.io/v1beta1\n  kinds: [ClusterConfig]\n  root: ClusterConfig\n  strict_source:\n    repo: k0sproject/k0s\n    tag: v1.35.7+k0s.0\n    path: pkg/apis/k0s/v1beta1/clusterconfig_types.go\n  ignored_unknown: [interval, podSecurityPolicy]\n  types:\n    APISpec:\n      path: pkg/apis/k0s/v1beta1/api.go\n      decoder: own\n      fields:\n        address: "scalar"\n        ca: "CA"\n        externalAddress: "scalar"\n        extraArgs: "map"\n        k0sApiPort: "scalar"\n        onlyBindToAddress: "scalar"\n        port: "scalar"\n        rawArgs: "list"\n        sans: "list"\n    CA:\n      path: pkg/apis/k0s/v1beta1/cert.go\n      decoder: inherited\n      fields:\n        certificatesExpireAfter: "scalar"\n        expiresAfter: "scalar"\n    Calico:\n      path: pkg/apis/k0s/v1beta1/calico.go\n      decoder: own\n      fields:\n        envVars: "map"\n        flexVolumeDriverPath: "scalar"\n        ipAutodetectionMethod: "scalar"\n        ipV6AutodetectionMethod: "scalar"\n        mode: "scalar"\n        mtu: "scalar"\n        overlay: "scalar"\n        vxlanPort: "scalar"\n        vxlanVNI: "scalar"\n        wireguard: "scalar"\n    CalicoImageSpec:\n      path: pkg/apis/k0s/v1beta1/images.go\n      decoder: inherited\n      fields:\n        cni: "ImageSpec"\n        kubecontrollers: "ImageSpec"\n        node: "ImageSpec"\n        windows: "CalicoWindowsImageSpec"\n    CalicoWindowsImageSpec:\n      path: pkg/apis/k0s/v1beta1/images.go\n      decoder: inherited\n      fields:\n        cni: "ImageSpec"\n        node: "ImageSpec"\n    Chart:\n      path: pkg/apis/k0s/v1beta1/extensions.go\n      decoder: inherited\n      fields:\n        chartname: "scalar"\n        forceUpgrade: "scalar"\n        name: "scalar"\n        namespace: "scalar"\n        order: "scalar"\n        timeout: "scalar"\n        values: "scalar"\n        version: "scalar"\n    ClusterConfig:\n      path: pkg/apis/k0s/v1beta1/clusterconfig_types.go\n      decoder: inherited\n      fields:\n        apiVersion: "scalar"\n        kind: "scalar"\n        metadata: "opaque"\n        spec: "ClusterSpec"\n        status: "ClusterConfigStatus"\n    ClusterConfigStatus:\n      path: pkg/apis/k0s/v1beta1/clusterconfig_types.go\n      decoder: inherited\n      fields:\n    ClusterExtensions:\n      path: pkg/apis/k0s/v1beta1/extensions.go\n      decoder: inherited\n      fields:\n        helm: "HelmExtensions"\n        storage: "StorageExtension"\n    ClusterImages:\n      path: pkg/apis/k0s/v1beta1/images.go\n      decoder: own\n      fields:\n        calico: "CalicoImageSpec"\n        coredns: "ImageSpec"\n        default_pull_policy: "scalar"\n        konnectivity: "ImageSpec"\n        kubeproxy: "ImageSpec"\n        kuberouter: "KubeRouterImageSpec"\n        metricsserver: "ImageSpec"\n        pause: "ImageSpec"\n        pushgateway: "ImageSpec"\n        repository: "scalar"\n        windows: "WindowsImageSpec"\n    ClusterSpec:\n      path: pkg/apis/k0s/v1beta1/clusterconfig_types.go\n      decoder: inherited\n      fields:\n        api: "APISpec"\n        controllerManager: "ControllerManagerSpec"\n        extensions: "ClusterExtensions"\n        featureGates: "[]FeatureGate"\n        images: "ClusterImages"\n        installConfig: "InstallSpec"\n        konnectivity: "KonnectivitySpec"\n        network: "Network"\n        scheduler: "SchedulerSpec"\n        storage: "StorageSpec"\n        telemetry: "ClusterTelemetry"\n        workerProfiles: "[]WorkerProfile"\n    ClusterTelemetry:\n      path: pkg/apis/k0s/v1beta1/telemetry.go\n      decoder: inherited\n      fields:\n        enabled: "scalar"\n    ControlPlaneLoadBalancingSpec:\n      path: pkg/apis/k0s/v1beta1/cplb.go\n      decoder: inherited\n      fields:\n        enabled: "scalar"\n        keepalived: "KeepalivedSpec"\n        type: "scalar"\n    ControllerManagerSpec:\n      path: pkg/apis/k0s/v1beta1/clusterconfig_types.go\n      decoder: inherited\n      fields:\n        extraArgs: "map"\n        rawArgs: "list"\n    DualStack:\n      path: pkg/apis/k0s/v1beta1/dualstack.go\n      decoder: inherited\n      fields:\n        IPv6podCIDR: "scalar"\n        IPv6serviceCIDR: "scalar"\n        enabled: "scalar"\n    EnvoyProxy:\n      path: pkg/apis/k0s/v1beta1/nllb.go\n      decoder: own\n      fields:\n        apiServerBindPort: "scalar"\n        image: "ImageSpec"\n        imagePullPolicy: "opaque"\n        konnectivityServerBindPort: "scalar"\n    EtcdConfig:\n      path: pkg/apis/k0s/v1beta1/storage.go\n      decoder: inherited\n      fields:\n        ca: "CA"\n        externalCluster: "ExternalCluster"\n        extraArgs: "map"\n        peerAddress: "scalar"\n        rawArgs: "list"\n    ExternalCluster:\n      path: pkg/apis/k0s/v1beta1/storage.go\n      decoder: inherited\n      fields:\n        caFile: "scalar"\n        clientCertFile: "scalar"\n        clientKeyFile: "scalar"\n        endpoints: "list"\n        etcdPrefix: "scalar"\n    FeatureGate:\n      path: pkg/apis/k0s/v1beta1/feature_gates.go\n      decoder: inherited\n      fields:\n        components: "list"\n        enabled: "scalar"\n        name: "scalar"\n    HelmExtensions:\n      path: pkg/apis/k0s/v1beta1/extensions.go\n      decoder: inherited\n      fields:\n        charts: "[]Chart"\n        concurrencyLevel: "scalar"\n        repositories: "[]Repository"\n    ImageSpec:\n      path: pkg/apis/k0s/v1beta1/images.go\n      decoder: inherited\n      fields:\n        image: "scalar"\n        version: "scalar"\n    InstallSpec:\n      path: pkg/apis/k0s/v1beta1/clusterconfig_types.go\n      decoder: inherited\n      fields:\n        users: "SystemUser"\n    KeepalivedSpec:\n      path: pkg/apis/k0s/v1beta1/cplb.go\n      decoder: inherited\n      fields:\n        configTemplateVRRP: "scalar"\n        configTemplateVS: "scalar"\n        disableLoadBalancer: "scalar"\n        userSpaceProxyBindPort: "scalar"\n        virtualServers: "[]VirtualServer"\n        vrrpInstances: "[]VRRPInstance"\n    KineConfig:\n      path: pkg/apis/k0s/v1beta1/storage.go\n      decoder: inherited\n      fields:\n        dataSource: "scalar"\n        extraArgs: "map"\n        rawArgs: "list"\n    KonnectivitySpec:\n      path: pkg/apis/k0s/v1beta1/konnectivity.go\n      decoder: inherited\n      fields:\n        adminPort: "scalar"\n        agentPort: "scalar"\n        externalAddress: "scalar"\n    KubeProxy:\n      path: pkg/apis/k0s/v1beta1/kubeproxy.go\n      decoder: inherited\n      fields:\n        disabled: "scalar"\n        extraArgs: "map"\n        iptables: "KubeProxyIPTablesConfiguration"\n        ipvs: "KubeProxyIPVSConfiguration"\n        metricsBindAddress: "scalar"\n        mode: "scalar"\n        nftables: "KubeProxyNFTablesConfiguration"\n        nodePortAddresses: "list"\n        rawArgs: "list"\n    KubeProxyIPTablesConfiguration:\n      path: pkg/apis/k0s/v1beta1/kubeproxy.go\n      decoder: inherited\n      fields:\n        localhostNodePorts: "scalar"\n        masqueradeAll: "scalar"\n        masqueradeBit: "scalar"\n        minSyncPeriod: "scalar"\n        syncPeriod: "scalar"\n    KubeProxyIPVSConfiguration:\n      path: pkg/apis/k0s/v1beta1/kubeproxy.go\n      decoder: inherited\n      fields:\n        excludeCIDRs: "list"\n        minSyncPeriod: "scalar"\n        scheduler: "scalar"\n        strictARP: "scalar"\n        syncPeriod: "scalar"\n        tcpFinTimeout: "scalar"\n        tcpTimeout: "scalar"\n        udpTimeout: "scalar"\n    KubeProxyNFTablesConfiguration:\n      path: pkg/apis/k0s/v1beta1/kubeproxy.go\n      decoder: inherited\n      fields:\n        masqueradeAll: "scalar"\n        masqueradeBit: "scalar"\n        minSyncPeriod: "scalar"\n        syncPeriod: "scalar"\n    KubeRouter:\n      path: pkg/apis/k0s/v1beta1/kuberouter.go\n      decoder: inherited\n      fields:\n        autoMTU: "scalar"\n        extraArgs: "map"\n        hairpin: "scalar"\n        hairpinMode: "scalar"\n        ipMasq: "scalar"\n        metricsPort: "scalar"\n        mtu: "scalar"\n        peerRouterASNs: "scalar"\n        peerRouterIPs: "scalar"\n        rawArgs: "list"\n    KubeRouterImageSpec:\n      path: pkg/apis/k0s/v1beta1/images.go\n      decoder: inherited\n      fields:\n        cni: "ImageSpec"\n        cniInstaller: "ImageSpec"\n    Network:\n      path: pkg/apis/k0s/v1beta1/network.go\n      decoder: own\n      fields:\n        calico: "Calico"\n        clusterDomain: "scalar"\n        controlPlaneLoadBalancing: "ControlPlaneLoadBalancingSpec"\n        dualStack: "DualStack"\n        kubeProxy: "KubeProxy"\n        kuberouter: "KubeRouter"\n        nodeLocalLoadBalancing: "NodeLocalLoadBalancing"\n        podCIDR: "scalar"\n        primaryAddressFamily: "scalar"\n        provider: "scalar"\n        serviceCIDR: "scalar"\n    NodeLocalLoadBalancing:\n      path: pkg/apis/k0s/v1beta1/nllb.go\n      decoder: own\n      fields:\n        enabled: "scalar"\n        envoyProxy: "EnvoyProxy"\n        type: "scalar"\n    Repository:\n      path: pkg/apis/k0s/v1beta1/extensions.go\n      decoder: inherited\n      fields:\n        caFile: "scalar"\n        certFile: "scalar"\n        insecure: "scalar"\n        keyfile: "scalar"\n        name: "scalar"\n        password: "scalar"\n        url: "scalar"\n        username: "scalar"\n    SchedulerSpec:\n      path: pkg/apis/k0s/v1beta1/clusterconfig_types.go\n      decoder: inherited\n      fields:\n        extraArgs: "map"\n        rawArgs: "list"\n    StorageExtension:\n      path: pkg/apis/k0s/v1beta1/extensions.go\n      decoder: inherited\n      fields:\n        create_default_storage_class: "scalar"\n        type: "scalar"\n    StorageSpec:\n      path: pkg/apis/k0s/v1beta1/storage.go\n      decoder: own\n      fields:\n        etcd: "EtcdConfig"\n        kine: "KineConfig"\n        type: "scalar"\n    SystemUser:\n      path: pkg/apis/k0s/v1beta1/system.go\n      decoder: inherited\n      fields:\n        etcdUser: "scalar"\n        kineUser: "scalar"\n        konnectivityUser: "scalar"\n        kubeAPIserverUser: "scalar"\n        kubeSchedulerUser: "scalar"\n    VRRPInstance:\n      path: pkg/apis/k0s/v1beta1/cplb.go\n      decoder: inherited\n      fields:\n        addressLabel: "scalar"\n        advertIntervalSeconds: "scalar"\n        authPass: "scalar"\n        interface: "scalar"\n        unicastPeers: "list"\n        unicastSourceIP: "scalar"\n        virtualIPs: "list"\n        virtualRouterID: "scalar"\n    VirtualServer:\n      path: pkg/apis/k0s/v1beta1/cplb.go\n      decoder: inherited\n      fields:\n        delayLoop: "scalar"\n        ipAddress: "scalar"\n        lbAlgo: "scalar"\n        lbKind: "scalar"\n        persistenceTimeoutSeconds: "scalar"\n    WindowsImageSpec:\n      path: pkg/apis/k0s/v1beta1/images.go\n      decoder: inherited\n      fields:\n        kubeproxy: "ImageSpec"\n        pause: "ImageSpec"\n    WorkerProfile:\n      path: pkg/apis/k0s/v1beta1/workerprofile.go\n      decoder: inherited\n      fields:\n        name: "scalar"\n        values: "opaque"\ncommands:\n  install controller:\n    source:\n      repo: k0sproject/k0s\n      tag: v1.35.7+k0s.0\n      paths: [cmd/install/controller.go, cmd/install/install.go, pkg/config/cli.go, cmd/internal/debug.go]\n    flags:\n      cidr-range:\n        short: ""\n        value: true\n      config:\n        short: "c"\n        value: true\n      cri-socket:\n        short: ""\n        value: true\n      data-dir:\n        short: ""\n        value: true\n      debug:\n        short: "d"\n        value: false\n      debugListenOn:\n        short: ""\n        value: true\n      disable-components:\n        short: ""\n        value: true\n      enable-cloud-provider:\n        short: ""\n        value: false\n      enable-dynamic-config:\n        short: ""\n        value: false\n      enable-k0s-cloud-provider:\n        short: ""\n        value: false\n      enable-metrics-scraper:\n        short: ""\n        value: false\n      enable-worker:\n        short: ""\n        value: false\n      env:\n        short: "e"\n        value: true\n      feature-gates:\n        short: ""\n        value: true\n      force:\n        short: ""\n        value: false\n      ignore-pre-flight-checks:\n        short: ""\n        value: false\n      init-only:\n        short: ""\n        value: false\n      iptables-mode:\n        short: ""\n        value: true\n      k0s-cloud-provider-port:\n        short: ""\n        value: true\n      k0s-cloud-provider-update-frequency:\n        short: ""\n        value: true\n      kube-controller-manager-extra-args:\n        short: ""\n        value: true\n      kubelet-extra-args:\n        short: ""\n        value: true\n      kubelet-root-dir:\n        short: ""\n        value: true\n      labels:\n        short: ""\n        value: true\n      logging:\n        short: "l"\n        value: true\n      no-taints:\n        short: ""\n        value: false\n      profile:\n        short: ""\n        value: true\n      single:\n        short: ""\n        value: false\n      start:\n        short: ""\n        value: false\n      status-socket:\n        short: ""\n        value: true\n      taints:\n        short: ""\n        value: true\n      token-file:\n        short: ""\n        value: true\n      verbose:\n        short: "v"\n        value: false\n  install worker:\n    source:\n      repo: k0sproject/k0s\n      tag: v1.35.7+k0s.0\n      paths: [cmd/install/worker.go, cmd/install/install.go, pkg/config/cli.go, cmd/internal/debug.go]\n    flags:\n      cidr-range:\n        short: ""\n        value: true\n      cri-socket:\n        short: ""\n        value: true\n      data-dir:\n        short: ""\n        value: true\n      debug:\n        short: "d"\n        value: false\n      debugListenOn:\n        short: ""\n        value: true\n      enable-cloud-provider:\n        short: ""\n        value: false\n      env:\n        short: "e"\n        value: true\n      force:\n        short: ""\n        value: false\n      ignore-pre-flight-checks:\n        short: ""\n        value: false\n      iptables-mode:\n        short: ""\n        value: true\n      kubelet-extra-args:\n        short: ""\n        value: true\n      kubelet-root-dir:\n        short: ""\n        value: true\n      labels:\n        short: ""\n        value: true\n      logging:\n        short: "l"\n        value: true\n      profile:\n        short: ""\n        value: true\n      start:\n        short: ""\n        value: false\n      status-socket:\n        short: ""\n        value: true\n      taints:\n        short: ""\n        value: true\n      token-file:\n        short: ""\n        value: true\n      verbose:\n        short: "v"\n        value: false\n  token create:\n    source:\n      repo: k0sproject/k0s\n      tag: v1.35.7+k0s.0\n      paths: [cmd/token/create.go, cmd/token/token.go, pkg/config/cli.go, cmd/internal/debug.go]\n    flags:\n      data-dir:\n        short: ""\n        value: true\n      expiry:\n        short: ""\n        value: true\n      role:\n        short: ""\n        value: true\n      status-socket:\n        short: ""\n        value: true\n      wait:\n        short: ""\n        value: false\n  etcd leave:\n    source:\n      repo: k0sproject/k0s\n      tag: v1.35.7+k0s.0\n      paths: [cmd/etcd/leave.go, cmd/etcd/etcd.go, pkg/config/cli.go, cmd/internal/debug.go]\n    flags:\n      data-dir:\n        short: ""\n        value: true\n      debug:\n        short: "d"\n        value: false\n      debugListenOn:\n        short: ""\n        value: true\n      peer-address:\n        short: ""\n        value: true\n      status-socket:\n        short: ""\n        value: true\n      verbose:\n        short: "v"\n        value: false\n',  # noqa: E501
    "k0s/v1.36.3+k0s.2": '# k0s v1.36.3+k0s.2: ClusterConfig (k0s.yaml) fields, extracted by tests/fakes/upstream/k0s/extract.py\n# from the source at the tag; facts only (names, decoders), no upstream code or prose.\ntool: k0s\nrelease: v1.36.3+k0s.2\nrepo: k0sproject/k0s\ntag: v1.36.3+k0s.2\ncommit: a949c71ba5b77e28367194b4b8c975b0f5fd5c79\nclusterconfig:\n  apiVersion: k0s.k0sproject.io/v1beta1\n  kinds: [ClusterConfig]\n  root: ClusterConfig\n  strict_source:\n    repo: k0sproject/k0s\n    tag: v1.36.3+k0s.2\n    path: pkg/apis/k0s/v1beta1/clusterconfig_types.go\n  ignored_unknown: [interval, podSecurityPolicy]\n  types:\n    APISpec:\n      path: pkg/apis/k0s/v1beta1/api.go\n      decoder: own\n      fields:\n        address: "scalar"\n        ca: "CA"\n        externalAddress: "scalar"\n        extraArgs: "map"\n        k0sApiPort: "scalar"\n        onlyBindToAddress: "scalar"\n        port: "scalar"\n        rawArgs: "list"\n        sans: "list"\n    CA:\n      path: pkg/apis/k0s/v1beta1/cert.go\n      decoder: inherited\n      fields:\n        certificatesExpireAfter: "scalar"\n        expiresAfter: "scalar"\n    Calico:\n      path: pkg/apis/k0s/v1beta1/calico.go\n      decoder: own\n      fields:\n        envVars: "map"\n        flexVolumeDriverPath: "scalar"\n        ipAutodetectionMethod: "scalar"\n        ipV6AutodetectionMethod: "scalar"\n        mode: "scalar"\n        mtu: "scalar"\n        overlay: "scalar"\n        patches: "[]Patch"\n        vxlanPort: "scalar"\n        vxlanVNI: "scalar"\n        wireguard: "scalar"\n    CalicoImageSpec:\n      path: pkg/apis/k0s/v1beta1/images.go\n      decoder: inherited\n      fields:\n        cni: "ImageSpec"\n        kubecontrollers: "ImageSpec"\n        node: "ImageSpec"\n        windows: "CalicoWindowsImageSpec"\n    CalicoWindowsImageSpec:\n      path: pkg/apis/k0s/v1beta1/images.go\n      decoder: inherited\n      fields:\n        cni: "ImageSpec"\n        node: "ImageSpec"\n    Chart:\n      path: pkg/apis/k0s/v1beta1/extensions.go\n      decoder: inherited\n      fields:\n        chartname: "scalar"\n        forceUpgrade: "scalar"\n        name: "scalar"\n        namespace: "scalar"\n        order: "scalar"\n        timeout: "scalar"\n        values: "scalar"\n        version: "scalar"\n    ClusterConfig:\n      path: pkg/apis/k0s/v1beta1/clusterconfig_types.go\n      decoder: inherited\n      fields:\n        apiVersion: "scalar"\n        kind: "scalar"\n        metadata: "opaque"\n        spec: "ClusterSpec"\n        status: "ClusterConfigStatus"\n    ClusterConfigStatus:\n      path: pkg/apis/k0s/v1beta1/clusterconfig_types.go\n      decoder: inherited\n      fields:\n    ClusterExtensions:\n      path: pkg/apis/k0s/v1beta1/extensions.go\n      decoder: inherited\n      fields:\n        helm: "HelmExtensions"\n        storage: "StorageExtension"\n    ClusterImages:\n      path: pkg/apis/k0s/v1beta1/images.go\n      decoder: own\n      fields:\n        calico: "CalicoImageSpec"\n        coredns: "ImageSpec"\n        default_pull_policy: "scalar"\n        konnectivity: "ImageSpec"\n        kubeproxy: "ImageSpec"\n        kuberouter: "KubeRouterImageSpec"\n        metricsserver: "ImageSpec"\n        pause: "ImageSpec"\n        pushgateway: "ImageSpec"\n        repository: "scalar"\n        windows: "WindowsImageSpec"\n    ClusterSpec:\n      path: pkg/apis/k0s/v1beta1/clusterconfig_types.go\n      decoder: inherited\n      fields:\n        api: "APISpec"\n        controllerManager: "ControllerManagerSpec"\n        extensions: "ClusterExtensions"\n        featureGates: "[]FeatureGate"\n        images: "ClusterImages"\n        installConfig: "InstallSpec"\n        konnectivity: "KonnectivitySpec"\n        metricsServer: "MetricsServer"\n        network: "Network"\n        scheduler: "SchedulerSpec"\n        storage: "StorageSpec"\n        telemetry: "ClusterTelemetry"\n        workerProfiles: "[]WorkerProfile"\n    ClusterTelemetry:\n      path: pkg/apis/k0s/v1beta1/telemetry.go\n      decoder: inherited\n      fields:\n        enabled: "scalar"\n    ControlPlaneLoadBalancingSpec:\n      path: pkg/apis/k0s/v1beta1/cplb.go\n      decoder: inherited\n      fields:\n        enabled: "scalar"\n        keepalived: "KeepalivedSpec"\n        type: "scalar"\n    ControllerManagerSpec:\n      path: pkg/apis/k0s/v1beta1/clusterconfig_types.go\n      decoder: inherited\n      fields:\n        extraArgs: "map"\n        rawArgs: "list"\n    CoreDNS:\n      path: pkg/apis/k0s/v1beta1/coredns.go\n      decoder: inherited\n      fields:\n        patches: "[]Patch"\n    DualStack:\n      path: pkg/apis/k0s/v1beta1/dualstack.go\n      decoder: inherited\n      fields:\n        IPv6podCIDR: "scalar"\n        IPv6serviceCIDR: "scalar"\n        enabled: "scalar"\n    EnvoyProxy:\n      path: pkg/apis/k0s/v1beta1/nllb.go\n      decoder: own\n      fields:\n        apiServerBindPort: "scalar"\n        image: "ImageSpec"\n        imagePullPolicy: "opaque"\n        konnectivityServerBindPort: "scalar"\n    EtcdConfig:\n      path: pkg/apis/k0s/v1beta1/storage.go\n      decoder: inherited\n      fields:\n        ca: "CA"\n        externalCluster: "ExternalCluster"\n        extraArgs: "map"\n        peerAddress: "scalar"\n        rawArgs: "list"\n    ExternalCluster:\n      path: pkg/apis/k0s/v1beta1/storage.go\n      decoder: inherited\n      fields:\n        caFile: "scalar"\n        clientCertFile: "scalar"\n        clientKeyFile: "scalar"\n        endpoints: "list"\n        etcdPrefix: "scalar"\n    FeatureGate:\n      path: pkg/apis/k0s/v1beta1/feature_gates.go\n      decoder: inherited\n      fields:\n        components: "list"\n        enabled: "scalar"\n        name: "scalar"\n    HelmExtensions:\n      path: pkg/apis/k0s/v1beta1/extensions.go\n      decoder: inherited\n      fields:\n        charts: "[]Chart"\n        concurrencyLevel: "scalar"\n        repositories: "[]Repository"\n    ImageSpec:\n      path: pkg/apis/k0s/v1beta1/images.go\n      decoder: inherited\n      fields:\n        image: "scalar"\n        version: "scalar"\n    InstallSpec:\n      path: pkg/apis/k0s/v1beta1/clusterconfig_types.go\n      decoder: inherited\n      fields:\n        users: "SystemUser"\n    KeepalivedSpec:\n      path: pkg/apis/k0s/v1beta1/cplb.go\n      decoder: inherited\n      fields:\n        configTemplateVRRP: "scalar"\n        configTemplateVS: "scalar"\n        disableLoadBalancer: "scalar"\n        userSpaceProxyBindPort: "scalar"\n        virtualServers: "[]VirtualServer"\n        vrrpInstances: "[]VRRPInstance"\n    KineConfig:\n      path: pkg/apis/k0s/v1beta1/storage.go\n      decoder: inherited\n      fields:\n        dataSource: "scalar"\n        extraArgs: "map"\n        rawArgs: "list"\n    KonnectivitySpec:\n      path: pkg/apis/k0s/v1beta1/konnectivity.go\n      decoder: inherited\n      fields:\n        adminPort: "scalar"\n        agentPort: "scalar"\n        externalAddress: "scalar"\n    KubeProxy:\n      path: pkg/apis/k0s/v1beta1/kubeproxy.go\n      decoder: inherited\n      fields:\n        disabled: "scalar"\n        extraArgs: "map"\n        healthzBindAddress: "scalar"\n        iptables: "KubeProxyIPTablesConfiguration"\n        ipvs: "KubeProxyIPVSConfiguration"\n        metricsBindAddress: "scalar"\n        mode: "scalar"\n        nftables: "KubeProxyNFTablesConfiguration"\n        nodePortAddresses: "list"\n        patches: "[]Patch"\n        rawArgs: "list"\n    KubeProxyIPTablesConfiguration:\n      path: pkg/apis/k0s/v1beta1/kubeproxy.go\n      decoder: inherited\n      fields:\n        localhostNodePorts: "scalar"\n        masqueradeAll: "scalar"\n        masqueradeBit: "scalar"\n        minSyncPeriod: "scalar"\n        syncPeriod: "scalar"\n    KubeProxyIPVSConfiguration:\n      path: pkg/apis/k0s/v1beta1/kubeproxy.go\n      decoder: inherited\n      fields:\n        excludeCIDRs: "list"\n        minSyncPeriod: "scalar"\n        scheduler: "scalar"\n        strictARP: "scalar"\n        syncPeriod: "scalar"\n        tcpFinTimeout: "scalar"\n        tcpTimeout: "scalar"\n        udpTimeout: "scalar"\n    KubeProxyNFTablesConfiguration:\n      path: pkg/apis/k0s/v1beta1/kubeproxy.go\n      decoder: inherited\n      fields:\n        masqueradeAll: "scalar"\n        masqueradeBit: "scalar"\n        minSyncPeriod: "scalar"\n        syncPeriod: "scalar"\n    KubeRouter:\n      path: pkg/apis/k0s/v1beta1/kuberouter.go\n      decoder: inherited\n      fields:\n        autoMTU: "scalar"\n        extraArgs: "map"\n        hairpin: "scalar"\n        hairpinMode: "scalar"\n        ipMasq: "scalar"\n        metricsPort: "scalar"\n        mtu: "scalar"\n        patches: "[]Patch"\n        peerRouterASNs: "scalar"\n        peerRouterIPs: "scalar"\n        rawArgs: "list"\n    KubeRouterImageSpec:\n      path: pkg/apis/k0s/v1beta1/images.go\n      decoder: inherited\n      fields:\n        cni: "ImageSpec"\n        cniInstaller: "ImageSpec"\n    MetricsServer:\n      path: pkg/apis/k0s/v1beta1/metricsserver.go\n      decoder: inherited\n      fields:\n        patches: "[]Patch"\n    Network:\n      path: pkg/apis/k0s/v1beta1/network.go\n      decoder: own\n      fields:\n        calico: "Calico"\n        clusterDomain: "scalar"\n        controlPlaneLoadBalancing: "ControlPlaneLoadBalancingSpec"\n        coreDNS: "CoreDNS"\n        dualStack: "DualStack"\n        kubeProxy: "KubeProxy"\n        kuberouter: "KubeRouter"\n        nodeLocalLoadBalancing: "NodeLocalLoadBalancing"\n        podCIDR: "scalar"\n        primaryAddressFamily: "scalar"\n        provider: "scalar"\n        serviceCIDR: "scalar"\n    NodeLocalLoadBalancing:\n      path: pkg/apis/k0s/v1beta1/nllb.go\n      decoder: own\n      fields:\n        enabled: "scalar"\n        envoyProxy: "EnvoyProxy"\n        traefik: "Traefik"\n        type: "scalar"\n    Patch:\n      path: pkg/apis/k0s/v1beta1/patches.go\n      decoder: inherited\n      fields:\n        patch: "PatchSpec"\n        target: "PatchTarget"\n    PatchSpec:\n      path: pkg/apis/k0s/v1beta1/patches.go\n      decoder: inherited\n      fields:\n        content: "scalar"\n        type: "scalar"\n    PatchTarget:\n      path: pkg/apis/k0s/v1beta1/patches.go\n      decoder: inherited\n      fields:\n        kind: "scalar"\n        name: "scalar"\n        namespace: "scalar"\n    Repository:\n      path: pkg/apis/k0s/v1beta1/extensions.go\n      decoder: inherited\n      fields:\n        caFile: "scalar"\n        certFile: "scalar"\n        insecure: "scalar"\n        keyfile: "scalar"\n        name: "scalar"\n        password: "scalar"\n        url: "scalar"\n        username: "scalar"\n    SchedulerSpec:\n      path: pkg/apis/k0s/v1beta1/clusterconfig_types.go\n      decoder: inherited\n      fields:\n        extraArgs: "map"\n        rawArgs: "list"\n    StorageExtension:\n      path: pkg/apis/k0s/v1beta1/extensions.go\n      decoder: inherited\n      fields:\n        create_default_storage_class: "scalar"\n        type: "scalar"\n    StorageSpec:\n      path: pkg/apis/k0s/v1beta1/storage.go\n      decoder: own\n      fields:\n        etcd: "EtcdConfig"\n        kine: "KineConfig"\n        type: "scalar"\n    SystemUser:\n      path: pkg/apis/k0s/v1beta1/system.go\n      decoder: inherited\n      fields:\n        etcdUser: "scalar"\n        kineUser: "scalar"\n        konnectivityUser: "scalar"\n        kubeAPIserverUser: "scalar"\n        kubeSchedulerUser: "scalar"\n    Traefik:\n      path: pkg/apis/k0s/v1beta1/nllb.go\n      decoder: own\n      fields:\n        apiServerBindPort: "scalar"\n        image: "ImageSpec"\n        imagePullPolicy: "opaque"\n        konnectivityServerBindPort: "scalar"\n    VRRPInstance:\n      path: pkg/apis/k0s/v1beta1/cplb.go\n      decoder: inherited\n      fields:\n        addressLabel: "scalar"\n        advertIntervalSeconds: "scalar"\n        authPass: "scalar"\n        interface: "scalar"\n        unicastPeers: "list"\n        unicastSourceIP: "scalar"\n        virtualIPs: "list"\n        virtualRouterID: "scalar"\n    VirtualServer:\n      path: pkg/apis/k0s/v1beta1/cplb.go\n      decoder: inherited\n      fields:\n        delayLoop: "scalar"\n        ipAddress: "scalar"\n        lbAlgo: "scalar"\n        lbKind: "scalar"\n        persistenceTimeoutSeconds: "scalar"\n    WindowsImageSpec:\n      path: pkg/apis/k0s/v1beta1/images.go\n      decoder: inherited\n      fields:\n        kubeproxy: "ImageSpec"\n        pause: "ImageSpec"\n    WorkerProfile:\n      path: pkg/apis/k0s/v1beta1/workerprofile.go\n      decoder: inherited\n      fields:\n        name: "scalar"\n        values: "opaque"\ncommands:\n  install controller:\n    source:\n      repo: k0sproject/k0s\n      tag: v1.36.3+k0s.2\n      paths: [cmd/install/controller.go, cmd/install/install.go, pkg/config/cli.go, cmd/internal/debug.go]\n    flags:\n      api-server-stop-timeout:\n        short: ""\n        value: true\n      cidr-range:\n        short: ""\n        value: true\n      config:\n        short: "c"\n        value: true\n      cri-socket:\n        short: ""\n        value: true\n      data-dir:\n        short: ""\n        value: true\n      debug:\n        short: "d"\n        value: false\n      debugListenOn:\n        short: ""\n        value: true\n      disable-components:\n        short: ""\n        value: true\n      enable-cloud-provider:\n        short: ""\n        value: false\n      enable-dynamic-config:\n        short: ""\n        value: false\n      enable-k0s-cloud-provider:\n        short: ""\n        value: false\n      enable-metrics-scraper:\n        short: ""\n        value: false\n      enable-worker:\n        short: ""\n        value: false\n      env:\n        short: "e"\n        value: true\n      feature-gates:\n        short: ""\n        value: true\n      force:\n        short: ""\n        value: false\n      ignore-pre-flight-checks:\n        short: ""\n        value: false\n      init-only:\n        short: ""\n        value: false\n      iptables-mode:\n        short: ""\n        value: true\n      k0s-cloud-provider-port:\n        short: ""\n        value: true\n      k0s-cloud-provider-update-frequency:\n        short: ""\n        value: true\n      kube-controller-manager-extra-args:\n        short: ""\n        value: true\n      kubelet-extra-args:\n        short: ""\n        value: true\n      kubelet-root-dir:\n        short: ""\n        value: true\n      labels:\n        short: ""\n        value: true\n      logging:\n        short: "l"\n        value: true\n      no-taints:\n        short: ""\n        value: false\n      profile:\n        short: ""\n        value: true\n      single:\n        short: ""\n        value: false\n      start:\n        short: ""\n        value: false\n      status-socket:\n        short: ""\n        value: true\n      taints:\n        short: ""\n        value: true\n      token-file:\n        short: ""\n        value: true\n      verbose:\n        short: "v"\n        value: false\n  install worker:\n    source:\n      repo: k0sproject/k0s\n      tag: v1.36.3+k0s.2\n      paths: [cmd/install/worker.go, cmd/install/install.go, pkg/config/cli.go, cmd/internal/debug.go]\n    flags:\n      cidr-range:\n        short: ""\n        value: true\n      cri-socket:\n        short: ""\n        value: true\n      data-dir:\n        short: ""\n        value: true\n      debug:\n        short: "d"\n        value: false\n      debugListenOn:\n        short: ""\n        value: true\n      enable-cloud-provider:\n        short: ""\n        value: false\n      env:\n        short: "e"\n        value: true\n      force:\n        short: ""\n        value: false\n      ignore-pre-flight-checks:\n        short: ""\n        value: false\n      iptables-mode:\n        short: ""\n        value: true\n      kubelet-extra-args:\n        short: ""\n        value: true\n      kubelet-root-dir:\n        short: ""\n        value: true\n      labels:\n        short: ""\n        value: true\n      logging:\n        short: "l"\n        value: true\n      profile:\n        short: ""\n        value: true\n      start:\n        short: ""\n        value: false\n      status-socket:\n        short: ""\n        value: true\n      taints:\n        short: ""\n        value: true\n      token-file:\n        short: ""\n        value: true\n      verbose:\n        short: "v"\n        value: false\n  token create:\n    source:\n      repo: k0sproject/k0s\n      tag: v1.36.3+k0s.2\n      paths: [cmd/token/create.go, cmd/token/token.go, pkg/config/cli.go, cmd/internal/debug.go]\n    flags:\n      data-dir:\n        short: ""\n        value: true\n      expiry:\n        short: ""\n        value: true\n      role:\n        short: ""\n        value: true\n      status-socket:\n        short: ""\n        value: true\n      wait:\n        short: ""\n        value: false\n  etcd leave:\n    source:\n      repo: k0sproject/k0s\n      tag: v1.36.3+k0s.2\n      paths: [cmd/etcd/leave.go, cmd/etcd/etcd.go, pkg/config/cli.go, cmd/internal/debug.go]\n    flags:\n      data-dir:\n        short: ""\n        value: true\n      debug:\n        short: "d"\n        value: false\n      debugListenOn:\n        short: ""\n        value: true\n      peer-address:\n        short: ""\n        value: true\n      status-socket:\n        short: ""\n        value: true\n      verbose:\n        short: "v"\n        value: false\n',  # noqa: E501
}
