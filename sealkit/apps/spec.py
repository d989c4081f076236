"""The output contract of an app image: ``sealkit-app.yaml`` at the image root, validated strictly.

The file says how the app is installed (installer and its options), what it needs (a StorageClass),
what must be ready, where to connect (entry points) and with which credentials. It is untrusted input
(it comes from an image): every field is checked against a closed schema and every path must stay
inside the image, so a typo or a hostile file fails with an error naming the file and the field,
before anything changes on the cluster. The schema is documented in ``docs/apps.md``.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from sealkit.errors import ImageError

APP_FILE = "sealkit-app.yaml"
API_VERSION = "sealkit.io/v1"
KIND = "App"
#: installers shipped with sealkit; a plugin may add more (see sealkit.apps.hookspecs)
BUILTIN_INSTALLERS = ("helm", "manifests", "cmd")
#: label naming the installer when an image has no sealkit-app.yaml
LABEL_INSTALLER = "sealkit.io/app.installer"
LABEL_CHART = "sealkit.io/app.chart"
LABEL_VALUES = "sealkit.io/app.values"
LABEL_MANIFESTS = "sealkit.io/app.manifests"
ALPHABETS = {
    "alnum": "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789",
    "hex": "0123456789abcdef",
}
WORKLOAD_KINDS = ("deployment", "statefulset", "daemonset", "job")
DEFAULT_TIMEOUT = 600
_NAME_RE = re.compile(r"^[a-z0-9]([a-z0-9-]{0,51}[a-z0-9])?$")
_ENV_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_OBJ_NAME_RE = re.compile(r"^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$")
_TOP = ("apiVersion", "kind", "name", "namespace", "installer", "helm", "manifests", "generate")
_TOP += ("endpoints", "credentials", "ready", "requires")


@dataclass(frozen=True)
class Generator:
    """A value generated at install (a password), unless the user passes it with ``-e``."""

    length: int = 24
    alphabet: str = "alnum"


@dataclass(frozen=True)
class EndpointSpec:
    """A Service port the user connects to; ``ingress`` names an Ingress whose host is the address."""

    name: str
    service: str
    port: int | str
    ingress: str = ""


@dataclass(frozen=True)
class CredentialSpec:
    """Where one credential comes from: a key of a Secret, a generated/-e env var, or a plain value."""

    name: str
    secret: str = ""
    key: str = ""
    env: str = ""
    value: str = ""


@dataclass(frozen=True)
class AppSpec:
    """A validated ``sealkit-app.yaml`` (or the defaults derived from labels when there is none)."""

    name: str
    namespace: str
    installer: str
    chart: str = ""
    values: tuple[str, ...] = ()
    helm_set: dict[str, str] = field(default_factory=dict)
    manifests: tuple[str, ...] = ()
    generate: dict[str, Generator] = field(default_factory=dict)
    endpoints: tuple[EndpointSpec, ...] = ()
    credentials: tuple[CredentialSpec, ...] = ()
    #: ``kind/name`` of workloads that must be ready; empty = every workload the installer created
    workloads: tuple[str, ...] = ()
    timeout: int = DEFAULT_TIMEOUT
    #: None: no StorageClass needed; "": the cluster's default one; else that StorageClass
    storage_class: str | None = None
    #: the section named after a third-party installer, handed to it unchanged
    options: dict[str, Any] = field(default_factory=dict)
    source: str = APP_FILE


class _Where:
    """Builds errors naming the file and the dotted field."""

    def __init__(self, source: str) -> None:
        self.source = source

    def err(self, path: str, why: str, hint: str | None = None) -> ImageError:
        return ImageError(f"{self.source}: {path}: {why}", step="app image", hint=hint)

    def mapping(self, value: Any, path: str, allowed: tuple[str, ...]) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.err(path, f"must be a mapping, not {type(value).__name__}")
        for key in value:
            if key not in allowed:
                raise self.err(
                    f"{path}.{key}" if path else str(key),
                    "unknown field",
                    hint=f"allowed here: {', '.join(allowed)} (see docs/apps.md)",
                )
        return value

    def string(self, value: Any, path: str, *, pattern: re.Pattern[str] | None = None) -> str:
        if not isinstance(value, str) or not value:
            raise self.err(path, f"must be a non-empty string, not {value!r}")
        if pattern is not None and not pattern.match(value):
            raise self.err(path, f"{value!r} is not a valid name", hint=f"it must match {pattern.pattern}")
        return value

    def integer(self, value: Any, path: str, lo: int, hi: int) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
            raise self.err(path, f"must be an integer from {lo} to {hi}, not {value!r}")
        return value

    def strings(self, value: Any, path: str) -> list[str]:
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list):
            raise self.err(path, "must be a list of strings")
        return [self.string(v, f"{path}[{i}]") for i, v in enumerate(value)]


def inside(rootfs: Path, rel: str, where: _Where, path: str, *, kind: str = "file or directory") -> str:
    """``rel`` normalised, refused when it leaves the image or names nothing in it."""
    norm = posixpath.normpath(rel)
    if norm.startswith(("/", "..")) or norm == ".":
        raise where.err(path, f"{rel!r} is not a path inside the image")
    target = rootfs / norm
    resolved = target.resolve()
    if not resolved.is_relative_to(rootfs.resolve()):
        raise where.err(path, f"{rel!r} leaves the image through a symlink")
    if not target.exists():
        raise where.err(
            path, f"the image has no {kind} {norm}", hint="fix the path or COPY it in the Kubefile"
        )
    return norm


def default_name(image_ref: str) -> str:
    """The app's name when the image gives none: the last component of its repository."""
    base = image_ref.split("@", 1)[0].rsplit("/", 1)[-1].split(":", 1)[0]
    name = re.sub(r"[^a-z0-9-]+", "-", base.lower()).strip("-")[:53].strip("-")
    return name or "app"


