"""Cluster image verbs: build, images, inspect, tag, rmi, save, load, push, pull."""

from __future__ import annotations

import click

from sealkit.cli import summary
from sealkit.cli.app import App, output_option, pass_app
from sealkit.cli.render import emit


def _store():
    from sealkit.image import default_store

    return default_store()


_registry_opts = [
    click.option("--insecure", is_flag=True, help="Plain http to the registry (no TLS)."),
    click.option(
        "--ca-file",
        type=click.Path(exists=True, dir_okay=False),
        default=None,
        help="CA bundle that signs the registry's certificate.",
    ),
    click.option("--username", default=None, envvar="SEALKIT_REGISTRY_USER"),
    click.option(
        "--password",
        default=None,
        envvar="SEALKIT_REGISTRY_PASSWORD",
        help="Prefer $SEALKIT_REGISTRY_PASSWORD: argv is visible in ps.",
    ),
]


def _with_registry_opts(f):
    for opt in reversed(_registry_opts):
        f = opt(f)
    return f


@click.command(
    "build",
    epilog="\b\nExample:\n  sealkit build -t my/k3s:v1.34.1 ./k3s-image\n"
    "  sealkit save -o k3s-v1.34.1.tar my/k3s:v1.34.1",
)
@click.option(
    "-f",
    "--file",
    "kubefile",
    default="Kubefile",
    show_default=True,
    help="Kubefile, relative to CONTEXT unless absolute.",
)
@click.option("-t", "--tag", required=True, help="NAME:TAG of the image. Required.")
@click.option("--platform", default=None, help="linux/amd64,linux/arm64.  [default: this machine's]")
@click.option(
    "--images-from",
    type=click.Path(exists=True, file_okay=False),
    default=None,
    help="Take container images from this local OCI layout instead of a registry.",
)
@click.argument("context", type=click.Path(exists=True, file_okay=False), default=".")
@output_option
@pass_app
def build_cmd(
    app: App, kubefile: str, tag: str, platform: str | None, images_from: str | None, context: str
) -> None:
    """Build a cluster image from a Kubefile (Dockerfile syntax) into the local image store."""
    from pathlib import Path

    ctx_dir = Path(context)
    kf = Path(kubefile) if Path(kubefile).is_absolute() else ctx_dir / kubefile
    platforms = platform.split(",") if platform else None
    digest = _store().build(
        kf,
        ctx_dir,
        tag,
        platforms=platforms,
        images_from=Path(images_from) if images_from else None,
    )
    emit({"image": tag, "digest": digest}, app.output, human=summary.image_action)


@click.command("images", epilog="\b\nExample:\n  sealkit images\n  sealkit images -o json")
@output_option
@pass_app
def images_cmd(app: App) -> None:
    """List cluster images in the local store."""
    from dataclasses import asdict

    rows = [asdict(s) for s in _store().list()]
    for row in rows:
        row["digest"] = row["digest"][:19] if app.output == "table" else row["digest"]
    emit(rows, app.output, columns=["name", "tag", "digest", "size", "created", "platforms"])


@click.command("inspect", epilog="\b\nExample:\n  sealkit inspect my/k3s:v1.34.1")
@click.argument("ref")
@output_option
@pass_app
def inspect_cmd(app: App, ref: str) -> None:
    """Show an image's manifest, config and labels."""
    emit(_store().inspect(ref), "json" if app.output == "table" else app.output)


@click.command("tag", epilog="\b\nExample:\n  sealkit tag my/k3s:v1.34.1 registry.example/k3s:v1.34.1")
@click.argument("src")
@click.argument("dst")
@output_option
@pass_app
def tag_cmd(app: App, src: str, dst: str) -> None:
    """Give an image in the local store another name."""
    _store().tag(src, dst)
    emit({"tagged": dst, "source": src}, app.output, human=summary.image_action)


