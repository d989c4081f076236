"""Applications: ``sealkit run APP`` installs an app image on a running cluster and says where to connect.

* :mod:`sealkit.apps.spec` — the image's output contract (``sealkit-app.yaml``), validated strictly;
* :mod:`sealkit.apps.envs` / :mod:`sealkit.apps.configs` — per-app env, generated secrets, sealos Config;
* :mod:`sealkit.apps.engine` — check, install/upgrade, wait, outputs, remove; :mod:`sealkit.apps.ops` opens
  the cluster for the CLI;
* :mod:`sealkit.apps.hookspecs` — the installer hooks; :mod:`sealkit.apps.installers` — helm, manifests, cmd.

See docs/apps.md for the image format.
"""

from __future__ import annotations

#: (name, "module:Class") of the built-in installers, registered like sealkit's other built-ins
BUILTIN_INSTALLERS: tuple[tuple[str, str], ...] = (
    ("apps-helm", "sealkit.apps.installers.helm:HelmInstaller"),
    ("apps-manifests", "sealkit.apps.installers.manifests:ManifestsInstaller"),
    ("apps-cmd", "sealkit.apps.installers.cmd:CmdInstaller"),
)