def load_spec(rootfs: Path, *, image_ref: str, labels: Mapping[str, str], cmd: tuple[str, ...]) -> AppSpec:
    """The app's spec from ``sealkit-app.yaml``, or derived from labels/CMD/layout when absent."""
    path = rootfs / APP_FILE
    if path.is_file():
        try:
            doc = yaml.safe_load(path.read_text())
        except yaml.YAMLError as exc:
            raise ImageError(
                f"{APP_FILE} in {image_ref} is not valid YAML: {exc}", step="app image"
            ) from None
        return parse_spec(doc, rootfs, image_ref=image_ref, cmd=cmd, source=f"{APP_FILE} ({image_ref})")
    return parse_spec(
        _from_labels(rootfs, labels, cmd),
        rootfs,
        image_ref=image_ref,
        cmd=cmd,
        source=f"labels of {image_ref}",
    )


def _from_labels(rootfs: Path, labels: Mapping[str, str], cmd: tuple[str, ...]) -> dict[str, Any]:
    doc: dict[str, Any] = {"apiVersion": API_VERSION, "kind": KIND}
    installer = labels.get(LABEL_INSTALLER)
    if labels.get(LABEL_CHART):
        doc["helm"] = {"chart": labels[LABEL_CHART]}
        if labels.get(LABEL_VALUES):
            doc["helm"]["values"] = [v for v in labels[LABEL_VALUES].split(",") if v]
    if labels.get(LABEL_MANIFESTS):
        doc["manifests"] = {"paths": [p for p in labels[LABEL_MANIFESTS].split(",") if p]}
    if installer:
        doc["installer"] = installer
    elif cmd:
        doc["installer"] = "cmd"
    return doc


def _infer_installer(doc: dict[str, Any], rootfs: Path, cmd: tuple[str, ...], where: _Where) -> str:
    if "helm" in doc:
        return "helm"
    if "manifests" in doc:
        return "manifests"
    if cmd:
        return "cmd"
    charts = sorted(p for p in (rootfs / "charts").glob("*") if p.is_dir() or p.suffix == ".tgz")
    if len(charts) == 1:
        doc["helm"] = {"chart": f"charts/{charts[0].name}"}
        return "helm"
    if (rootfs / "manifests").is_dir():
        doc["manifests"] = {"paths": ["manifests"]}
        return "manifests"
    raise where.err(
        "installer",
        "the image names no installer and has no CMD, no single chart under charts/ and no manifests/",
        hint="add sealkit-app.yaml with `installer: helm|manifests|cmd` (see docs/apps.md)",
    )


