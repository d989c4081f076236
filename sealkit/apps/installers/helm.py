"""The helm installer: ``helm upgrade --install`` of the image's chart, release named after the app.

helm comes from an image (the app's ``bin/helm`` for the master's arch, else the cluster image's),
never from the host's PATH (sealos #2559, sealer #2331). Values set by ``sealkit-app.yaml`` may hold
generated passwords: they are rendered into a values document that reaches the master in the env
over stdin and is written by the shell's ``printf`` into a 0600 file removed right after, so no
secret is ever in a command line.
"""

from __future__ import annotations

import shlex
from typing import TYPE_CHECKING, Any

import yaml

from sealkit.apps.envs import substitute
from sealkit.apps.model import AppRun, InstallOutcome, ObjectRef
from sealkit.hookspecs import hookimpl

if TYPE_CHECKING:
    from sealkit.apps.record import AppRecord
    from sealkit.context import ClusterContext

NAME = "helm"
VALUES_FILE = ".sealkit-values.yaml"


def nested_values(flat: dict[str, str]) -> dict[str, Any]:
    """``{"auth.password": "x"}`` → ``{"auth": {"password": "x"}}`` (helm ``--set`` paths)."""
    out: dict[str, Any] = {}
    for path, value in flat.items():
        node = out
        *parents, leaf = path.split(".")
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = value
    return out


def manifest_objects(text: str, namespace: str) -> tuple[ObjectRef, ...]:
    """Objects of a rendered manifest stream (``helm get manifest``)."""
    out = []
    for doc in yaml.safe_load_all(text):
        if isinstance(doc, dict) and doc.get("kind") and isinstance(doc.get("metadata"), dict):
            md = doc["metadata"]
            out.append(
                ObjectRef(
                    str(doc["kind"]),
                    str(md.get("name", "")),
                    str(md.get("namespace") or namespace),
                    str(doc.get("apiVersion", "v1")),
                )
            )
    return tuple(out)


class HelmInstaller:
    @hookimpl
    def sealkit_app_installers(self) -> list[str]:
        return [NAME]

    @hookimpl
    def sealkit_check_app(self, ctx: ClusterContext, app: AppRun) -> list[str]:
        if app.spec.installer != NAME or app.helm:
            return []
        return [
            f"app {app.name}: the helm installer needs a helm binary for {app.host.arch or 'the master'}, "
            "and neither the app image nor the cluster image ships one in bin/helm "
            "(COPY it into the app image's bin/)"
        ]

    @hookimpl
    def sealkit_install_app(self, ctx: ClusterContext, app: AppRun) -> InstallOutcome | None:
        if app.spec.installer != NAME:
            return None
        values = nested_values({k: substitute(v, app.env) for k, v in app.spec.helm_set.items()})
        helm, ns, rel = shlex.quote(app.helm), shlex.quote(app.namespace), shlex.quote(app.name)
        files = "".join(f" -f {shlex.quote(v)}" for v in app.spec.values)
        cmd = (
            f"umask 077; trap 'rm -f {VALUES_FILE}' EXIT; "
            f'printf "%s\\n" "$SEALKIT_HELM_VALUES" > {VALUES_FILE} && '
            f"{helm} upgrade --install {rel} {shlex.quote(app.spec.chart)} -n {ns}{files} -f {VALUES_FILE} "
            f"--wait --timeout {int(app.timeout)}s"
        )
        app.sh(
            cmd,
            extra_env={"SEALKIT_HELM_VALUES": yaml.safe_dump(values)},
            what="helm upgrade --install",
            timeout=app.timeout + 60,
        )
        manifest = app.sh(f"{helm} get manifest {rel} -n {ns}", what="helm get manifest").stdout
        return InstallOutcome(release=app.name, objects=manifest_objects(manifest, app.namespace))

    @hookimpl
    def sealkit_remove_app(
        self, ctx: ClusterContext, app: AppRun, record: AppRecord, purge: bool
    ) -> bool | None:
        if record.installer != NAME:
            return None
        helm, ns, rel = shlex.quote(app.helm), shlex.quote(record.namespace), shlex.quote(record.release)
        app.sh(
            f"if {helm} status {rel} -n {ns} >/dev/null 2>&1; then {helm} uninstall {rel} -n {ns}; fi",
            what="helm uninstall",
        )
        return True
