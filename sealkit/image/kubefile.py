"""Kubefile parser: the Dockerfile syntax subset that cluster images need.

Supported: ``FROM``, ``COPY``, ``ENV``, ``LABEL``, ``CMD`` (exec and shell form), ``ARG``, comments
and ``\\`` line continuations, ``$VAR`` / ``${VAR}`` / ``${VAR:-default}`` / ``${VAR:+alt}``
substitution in FROM, COPY, ENV, LABEL and ARG (not in CMD, which runs later on the cluster).

Multi-platform: the build-time variables ``TARGETOS``, ``TARGETARCH``, ``TARGETVARIANT`` and
``TARGETPLATFORM`` are always defined (as in BuildKit, but without needing ``ARG`` first), so a
context can carry one binary tree per architecture and pick it with
``COPY bin/${TARGETARCH}/ bin/``.

Anything else is refused with the file and line, because silently ignoring e.g. ``RUN`` would
build an image that lacks what its author expected.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sealkit.errors import UsageError
from sealkit.image.oci import IMAGE_TYPES, LABEL_TYPE, format_platform

_NOT_SUPPORTED = {
    "RUN": "cluster images are assembled from files; nothing is executed at build time",
    "ADD": "use COPY (remote URLs and auto-extraction are not supported)",
    "ENTRYPOINT": "use CMD for the commands run on the cluster",
    "WORKDIR": "paths in a cluster image are relative to its root",
    "USER": "cluster images are unpacked on hosts, not run as containers",
}
_KNOWN = ("FROM", "COPY", "ENV", "LABEL", "CMD", "ARG")
_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_VAR_RE = re.compile(
    r"\$(?:\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?P<op>:[-+])?(?P<word>[^}]*)\}"
    r"|(?P<bare>[A-Za-z_][A-Za-z0-9_]*))"
)


@dataclass(frozen=True)
class Instruction:
    """One logical instruction; ``line`` is where it starts in the Kubefile (1-based)."""

    command: str
    args: str
    line: int


@dataclass
class CopyStep:
    """A COPY after substitution: source patterns (relative to the context) and destination."""

    sources: list[str]
    dest: str
    line: int
    chmod: int | None = None


@dataclass
class BuildPlan:
    """What one platform's build does, after ARG/ENV substitution."""

    base: str | None
    base_line: int
    platform: dict[str, str]
    copies: list[CopyStep] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    cmd: list[str] | None = None


