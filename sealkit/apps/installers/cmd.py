"""The cmd installer: a sealos-style ``CMD`` run on a master in the app's directory (sealos compatibility).

sealos runs each CMD entry with the env exported and ``$(VAR)``/``${VAR}``/``$VAR`` replaced by values
(labring/sealos pkg/utils/strings RenderShellWithEnv / RenderTextWithEnv). Here ``$(VAR)`` and
``${VAR}`` of known keys become ``${VAR}`` and the env comes over stdin, so a password never sits in the
command line sealkit sends. A CMD image declares no uninstall: remove deletes what sealkit itself
created (namespace, images, files) and says what it could not know.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sealkit.apps.envs import substitute
from sealkit.apps.model import AppRun, InstallOutcome
from sealkit.hookspecs import hookimpl

if TYPE_CHECKING:
    from sealkit.apps.record import AppRecord
    from sealkit.context import ClusterContext

NAME = "cmd"


class CmdInstaller:
    @hookimpl
    def sealkit_app_installers(self) -> list[str]:
        return [NAME]

    @hookimpl
    def sealkit_install_app(self, ctx: ClusterContext, app: AppRun) -> InstallOutcome | None:
        if app.spec.installer != NAME:
            return None
        for entry in app.cmd:
            app.sh(
                substitute(entry, app.env, as_shell=True),
                what=f"CMD {entry.split()[0] if entry.split() else ''}",
            )
        return InstallOutcome()

    @hookimpl
    def sealkit_remove_app(
        self, ctx: ClusterContext, app: AppRun, record: AppRecord, purge: bool
    ) -> bool | None:
        if record.installer != NAME:
            return None
        ctx.log.warning(
            "warning: app %s was installed by its image's CMD, which declares no uninstall; sealkit removes "
            "the namespace it created, the app's images and files only",
            record.name,
        )
        return True
