"""The manifests installer: server-side apply of the image's manifests, every applied object recorded.

The manifests are rendered on the controller (``$(VAR)``/``${VAR}`` from the app env, so a generated
password can reach a Secret) and sent to ``kubectl apply --server-side --field-manager=sealkit -f -``
on stdin: secrets never reach a command line or a file on the host. Remove deletes exactly the recorded
objects, newest first; PersistentVolumeClaims only with ``--purge``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import yaml

from sealkit.apps.envs import substitute
from sealkit.apps.installers.helm import manifest_objects
from sealkit.apps.kube import Kube
from sealkit.apps.model import AppRun, InstallOutcome
from sealkit.errors import ImageError
from sealkit.hookspecs import hookimpl

if TYPE_CHECKING:
    from sealkit.apps.record import AppRecord
    from sealkit.context import ClusterContext

NAME = "manifests"
FIELD_MANAGER = "sealkit"
_SUFFIXES = (".yaml", ".yml", ".json")


def manifest_files(rootfs: Path, paths: tuple[str, ...]) -> list[Path]:
    out: list[Path] = []
    for rel in paths:
        p = rootfs / rel
        if p.is_dir():
            out += sorted(
                f for f in p.rglob("*") if f.is_file() and f.suffix in _SUFFIXES and not f.is_symlink()
            )
        elif p.is_file():
            out.append(p)
    return out


def render(rootfs: Path, paths: tuple[str, ...], env: dict[str, str]) -> str:
    docs = [substitute(f.read_text(), env).strip() for f in manifest_files(rootfs, paths)]
    if not any(docs):
        raise ImageError(f"no manifests under {', '.join(paths)}", step="app image")
    return "\n---\n".join(d for d in docs if d) + "\n"


class ManifestsInstaller:
    @hookimpl
    def sealkit_app_installers(self) -> list[str]:
        return [NAME]

    @hookimpl
    def sealkit_check_app(self, ctx: ClusterContext, app: AppRun) -> list[str]:
        """The manifests exist, parse, and stay in the app's namespace (an image cannot reach into
        kube-system, and the namespace is the engine's to create and delete)."""
        if app.spec.installer != NAME or app.local_rootfs is None:
            return []
        if not manifest_files(app.local_rootfs, app.spec.manifests):
            return [f"app {app.name}: no .yaml/.yml/.json file under {', '.join(app.spec.manifests)}"]
        try:
            objects = manifest_objects(render(app.local_rootfs, app.spec.manifests, app.env), app.namespace)
        except yaml.YAMLError as exc:
            return [f"app {app.name}: its manifests are not YAML: {exc}"]
        problems = []
        for o in objects:
            if o.kind == "Namespace":
                problems.append(
                    f"app {app.name}: manifest declares Namespace {o.name}; sealkit creates the app's"
                )
            elif o.namespace != app.namespace:
                problems.append(
                    f"app {app.name}: {o.kind} {o.name} is in namespace {o.namespace}, not the app's "
                    f"({app.namespace})"
                )
        return problems

    @hookimpl
    def sealkit_install_app(self, ctx: ClusterContext, app: AppRun) -> InstallOutcome | None:
        if app.spec.installer != NAME:
            return None
        if app.local_rootfs is None:
            raise ImageError(f"app {app.name}: no local copy of the image's files", step="install app")
        text = render(app.local_rootfs, app.spec.manifests, app.env)
        kube = Kube(app.host, app.kubectl, step=f"install app {app.name}")
        kube.run(
            ["apply", "--server-side", f"--field-manager={FIELD_MANAGER}", "-n", app.namespace, "-f", "-"],
            stdin=text.encode(),
            timeout=app.timeout,
        )
        return InstallOutcome(objects=manifest_objects(text, app.namespace))

    @hookimpl
    def sealkit_remove_app(
        self, ctx: ClusterContext, app: AppRun, record: AppRecord, purge: bool
    ) -> bool | None:
        if record.installer != NAME:
            return None
        kube = Kube(app.host, app.kubectl, step=f"remove app {app.name}")
        for obj in reversed(record.object_refs()):
            if obj.kind == "Namespace" or (obj.kind == "PersistentVolumeClaim" and not purge):
                continue
            args = ["delete", obj.resource(), obj.name, "--ignore-not-found", "--wait=true"]
            if obj.namespace:
                args += ["-n", obj.namespace]
            kube.run(args)
        return True