class Kubefile:
    """A parsed Kubefile; :meth:`plan` evaluates it for one platform."""

    def __init__(self, instructions: list[Instruction], path: str = "Kubefile") -> None:
        self.instructions = instructions
        self.path = path

    @classmethod
    def parse(cls, text: str, path: str = "Kubefile") -> Kubefile:
        """Split ``text`` into instructions; raise UsageError on unknown ones with the line."""
        instructions: list[Instruction] = []
        pending: list[str] = []
        start = 0
        for number, raw in enumerate(text.splitlines(), 1):
            stripped = raw.strip()
            if not pending and (not stripped or stripped.startswith("#")):
                continue
            if pending and (not stripped or stripped.startswith("#")):
                continue  # Docker skips blank lines and comments inside a continuation
            if not pending:
                start = number
            if stripped.endswith("\\"):
                pending.append(stripped[:-1])
                continue
            pending.append(stripped)
            instructions.append(cls._instruction(" ".join(p.strip() for p in pending), start, path))
            pending = []
        if pending:
            instructions.append(cls._instruction(" ".join(p.strip() for p in pending), start, path))
        kubefile = cls(instructions, path)
        kubefile._check_structure()
        return kubefile

    @classmethod
    def load(cls, path: Path) -> Kubefile:
        try:
            text = Path(path).read_text()
        except OSError as exc:
            raise UsageError(
                f"cannot read Kubefile {path}: {exc}", hint="pass the Kubefile with -f PATH"
            ) from exc
        return cls.parse(text, str(path))

    @staticmethod
    def _instruction(logical: str, line: int, path: str) -> Instruction:
        command, _, args = logical.partition(" ")
        upper = command.upper()
        if upper in _NOT_SUPPORTED:
            raise UsageError(
                f"{path}:{line}: {upper} is not supported in a Kubefile", hint=_NOT_SUPPORTED[upper]
            )
        if upper not in _KNOWN:
            raise UsageError(
                f"{path}:{line}: unknown instruction {command!r}",
                hint=f"a Kubefile supports {', '.join(_KNOWN)}",
            )
        return Instruction(upper, args.strip(), line)

    def _check_structure(self) -> None:
        froms = [i for i in self.instructions if i.command == "FROM"]
        if not froms:
            raise UsageError(
                f"{self.path}: no FROM instruction",
                hint="start with FROM scratch or FROM <cluster image>",
            )
        if len(froms) > 1:
            raise UsageError(
                f"{self.path}:{froms[1].line}: multi-stage builds are not supported",
                hint="use a single FROM",
            )
        for ins in self.instructions:
            if ins.command == "FROM":
                break
            if ins.command != "ARG":
                raise UsageError(
                    f"{self.path}:{ins.line}: {ins.command} before FROM",
                    hint="only ARG may come before FROM",
                )

    # ---- evaluation ------------------------------------------------------------------------

    def plan(
        self,
        platform: Mapping[str, str],
        build_args: Mapping[str, str] | None = None,
        base_config: Callable[[str, int], Mapping[str, Any] | None] | None = None,
    ) -> BuildPlan:
        """Evaluate for ``platform``.

        ``base_config(ref, line)`` returns the OCI config of the FROM image for this platform (None
        for ``scratch``); its Env is visible to later instructions and its Labels/Env/Cmd are
        inherited, like Docker.
        """
        args = dict(build_args or {})
        variables: dict[str, str] = {
            "TARGETOS": platform.get("os", "linux"),
            "TARGETARCH": platform["architecture"],
            "TARGETVARIANT": platform.get("variant", ""),
            "TARGETPLATFORM": format_platform(platform),
        }
        plan: BuildPlan | None = None
        for ins in self.instructions:
            where = f"{self.path}:{ins.line}"
            if ins.command == "ARG":
                for word in _words(ins.args, variables, where):
                    name, eq, default = word.partition("=")
                    if not _NAME_RE.match(name):
                        raise UsageError(f"{where}: invalid ARG name {name!r}")
                    if name in args:
                        variables[name] = args[name]
                    elif eq or name not in variables:
                        variables[name] = default
                continue
            if ins.command == "FROM":
                words = _words(ins.args, variables, where)
                if len(words) == 3 and words[1].lower() == "as":
                    words = words[:1]
                if len(words) != 1 or words[0].startswith("--"):
                    raise UsageError(f"{where}: FROM takes one image (FROM scratch | FROM IMAGE)")
                base = None if words[0] == "scratch" else words[0]
                plan = BuildPlan(base=base, base_line=ins.line, platform=dict(platform))
                config = (base_config(base, ins.line) if base and base_config else None) or {}
                inner = config.get("config") or {}
                for item in inner.get("Env") or []:
                    key, _, value = item.partition("=")
                    plan.env[key] = value
                plan.labels.update(inner.get("Labels") or {})
                plan.cmd = list(inner["Cmd"]) if inner.get("Cmd") else None
                continue
            assert plan is not None  # _check_structure guarantees FROM comes first
            scope = {**variables, **plan.env}
            if ins.command == "ENV":
                for key, value in _pairs(ins.args, scope, where, "ENV"):
                    plan.env[key] = value
                    scope[key] = value
            elif ins.command == "LABEL":
                for key, value in _pairs(ins.args, scope, where, "LABEL"):
                    plan.labels[key] = value
            elif ins.command == "CMD":
                plan.cmd = _cmd(ins.args, where)
            elif ins.command == "COPY":
                plan.copies.append(_copy(ins.args, scope, where, ins.line))
        assert plan is not None
        image_type = plan.labels.get(LABEL_TYPE)
        if image_type is not None and image_type not in IMAGE_TYPES:
            raise UsageError(
                f"{self.path}: label {LABEL_TYPE}={image_type!r} is invalid",
                hint=f"use one of {', '.join(IMAGE_TYPES)}",
            )
        return plan


def _cmd(args: str, where: str) -> list[str]:
    if args.startswith("["):
        try:
            value = json.loads(args)
        except ValueError as exc:
            raise UsageError(
                f"{where}: CMD exec form is not a JSON array: {exc}",
                hint='write CMD ["cmd", "arg"] with double quotes',
            ) from exc
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise UsageError(f"{where}: CMD exec form must be a JSON array of strings")
        return value
    if not args:
        raise UsageError(f"{where}: CMD needs a command")
    return ["/bin/sh", "-c", args]