@click.command("rmi", epilog="\b\nExample:\n  sealkit rmi my/k3s:v1.34.1 my/k3s:v1.35.0")
@click.argument("refs", nargs=-1, required=True)
@output_option
@pass_app
def rmi_cmd(app: App, refs: tuple[str, ...]) -> None:
    """Remove images (blobs no other image uses are deleted).

    Every name is looked up first: when one is missing, nothing is removed."""
    store = _store()
    missing_all(store, refs)
    removed: list[str] = []
    for ref in refs:
        removed += store.rmi(ref)
    emit({"removed": removed}, app.output, human=summary.image_action)


def missing_all(store, refs: tuple[str, ...]) -> None:
    """ImageError naming every ref the store does not have (before anything is removed)."""
    from sealkit.errors import ImageError, SealkitError

    missing = []
    for ref in refs:
        try:
            store.resolve(ref)
        except SealkitError:
            missing.append(ref)
    if missing:
        raise ImageError(
            f"not in the local store ({store.root}): {', '.join(missing)}; nothing was removed",
            hint="`sealkit images` lists what the store has",
        )


@click.command("save", epilog="\b\nExample:\n  sealkit save -o k3s-v1.34.1.tar my/k3s:v1.34.1")
@click.option(
    "-o", "--output", "path", required=True, type=click.Path(dir_okay=False), help="Archive to write."
)
@click.argument("refs", nargs=-1, required=True)
@pass_app
def save_cmd(app: App, path: str, refs: tuple[str, ...]) -> None:
    """Write images to an OCI archive (tar); `sealkit load -i FILE` reads it on another controller."""
    from pathlib import Path

    _store().save(list(refs), Path(path))
    emit({"saved": path, "images": list(refs)}, app.output, human=summary.image_action)


@click.command("load", epilog="\b\nExample:\n  sealkit load -i k3s-v1.34.1.tar")
@click.option(
    "-i",
    "--input",
    "path",
    required=True,
    type=click.Path(exists=True, dir_okay=False),
    help="OCI archive (from `sealkit save`). Required.",
)
@output_option
@pass_app
def load_cmd(app: App, path: str) -> None:
    """Load images from an OCI archive into the local store (what `run` and `upgrade` use)."""
    from pathlib import Path

    emit({"loaded": _store().load(Path(path))}, app.output, human=summary.image_action)


@click.command(
    "push",
    epilog="\b\nExample:\n  sealkit push my/k3s:v1.34.1 registry.example:5000/my/k3s:v1.34.1",
)
@_with_registry_opts
@click.argument("ref")
@click.argument("dest", required=False)
@output_option
@pass_app
def push_cmd(
    app: App,
    ref: str,
    dest: str | None,
    insecure: bool,
    ca_file: str | None,
    username: str | None,
    password: str | None,
) -> None:
    """Push an image to an OCI/Docker v2 registry (blobs it has are skipped)."""
    digest = _store().push(
        ref, dest or ref, insecure=insecure, ca_file=ca_file, username=username, password=password
    )
    emit({"pushed": dest or ref, "digest": digest}, app.output, human=summary.image_action)


@click.command("pull", epilog="\b\nExample:\n  sealkit pull registry.example:5000/my/k3s:v1.34.1")
@_with_registry_opts
@click.option("--platform", default=None, help="Only this platform.  [default: all in the index]")
@click.argument("ref")
@output_option
@pass_app
def pull_cmd(
    app: App,
    ref: str,
    insecure: bool,
    ca_file: str | None,
    username: str | None,
    password: str | None,
    platform: str | None,
) -> None:
    """Pull an image (by tag or digest) into the local store, verifying every digest."""
    digest = _store().pull(
        ref,
        insecure=insecure,
        ca_file=ca_file,
        username=username,
        password=password,
        platform=platform,
    )
    emit({"pulled": ref, "digest": digest}, app.output, human=summary.image_action)


COMMANDS = [
    build_cmd,
    images_cmd,
    inspect_cmd,
    tag_cmd,
    rmi_cmd,
    save_cmd,
    load_cmd,
    push_cmd,
    pull_cmd,
]
