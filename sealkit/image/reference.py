"""Image references: ``[registry[:port]/]repo/path[:tag][@sha256:…]``.

Same rules as the Docker/Distribution reference grammar, so a name that works with ``docker`` or
``skopeo`` works here: the first path component is a registry when it has a ``.`` or ``:`` or is
``localhost``; otherwise the image lives on Docker Hub (``docker.io/library/…``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from sealkit.errors import ImageError

DOCKER_HUB = "docker.io"
DOCKER_HUB_API = "registry-1.docker.io"
DEFAULT_TAG = "latest"

_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_PATH_RE = re.compile(rf"^{_COMPONENT}(?:/{_COMPONENT})*$")
_TAG_RE = re.compile(r"^[\w][\w.-]{0,127}$")
_DIGEST_RE = re.compile(r"^sha256:[0-9a-f]{64}$")
_DOMAIN_RE = re.compile(r"^(?:[a-zA-Z0-9-]+(?:\.[a-zA-Z0-9-]+)*|\[[0-9a-fA-F:]+\])(?::[0-9]+)?$")


@dataclass(frozen=True)
class Reference:
    """A parsed image reference; ``registry`` is None when the user named none."""

    registry: str | None
    repository: str
    tag: str | None = None
    digest: str | None = None

    @property
    def name(self) -> str:
        """Registry and repository, without tag or digest."""
        return f"{self.registry}/{self.repository}" if self.registry else self.repository

    def __str__(self) -> str:
        text = self.name
        if self.tag:
            text += f":{self.tag}"
        if self.digest:
            text += f"@{self.digest}"
        return text

    def with_default_tag(self) -> Reference:
        """Add ``:latest`` when neither a tag nor a digest was given (what docker does)."""
        if self.tag or self.digest:
            return self
        return replace(self, tag=DEFAULT_TAG)

    def remote(self) -> Reference:
        """Fill in Docker Hub defaults so the reference can be resolved against a registry."""
        ref = self.with_default_tag()
        if ref.registry:
            return ref
        repo = ref.repository if "/" in ref.repository else f"library/{ref.repository}"
        return replace(ref, registry=DOCKER_HUB, repository=repo)

    @property
    def api_host(self) -> str:
        """Host[:port] to talk to; Docker Hub's API lives on another host than its name."""
        if not self.registry:
            raise ImageError(f"{self} names no registry", hint="use REGISTRY/NAME:TAG")
        return DOCKER_HUB_API if self.registry == DOCKER_HUB else self.registry

    @property
    def reference(self) -> str:
        """What goes after ``/manifests/``: the digest when pinned, else the tag."""
        return self.digest or self.tag or DEFAULT_TAG


def parse_reference(text: str) -> Reference:
    """Parse ``text``; raise ImageError (exit 2) with the rule that was broken."""
    raw = text.strip()
    if not raw:
        raise ImageError("empty image reference", hint="use NAME[:TAG] or REGISTRY/NAME[:TAG]")
    rest, digest = raw, None
    if "@" in rest:
        rest, digest = rest.split("@", 1)
        if not _DIGEST_RE.match(digest):
            raise ImageError(
                f"invalid digest in image reference {text!r}",
                hint="digests look like sha256:<64 hex chars>",
            )
    tag = None
    last = rest.rsplit("/", 1)[-1]
    if ":" in last:
        rest, tag = rest.rsplit(":", 1)
        if not _TAG_RE.match(tag):
            raise ImageError(
                f"invalid tag {tag!r} in image reference {text!r}",
                hint="tags are up to 128 of [A-Za-z0-9_.-], not starting with . or -",
            )
    registry = None
    first, sep, remainder = rest.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost" or first.startswith("[")):
        if not _DOMAIN_RE.match(first):
            raise ImageError(f"invalid registry {first!r} in image reference {text!r}")
        registry, rest = first, remainder
    if not _PATH_RE.match(rest):
        raise ImageError(
            f"invalid image name {rest!r} in reference {text!r}",
            hint="names are lowercase letters, digits and . _ - separated by /",
        )
    return Reference(registry=registry, repository=rest, tag=tag, digest=digest)
