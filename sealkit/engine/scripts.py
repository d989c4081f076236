"""What a cluster image brings besides binaries: ``etc/*.tmpl`` rendered with the cluster env, and lifecycle
scripts named by labels.

* Templates: every ``etc/**/NAME.tmpl`` of the rootfs is rendered with the cluster env (``-e K=V`` /
  ``spec.env``; ``${KEY}`` or ``$KEY``, ``$$`` for a literal ``$``) and written next to it on each host as
  ``etc/**/NAME``. A key the template uses but the env lacks is an error before any host is touched.
* Scripts: labels ``sealkit.io/scripts.check``, ``…scripts.init`` and ``…scripts.clean`` name files under
  the rootfs (``scripts/init.sh``). ``check`` runs on every new host as soon as the rootfs is there, before
  anything else changes (non-zero stops the run); ``init`` on every new host after the runtime prepared it;
  ``clean`` on every host at reset, before the runtime removes itself. They run in the rootfs directory with
  the cluster env exported (the image's ``ENV`` as defaults, ``spec.env`` / ``-e`` over them).
"""

from __future__ import annotations

import posixpath
import shlex
import string
from pathlib import Path
from typing import TYPE_CHECKING

from sealkit.errors import CheckFailed, ImageError, StepFailed
from sealkit.ssh.quoting import env_on_stdin

if TYPE_CHECKING:
    from sealkit.context import ClusterContext, HostRef

TEMPLATE_SUFFIX = ".tmpl"
SCRIPT_LABELS = ("check", "init", "clean")


def label_for(kind: str) -> str:
    return f"sealkit.io/scripts.{kind}"


#: rendered templates may hold ``-e`` secrets: only root on the host reads them
RENDERED_MODE = 0o600
#: the host's rootfs copy holds the rendered templates: closed to other local users
ROOTFS_DIR_MODE = 0o700


def templates(rootfs: Path) -> list[Path]:
    """The rootfs's templates, relative to it, in a stable order.

    The image is hostile input: a template (or ``etc`` itself) that is a symbolic link would make the
    controller read, render and ship one of its own files (``~/.ssh/id_rsa``) to every host, so it is
    refused. ``rglob`` does not descend into symlinked directories.
    """
    etc = rootfs / "etc"
    if etc.is_symlink():
        raise _link_error(Path("etc"))
    if not etc.is_dir():
        return []
    found = []
    for p in etc.rglob(f"*{TEMPLATE_SUFFIX}"):
        if p.is_symlink():
            raise _link_error(p.relative_to(rootfs))
        if p.is_file():
            found.append(p.relative_to(rootfs))
    return sorted(found)


def _link_error(rel: Path) -> ImageError:
    return ImageError(
        f"{rel} in the cluster image is a symbolic link: templates are read on the controller, so they "
        "must be regular files inside the image",
        step="render",
        hint="replace the link with the file itself and rebuild the image",
    )


def render_all(rootfs: Path, env: dict[str, str]) -> dict[str, str]:
    """``{relative output path: text}`` for every template; ImageError naming the file and the key."""
    out: dict[str, str] = {}
    for rel in templates(rootfs):
        text = (rootfs / rel).read_text()
        try:
            rendered = string.Template(text).substitute(env)
        except KeyError as err:
            raise ImageError(
                f"template {rel} uses ${{{err.args[0]}}}, which the cluster env does not set",
                step="render",
                hint=f"pass -e {err.args[0]}=VALUE (or set spec.env.{err.args[0]} in the Clusterfile)",
            ) from None
        except ValueError as err:
            raise ImageError(
                f"template {rel} is not valid: {err}",
                step="render",
                hint="write $$ for a literal $, ${KEY} or $KEY for the cluster env",
            ) from None
        out[str(rel)[: -len(TEMPLATE_SUFFIX)]] = rendered
    return out


def push_rendered(ctx: ClusterContext, host: HostRef, rendered: dict[str, str]) -> None:
    """Write the rendered templates into the host's rootfs copy (content-addressed: unchanged = not sent).

    They may carry secrets from ``-e`` (passwords, tokens), so they are 0600 and the rootfs directory is
    made 0700 first: no local user but root can read them.
    """
    if not rendered:
        return
    root = ctx.remote_rootfs
    host.conn.run(f"mkdir -p -- {shlex.quote(root)} && chmod {ROOTFS_DIR_MODE:o} -- {shlex.quote(root)}")
    for rel, text in rendered.items():
        host.conn.put(text.encode(), posixpath.join(root, rel), mode=RENDERED_MODE)


def script_for(labels: dict[str, str], kind: str, rootfs: Path) -> str | None:
    """The script a label names, checked against the unpacked rootfs (None when the image has none)."""
    rel = labels.get(label_for(kind))
    if not rel:
        return None
    norm = posixpath.normpath(rel)
    if norm.startswith(("/", "..")) or not (rootfs / norm).is_file():
        raise ImageError(
            f"label {label_for(kind)}={rel} does not name a file inside the image",
            step="scripts",
            hint="give a path relative to the image root, like scripts/init.sh",
        )
    return norm


def run_script(ctx: ClusterContext, host: HostRef, kind: str, rel: str) -> None:
    """Run one lifecycle script on a host; a failure names the host, the script and its last output."""
    root = shlex.quote(ctx.remote_rootfs)
    cmd, env = env_on_stdin(f"cd {root} && sh {shlex.quote(rel)}", ctx.env)
    res = host.conn.run(cmd, stdin=env, check=False, timeout=1800)
    if res.rc == 0:
        return
    tail = (res.stderr or res.stdout).strip().splitlines()[-3:]
    message = f"the image's {kind} script {rel} exited {res.rc}: " + " | ".join(tail)
    hint = f"run `cd {ctx.remote_rootfs} && sh {rel}` on the host to see the whole output"
    if kind == "check":
        raise CheckFailed(message, host=host.ip, step="preflight: image check script", hint=hint)
    raise StepFailed(message, host=host.ip, step=f"{kind} script", hint=hint)