def parse_spec(
    doc: Any, rootfs: Path, *, image_ref: str, cmd: tuple[str, ...] = (), source: str = APP_FILE
) -> AppSpec:
    """Validate ``doc`` against the schema; ImageError naming ``source`` and the field on any problem."""
    w = _Where(source)
    if doc is None:
        doc = {}
    top = dict(w.mapping(doc, "", (*_TOP, *_extra_keys(doc))))
    if top.get("apiVersion", API_VERSION) != API_VERSION:
        raise w.err("apiVersion", f"{top['apiVersion']!r} is not supported", hint=f"use {API_VERSION}")
    if top.get("kind", KIND) != KIND:
        raise w.err("kind", f"{top['kind']!r} is not supported", hint=f"use {KIND}")
    name = w.string(top.get("name", default_name(image_ref)), "name", pattern=_NAME_RE)
    namespace = w.string(top.get("namespace", name), "namespace", pattern=_NAME_RE)
    installer = top.get("installer") or _infer_installer(top, rootfs, cmd, w)
    installer = w.string(installer, "installer", pattern=re.compile(r"^[a-z0-9][a-z0-9_-]*$"))
    extra = [k for k in _extra_keys(top) if k != installer]
    if extra:
        raise w.err(
            extra[0],
            "unknown field",
            hint=f"allowed: {', '.join(_TOP)} and a section named after the installer",
        )
    spec: dict[str, Any] = {"name": name, "namespace": namespace, "installer": installer, "source": source}
    if "helm" in top:
        helm = w.mapping(top["helm"], "helm", ("chart", "values", "set"))
        spec["chart"] = inside(
            rootfs, w.string(helm.get("chart"), "helm.chart"), w, "helm.chart", kind="chart"
        )
        spec["values"] = tuple(
            inside(rootfs, v, w, f"helm.values[{i}]", kind="values file")
            for i, v in enumerate(w.strings(helm.get("values", []), "helm.values"))
        )
        sets = w.mapping(helm.get("set", {}), "helm.set", tuple(helm.get("set", {}) or ()))
        spec["helm_set"] = {str(k): _scalar(v, f"helm.set.{k}", w) for k, v in sets.items()}
    elif installer == "helm":
        raise w.err("helm", "the helm installer needs a helm section with a chart")
    if "manifests" in top:
        man = w.mapping(top["manifests"], "manifests", ("paths",))
        spec["manifests"] = tuple(
            inside(rootfs, p, w, f"manifests.paths[{i}]")
            for i, p in enumerate(w.strings(man.get("paths", ["manifests"]), "manifests.paths"))
        )
    elif installer == "manifests":
        spec["manifests"] = (inside(rootfs, "manifests", w, "manifests.paths[0]"),)
    if installer == "cmd" and not cmd:
        raise w.err("installer", "installer cmd needs a CMD in the Kubefile")
    spec["generate"] = _generators(top.get("generate", {}), w)
    spec["endpoints"] = _endpoints(top.get("endpoints", []), w)
    spec["credentials"] = _credentials(top.get("credentials", {}), spec["generate"], w)
    ready = w.mapping(top.get("ready", {}), "ready", ("workloads", "timeout"))
    spec["workloads"] = tuple(
        _workload(v, f"ready.workloads[{i}]", w)
        for i, v in enumerate(w.strings(ready.get("workloads", []), "ready.workloads"))
    )
    spec["timeout"] = w.integer(ready.get("timeout", DEFAULT_TIMEOUT), "ready.timeout", 10, 86400)
    req = w.mapping(top.get("requires", {}), "requires", ("storageClass",))
    if "storageClass" in req:
        sc = req["storageClass"]
        if sc is True or sc == "":
            spec["storage_class"] = ""
        else:
            spec["storage_class"] = w.string(sc, "requires.storageClass", pattern=_OBJ_NAME_RE)
    if installer not in BUILTIN_INSTALLERS and installer in top:
        spec["options"] = dict(w.mapping(top[installer], installer, tuple(top[installer] or ())))
    return AppSpec(**spec)