def _copy(args: str, scope: Mapping[str, str], where: str, line: int) -> CopyStep:
    chmod = None
    rest = args
    while rest.startswith("--"):
        flag, _, rest = rest.partition(" ")
        rest = rest.strip()
        name, _, value = flag.partition("=")
        if name == "--chmod" and re.fullmatch(r"[0-7]{3,4}", value):
            chmod = int(value, 8)
        elif name == "--chown":
            continue  # layers are always owned by 0:0 (hosts unpack as root); accepted for compat
        else:
            raise UsageError(
                f"{where}: unsupported COPY flag {flag!r}",
                hint="COPY supports --chmod=OCTAL and --chown (ignored)",
            )
    if rest.startswith("["):
        try:
            items = json.loads(rest)
        except ValueError as exc:
            raise UsageError(f"{where}: COPY JSON form is not valid JSON: {exc}") from exc
        if not isinstance(items, list) or not all(isinstance(v, str) for v in items):
            raise UsageError(f"{where}: COPY JSON form must be an array of strings")
        words = [_expand(v, scope, where) for v in items]
    else:
        words = _words(rest, scope, where)
    if len(words) < 2:
        raise UsageError(
            f"{where}: COPY needs at least one source and a destination", hint="COPY SRC... DEST"
        )
    return CopyStep(sources=words[:-1], dest=words[-1], line=line, chmod=chmod)


def _pairs(args: str, scope: Mapping[str, str], where: str, what: str) -> list[tuple[str, str]]:
    words = _words(args, scope, where)
    if not words:
        raise UsageError(f"{where}: {what} needs KEY=VALUE")
    if "=" not in words[0]:
        if what == "LABEL":
            raise UsageError(f"{where}: LABEL needs KEY=VALUE pairs")
        # legacy form: ENV KEY the rest of the line is the value
        pairs = [(words[0], " ".join(words[1:]))]
    else:
        pairs = []
        for word in words:
            key, eq, value = word.partition("=")
            if not eq or not key:
                raise UsageError(
                    f"{where}: {what} expects KEY=VALUE, got {word!r}",
                    hint='quote values with spaces: KEY="a b"',
                )
            pairs.append((key, value))
    if what == "ENV":
        for key, _ in pairs:
            if not _NAME_RE.match(key):
                raise UsageError(f"{where}: invalid ENV name {key!r}")
    return pairs


def _expand(text: str, scope: Mapping[str, str], where: str) -> str:
    """Substitute variables in ``text`` (no quote handling; for JSON-form arguments)."""

    def repl(match: re.Match[str]) -> str:
        name = match.group("braced") or match.group("bare")
        value = scope.get(name, "")
        op = match.group("op")
        if op == ":-":
            return value or match.group("word")
        if op == ":+":
            return match.group("word") if value else ""
        if match.group("braced") and match.group("word"):
            raise UsageError(
                f"{where}: unsupported substitution {match.group(0)!r}",
                hint="use ${VAR}, ${VAR:-default} or ${VAR:+alt}",
            )
        return value

    return _VAR_RE.sub(repl, text)


def _words(text: str, scope: Mapping[str, str], where: str) -> list[str]:
    """Shell-like word splitting with quotes and escapes; variables expand outside '…'."""
    words: list[str] = []
    current: list[str] = []
    in_word = False
    i = 0
    quote: str | None = None
    while i < len(text):
        ch = text[i]
        if quote == "'":
            if ch == "'":
                quote = None
            else:
                current.append(ch)
            i += 1
            continue
        if ch == "\\" and i + 1 < len(text):
            nxt = text[i + 1]
            if quote == '"' and nxt not in '"\\$':
                current.append(ch)
            else:
                current.append(nxt)
            in_word = True
            i += 2
            continue
        if ch == "$":
            match = _VAR_RE.match(text, i)
            if match:
                current.append(_expand(match.group(0), scope, where))
                in_word = True
                i = match.end()
                continue
        if quote == '"':
            if ch == '"':
                quote = None
            else:
                current.append(ch)
            i += 1
            continue
        if ch in "'\"":
            quote = ch
            in_word = True
        elif ch.isspace():
            if in_word:
                words.append("".join(current))
                current, in_word = [], False
        else:
            current.append(ch)
            in_word = True
        i += 1
    if quote:
        raise UsageError(f"{where}: unterminated {quote} quote")
    if in_word:
        words.append("".join(current))
    return words