def _extra_keys(doc: Any) -> list[str]:
    return [k for k in doc if k not in _TOP] if isinstance(doc, dict) else []


def _scalar(value: Any, path: str, w: _Where) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise w.err(path, f"must be a string or number, not {value!r}")
    return str(value)


def _generators(raw: Any, w: _Where) -> dict[str, Generator]:
    out: dict[str, Generator] = {}
    for var, gen in w.mapping(raw, "generate", tuple(raw or ()) if isinstance(raw, dict) else ()).items():
        w.string(var, f"generate.{var}", pattern=_ENV_RE)
        g = w.mapping(gen or {}, f"generate.{var}", ("length", "alphabet"))
        alphabet = g.get("alphabet", "alnum")
        if alphabet not in ALPHABETS:
            raise w.err(
                f"generate.{var}.alphabet", f"{alphabet!r} is unknown", hint=f"use {', '.join(ALPHABETS)}"
            )
        out[var] = Generator(w.integer(g.get("length", 24), f"generate.{var}.length", 12, 256), alphabet)
    return out


def _endpoints(raw: Any, w: _Where) -> tuple[EndpointSpec, ...]:
    if not isinstance(raw, list):
        raise w.err("endpoints", "must be a list")
    out = []
    for i, item in enumerate(raw):
        p = f"endpoints[{i}]"
        e = w.mapping(item, p, ("name", "service", "port", "ingress"))
        port = e.get("port")
        if isinstance(port, str):
            port = w.string(port, f"{p}.port", pattern=re.compile(r"^[a-z0-9-]{1,15}$"))
        else:
            port = w.integer(port, f"{p}.port", 1, 65535)
        service = w.string(e.get("service"), f"{p}.service", pattern=_OBJ_NAME_RE)
        out.append(
            EndpointSpec(
                name=w.string(e.get("name", service), f"{p}.name"),
                service=service,
                port=port,
                ingress=w.string(e["ingress"], f"{p}.ingress", pattern=_OBJ_NAME_RE)
                if "ingress" in e
                else "",
            )
        )
    return tuple(out)


def _credentials(raw: Any, generate: dict[str, Generator], w: _Where) -> tuple[CredentialSpec, ...]:
    items = w.mapping(raw, "credentials", tuple(raw or ()) if isinstance(raw, dict) else ())
    out = []
    for name, src in items.items():
        p = f"credentials.{name}"
        c = w.mapping(src, p, ("secret", "key", "env", "value"))
        kinds = [k for k in ("secret", "env", "value") if k in c]
        if len(kinds) != 1:
            raise w.err(p, "give exactly one of secret (with key), env or value")
        if "secret" in c:
            out.append(
                CredentialSpec(
                    name,
                    secret=w.string(c["secret"], f"{p}.secret", pattern=_OBJ_NAME_RE),
                    key=w.string(c.get("key"), f"{p}.key"),
                )
            )
        elif "env" in c:
            var = w.string(c["env"], f"{p}.env", pattern=_ENV_RE)
            if var not in generate:
                raise w.err(
                    f"{p}.env",
                    f"{var} is not generated at install: a password must never be a constant in the image",
                    hint=f"declare it under generate: ({var}: {{length: 24}}); -e {var}=… still overrides it",
                )
            out.append(CredentialSpec(name, env=var))
        else:
            out.append(CredentialSpec(name, value=_scalar(c["value"], f"{p}.value", w)))
    return tuple(out)


def _workload(text: str, path: str, w: _Where) -> str:
    kind, _, name = text.partition("/")
    kind = kind.lower()
    if kind not in WORKLOAD_KINDS or not _OBJ_NAME_RE.match(name):
        raise w.err(path, f"{text!r} is not KIND/NAME", hint=f"KIND is one of {', '.join(WORKLOAD_KINDS)}")
    return f"{kind}/{name}"
