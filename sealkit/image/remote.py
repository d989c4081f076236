"""A small OCI Distribution (Docker Registry v2) client on ``http.client``.

Why not a library: oras-py re-serialises manifests (so the pushed bytes — and digest — are not the
ones we stored), validates against the OCI manifest schema only (no image index push) and turns
failures into ``ValueError``; python-dxf forces the token realm to https, refuses any auth over
plain http and pulls in an unmaintained header parser. Both need ``requests``. The protocol subset
we need is small, and owning it gives exact bytes, typed errors and no new dependency.

Covers: basic auth and the Bearer token flow (``WWW-Authenticate: Bearer realm,service,scope``),
TLS with an extra CA file, plain http (``insecure``), HEAD to skip existing blobs, monolithic
(POST + PUT ``?digest=``) or chunked (POST + PATCH… + PUT) upload, OCI and Docker schema2 manifests
and indexes, pull by tag or digest with every manifest and blob verified against its digest.
Secrets live only in request headers; they are never logged or put in error messages.
"""

from __future__ import annotations

import base64
import http.client
import json
import logging
import re
import ssl
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, NoReturn

from sealkit.errors import ConnectError, ImageError, StepFailed
from sealkit.image.layout import OciLayout
from sealkit.image.oci import (
    DOCKER_SCHEMA1,
    INDEX_TYPES,
    MANIFEST_ACCEPT,
    MANIFEST_TYPES,
    select_manifest,
    sha256_digest,
)
from sealkit.image.reference import Reference

log = logging.getLogger(__name__)

_CHALLENGE_PARAM = re.compile(r'(\w+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))')
_REDIRECTS = (301, 302, 303, 307, 308)

#: the most the controller reads of a registry's answer that it keeps in memory: a manifest or index
#: (the distribution spec asks registries to accept 4 MiB; a hostile one could send gigabytes)
MAX_MANIFEST_BYTES = 4 << 20
#: a token server's JSON answer
MAX_TOKEN_BYTES = 1 << 20
#: an error body: only its first part is read (it only feeds a message)
MAX_ERROR_BYTES = 64 << 10
#: token servers known to belong to a registry on another host (still https only)
KNOWN_TOKEN_HOSTS: dict[str, frozenset[str]] = {"registry-1.docker.io": frozenset({"auth.docker.io"})}


@dataclass(frozen=True)
class RegistryOptions:
    """How to reach a registry. ``insecure`` means plain http (no TLS at all)."""

    insecure: bool = False
    ca_file: Path | None = None
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    chunk_size: int | None = None  # None: monolithic upload (one PUT)
    timeout: float = 60.0
    #: hosts other than the registry's own to which a Bearer token request may carry the credentials
    #: (e.g. ``auth.docker.io`` for Docker Hub); the request must still be https
    token_hosts: frozenset[str] = frozenset()


class _Response:
    """An HTTP response that owns its connection (one connection per request: simple, safe)."""

    def __init__(self, conn: http.client.HTTPConnection, resp: http.client.HTTPResponse, url: str) -> None:
        self._conn = conn
        self._resp = resp
        self.url = url
        self.status = resp.status
        self.headers = resp.headers

    def read(self, n: int = -1) -> bytes:
        return self._resp.read() if n is None or n < 0 else self._resp.read(n)

    def read_capped(self, limit: int, what: str) -> bytes:
        """The whole body, refused (ImageError) when it is longer than ``limit`` bytes."""
        length = self.headers.get("Content-Length")
        if length and length.strip().isdigit() and int(length) > limit:
            raise ImageError(
                f"{what} from {self.url} is {int(length)} bytes, more than the {limit} sealkit accepts",
                hint="the registry is misbehaving or hostile; use another registry or mirror",
            )
        data = self._resp.read(limit + 1)
        if len(data) > limit:
            raise ImageError(
                f"{what} from {self.url} is longer than the {limit} bytes sealkit accepts",
                hint="the registry is misbehaving or hostile; use another registry or mirror",
            )
        return data

    def read_error(self) -> bytes:
        """At most :data:`MAX_ERROR_BYTES` of an error body (it only feeds a message)."""
        return self._resp.read(MAX_ERROR_BYTES)

    def drain(self) -> None:
        """Read a body the caller does not need, at most :data:`MAX_ERROR_BYTES` (the connection closes)."""
        self._resp.read(MAX_ERROR_BYTES)

    def close(self) -> None:
        self._resp.close()
        self._conn.close()

    def __enter__(self) -> _Response:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def parse_challenge(header: str) -> tuple[str, dict[str, str]]:
    """``Bearer realm="…",service="…",scope="…"`` → ("bearer", {...})."""
    scheme, _, rest = header.strip().partition(" ")
    params = {
        m.group(1).lower(): (m.group(2) if m.group(2) is not None else m.group(3))
        for m in _CHALLENGE_PARAM.finditer(rest)
    }
    return scheme.lower(), params


class RegistryClient:
    """Talks to one registry host; keeps the credentials/token it negotiated for reuse."""

    def __init__(self, host: str, options: RegistryOptions | None = None) -> None:
        self.host = host
        self.options = options or RegistryOptions()
        self.scheme = "http" if self.options.insecure else "https"
        self.base = f"{self.scheme}://{host}"
        self._ssl: ssl.SSLContext | None = None
        self._basic = False
        self._bearer: dict[str, str] | None = None
        self._token: str | None = None
        self._scopes: set[str] = set()

    # ---- transport -------------------------------------------------------------------------

    def _ssl_context(self) -> ssl.SSLContext:
        if self._ssl is None:
            ctx = ssl.create_default_context()
            if self.options.ca_file:
                try:
                    ctx.load_verify_locations(cafile=str(self.options.ca_file))
                except (OSError, ssl.SSLError) as exc:
                    raise ConnectError(
                        f"cannot load CA file {self.options.ca_file}: {exc}",
                        hint="pass a PEM CA certificate with --ca-file",
                    ) from exc
            self._ssl = ctx
        return self._ssl

    def _raw(
        self, method: str, url: str, headers: dict[str, str], body: bytes | BinaryIO | None = None
    ) -> _Response:
        parts = urllib.parse.urlsplit(url)
        target = parts.path or "/"
        if parts.query:
            target += "?" + parts.query
        conn: http.client.HTTPConnection
        if parts.scheme == "https":
            conn = http.client.HTTPSConnection(
                parts.netloc,
                timeout=self.options.timeout,
                context=self._ssl_context(),
                blocksize=1 << 20,
            )
        elif parts.scheme == "http":
            conn = http.client.HTTPConnection(parts.netloc, timeout=self.options.timeout, blocksize=1 << 20)
        else:
            raise ImageError(f"registry {self.host} sent an unsupported URL {url!r}")
        headers = {"User-Agent": "sealkit", **headers}
        if body is None and method in ("POST", "PUT", "PATCH"):
            headers.setdefault("Content-Length", "0")
        try:
            conn.request(method, target, body=body, headers=headers)
            resp = conn.getresponse()
        except ssl.SSLCertVerificationError as exc:
            conn.close()
            raise ConnectError(
                f"TLS certificate of registry {parts.netloc} is not trusted: {exc.verify_message}",
                hint="pass the registry's CA with --ca-file CA.pem, or --insecure for plain http",
            ) from exc
        except ssl.SSLError as exc:
            conn.close()
            raise ConnectError(
                f"TLS with registry {parts.netloc} failed: {exc}",
                hint="if the registry speaks plain http, use --insecure",
            ) from exc
        except (OSError, http.client.HTTPException) as exc:
            conn.close()
            raise ConnectError(
                f"cannot reach registry {parts.netloc} ({method} {parts.path}): {exc}",
                hint="check the registry address and that it is running",
            ) from exc
        except BaseException:
            conn.close()  # e.g. ImageError from a blob that failed verification while sent
            raise
        return _Response(conn, resp, url)

    def _auth_header(self, url: str) -> str | None:
        if urllib.parse.urlsplit(url).netloc != self.host:
            return None  # never leak credentials to a redirect target on another host
        if self._token:
            return f"Bearer {self._token}"
        if self._basic and self.options.username is not None:
            raw = f"{self.options.username}:{self.options.password or ''}".encode()
            return "Basic " + base64.b64encode(raw).decode()
        return None

    def request(
        self,
        method: str,
        path_or_url: str,
        *,
        scope: str | None = None,
        headers: dict[str, str] | None = None,
        body: Callable[[], bytes | BinaryIO] | None = None,
        ok: tuple[int, ...] = (200,),
    ) -> _Response:
        """Send a request, answering one auth challenge and following GET/HEAD redirects.

        ``body`` is a factory so the request can be repeated after authenticating. A status not
        in ``ok`` raises a typed error with the registry's own message.
        """
        url = path_or_url if "://" in path_or_url else self.base + path_or_url
        for attempt in range(3):
            hdrs = dict(headers or {})
            auth = self._auth_header(url)
            if auth:
                hdrs["Authorization"] = auth
            payload = body() if body else None
            try:
                resp = self._raw(method, url, hdrs, payload)
            finally:
                close = getattr(payload, "close", None)
                if close is not None:
                    close()
            hops, current = 0, url
            while resp.status in _REDIRECTS and method in ("GET", "HEAD") and hops < 5:
                location = resp.headers.get("Location")
                if not location:
                    break
                resp.close()
                current = urllib.parse.urljoin(current, location)
                hdrs = dict(headers or {})
                auth = self._auth_header(current)  # None on another host: no credential leak
                if auth:
                    hdrs["Authorization"] = auth
                resp = self._raw(method, current, hdrs)
                hops += 1
            if resp.status == 401 and attempt < 2:
                challenge = resp.headers.get("WWW-Authenticate", "")
                detail = _registry_errors(resp.read_error() if method != "HEAD" else b"")
                resp.close()
                if self._answer(challenge, scope, retry=attempt > 0):
                    continue
                path = urllib.parse.urlsplit(current).path
                raise ConnectError(
                    f"authentication failed: {method} {path} on registry {self.host}: HTTP 401"
                    + (f" ({detail})" if detail else ""),
                    hint="check --username/--password and the account's rights on the repository",
                )
            if resp.status in ok:
                return resp
            self._fail(method, current, resp)
        raise AssertionError("unreachable: the loop returns or raises")

    def _answer(self, challenge: str, scope: str | None, *, retry: bool) -> bool:
        """Set up credentials for a 401; False when retrying cannot help."""
        scheme, params = parse_challenge(challenge)
        if scheme == "basic":
            if self.options.username is None:
                raise ConnectError(
                    f"registry {self.host} requires a username and password",
                    hint="pass --username and --password",
                )
            if self._basic and retry:
                return False
            self._basic = True
            return True
        if scheme == "bearer":
            wanted = set(self._scopes)
            if scope:
                wanted.add(scope)
            if params.get("scope"):
                wanted.update(params["scope"].split())
            if retry and self._token and wanted <= self._scopes:
                return False
            self._bearer = params
            self._fetch_token(params, wanted)
            return True
        raise ConnectError(
            f"registry {self.host} asks for unsupported authentication {scheme or '(none given)'!r}"
        )

    def _fetch_token(self, params: dict[str, str], scopes: set[str]) -> None:
        realm = params.get("realm")
        if not realm:
            raise ConnectError(f"registry {self.host} sent a Bearer challenge without a realm")
        query: list[tuple[str, str]] = []
        if params.get("service"):
            query.append(("service", params["service"]))
        query.extend(("scope", s) for s in sorted(scopes))
        if self.options.username:
            query.append(("account", self.options.username))
        url = realm + ("&" if "?" in realm else "?") + urllib.parse.urlencode(query)
        headers = {"Accept": "application/json"}
        if self.options.username is not None:
            self._check_realm(realm)
            raw = f"{self.options.username}:{self.options.password or ''}".encode()
            headers["Authorization"] = "Basic " + base64.b64encode(raw).decode()
        with self._raw("GET", url, headers) as resp:
            realm_host = urllib.parse.urlsplit(realm).netloc
            data = (
                resp.read_capped(MAX_TOKEN_BYTES, "token answer") if resp.status == 200 else resp.read_error()
            )
            if resp.status in (401, 403):
                who = f"user {self.options.username!r}" if self.options.username else "anonymous"
                raise ConnectError(
                    f"token server {realm_host} refused {who} for registry {self.host}",
                    hint="check --username/--password and the account's access to the repository",
                )
            if resp.status != 200:
                raise ConnectError(f"token server {realm_host} answered HTTP {resp.status}")
        try:
            doc = json.loads(data)
            token = doc.get("token") or doc.get("access_token")
        except (ValueError, AttributeError) as exc:
            raise ConnectError(f"token server {realm} sent no JSON token") from exc
        if not token:
            raise ConnectError(f"token server {realm} sent no token")
        self._token = token
        self._scopes = set(scopes)

    def _check_realm(self, realm: str) -> None:
        """Credentials go to a token server only over https (or plain http to the registry's own host
        when the operator chose plain http for it) and only to the registry's host or a configured one.

        The realm comes from the registry's 401 answer: without this check a hostile or hijacked
        registry names any URL and receives the password.
        """
        parts = urllib.parse.urlsplit(realm)
        own = urllib.parse.urlsplit(f"//{self.host}").hostname
        host = parts.hostname
        same_host = host is not None and host == own
        allowed = self.options.token_hosts | KNOWN_TOKEN_HOSTS.get(own or "", frozenset())
        if parts.scheme == "https" and (same_host or host in allowed):
            return
        if parts.scheme == "http" and same_host and self.options.insecure:
            return  # the operator already sends this host credentials over plain http (--insecure)
        why = (
            "over plain http"
            if parts.scheme != "https" and (same_host or host in allowed)
            else f"to {host or parts.netloc!r}, which is not the registry's own host"
        )
        raise ConnectError(
            f"registry {self.host} asks for the credentials to be sent to the token server {realm} {why}; "
            "sealkit refused to send them",
            hint="if that token server is genuine, allow its host for this registry (token_hosts) and "
            "make sure it is reached over https; otherwise do not trust this registry",
        )

    def _fail(self, method: str, url: str, resp: _Response) -> NoReturn:
        body = resp.read_error() if method != "HEAD" else b""
        resp.close()
        detail = _registry_errors(body)
        path = urllib.parse.urlsplit(url).path
        what = f"{method} {path} on registry {self.host}: HTTP {resp.status}"
        if detail:
            what += f" ({detail})"
        if resp.status == 401:
            raise ConnectError(f"authentication failed: {what}", hint="check --username/--password")
        if resp.status == 403:
            raise ConnectError(
                f"access denied: {what}",
                hint="the account lacks push/pull rights on this repository",
            )
        if resp.status == 404:
            raise ImageError(f"not found: {what}", hint="check the image name and tag")
        if resp.status >= 500:
            raise StepFailed(
                f"registry error: {what}",
                host=self.host,
                hint="retry; check the registry's logs and storage",
            )
        raise ImageError(f"registry refused the request: {what}")

    # ---- the API ---------------------------------------------------------------------------

    def ping(self, repo: str, push: bool = False) -> None:
        """``GET /v2/``, then get credentials for ``repo`` up front (no upload is sent twice)."""
        scope = f"repository:{repo}:pull" + (",push" if push else "")
        with self.request("GET", "/v2/", scope=scope) as resp:
            resp.drain()
        if self._bearer is not None and scope not in self._scopes:
            self._fetch_token(self._bearer, self._scopes | {scope})

    def blob_exists(self, repo: str, digest: str, *, push: bool = False) -> bool:
        scope = f"repository:{repo}:pull" + (",push" if push else "")
        with self.request("HEAD", f"/v2/{repo}/blobs/{digest}", scope=scope, ok=(200, 404)) as r:
            return r.status == 200

    def upload_blob(self, repo: str, digest: str, size: int, open_blob: Callable[[], BinaryIO]) -> bool:
        """Upload unless the registry has it; returns True when bytes were sent."""
        if self.blob_exists(repo, digest, push=True):
            log.debug("registry %s already has %s", self.host, digest)
            return False
        scope = f"repository:{repo}:pull,push"
        with self.request("POST", f"/v2/{repo}/blobs/uploads/", scope=scope, ok=(202,)) as resp:
            location = self._location(resp)
        chunk = self.options.chunk_size
        if chunk and size > 0:
            with open_blob() as fh:
                start = 0
                while data := fh.read(chunk):
                    end = start + len(data) - 1
                    hdrs = {
                        "Content-Type": "application/octet-stream",
                        "Content-Length": str(len(data)),
                        "Content-Range": f"{start}-{end}",
                    }
                    with self.request(
                        "PATCH",
                        location,
                        scope=scope,
                        headers=hdrs,
                        body=lambda d=data: d,
                        ok=(202,),
                    ) as resp:
                        location = self._location(resp)
                    start = end + 1
            put_url = _with_query(location, digest=digest)
            with self.request("PUT", put_url, scope=scope, ok=(201,)) as resp:
                self._check_digest_header(resp, digest)
        else:
            hdrs = {"Content-Type": "application/octet-stream", "Content-Length": str(size)}
            put_url = _with_query(location, digest=digest)
            with self.request("PUT", put_url, scope=scope, headers=hdrs, body=open_blob, ok=(201,)) as resp:
                self._check_digest_header(resp, digest)
        return True

    def get_blob(self, repo: str, digest: str) -> _Response:
        """Open a blob for streaming; the caller verifies the digest while storing it."""
        return self.request("GET", f"/v2/{repo}/blobs/{digest}", scope=f"repository:{repo}:pull")

    def get_manifest(self, repo: str, reference: str) -> tuple[bytes, str, str]:
        """Fetch a manifest or index; returns (bytes, media type, verified digest)."""
        headers = {"Accept": ", ".join(MANIFEST_ACCEPT)}
        with self.request(
            "GET",
            f"/v2/{repo}/manifests/{reference}",
            scope=f"repository:{repo}:pull",
            headers=headers,
        ) as resp:
            data = resp.read_capped(MAX_MANIFEST_BYTES, f"manifest {repo}:{reference}")
            media = (resp.headers.get("Content-Type") or "").split(";")[0].strip()
            header_digest = resp.headers.get("Docker-Content-Digest")
        try:
            doc = json.loads(data)
        except ValueError as exc:
            raise ImageError(f"{self.host}/{repo}:{reference}: manifest is not JSON") from exc
        media = doc.get("mediaType") or media
        if media == DOCKER_SCHEMA1 or doc.get("schemaVersion") == 1:
            raise ImageError(
                f"{self.host}/{repo}:{reference} uses Docker schema 1",
                hint="re-push the image with a current tool (schema 2 or OCI)",
            )
        if media not in INDEX_TYPES and media not in MANIFEST_TYPES:
            media = (
                "application/vnd.oci.image.index.v1+json"
                if "manifests" in doc
                else ("application/vnd.oci.image.manifest.v1+json")
            )
        digest = sha256_digest(data)
        expected = reference if reference.startswith("sha256:") else header_digest
        if expected and expected.startswith("sha256:") and expected != digest:
            raise ImageError(
                f"manifest {self.host}/{repo}@{expected} failed verification: expected {expected}, "
                f"got {digest}",
                hint="the registry or a proxy altered the manifest; try again or another mirror",
            )
        return data, media, digest

    def put_manifest(self, repo: str, reference: str, data: bytes, media_type: str) -> str:
        headers = {"Content-Type": media_type, "Content-Length": str(len(data))}
        with self.request(
            "PUT",
            f"/v2/{repo}/manifests/{reference}",
            scope=f"repository:{repo}:pull,push",
            headers=headers,
            body=lambda: data,
            ok=(200, 201),
        ) as resp:
            digest = sha256_digest(data)
            self._check_digest_header(resp, digest)
            return digest

    def _location(self, resp: _Response) -> str:
        location = resp.headers.get("Location")
        resp.drain()
        if not location:
            raise ImageError(f"registry {self.host} started an upload without a Location")
        return urllib.parse.urljoin(self.base + "/", location)

    def _check_digest_header(self, resp: _Response, digest: str) -> None:
        resp.drain()
        got = resp.headers.get("Docker-Content-Digest")
        if got and got != digest:
            raise ImageError(
                f"registry {self.host} stored {got} when {digest} was sent",
                hint="the upload was altered in transit; push again",
            )


def _with_query(url: str, **params: str) -> str:
    return url + ("&" if "?" in url else "?") + urllib.parse.urlencode(params)


def _registry_errors(body: bytes) -> str:
    try:
        doc = json.loads(body)
        errors = doc.get("errors") or []
        return "; ".join(f"{e.get('code', '?')}: {e.get('message', '')}".strip() for e in errors)
    except (ValueError, AttributeError):
        return ""


# ---- image-level copy between a registry and an OCI layout ------------------------------------


def pull_to_layout(
    ref: Reference, layout: OciLayout, options: RegistryOptions, platform: str | None = None
) -> dict[str, Any]:
    """Copy ``ref`` from its registry into ``layout``; return the root descriptor.

    With ``platform``, an index is narrowed to that platform's manifest (which becomes the root);
    without, every manifest of the index is copied. Blobs the layout already has are not fetched.
    The caller records the root in index.json (and holds :meth:`OciLayout.writing`).
    """
    ref = ref.remote()
    client = RegistryClient(ref.api_host, options)
    repo = ref.repository
    data, media, digest = client.get_manifest(repo, ref.reference)
    if media in INDEX_TYPES and platform:
        chosen = select_manifest(json.loads(data), platform)
        data, media, digest = client.get_manifest(repo, chosen["digest"])
        root = {"mediaType": media, "digest": digest, "size": len(data)}
        if chosen.get("platform"):
            root["platform"] = chosen["platform"]
    else:
        root = {"mediaType": media, "digest": digest, "size": len(data)}
    _pull_tree(client, repo, layout, data, media, str(ref))
    layout.write_blob(data)
    return root


def _pull_tree(
    client: RegistryClient, repo: str, layout: OciLayout, data: bytes, media: str, image: str
) -> None:
    doc = json.loads(data)
    if media in INDEX_TYPES:
        for child in doc.get("manifests", []):
            if child.get("mediaType") not in INDEX_TYPES | MANIFEST_TYPES:
                continue
            if layout.has_blob(child["digest"]):
                _pull_tree(
                    client,
                    repo,
                    layout,
                    layout.read_blob(child["digest"], what="manifest", max_bytes=MAX_MANIFEST_BYTES),
                    child["mediaType"],
                    image,
                )
                continue
            cdata, cmedia, _ = client.get_manifest(repo, child["digest"])
            _pull_tree(client, repo, layout, cdata, cmedia, image)
            layout.write_blob(cdata)
        return
    for blob in [doc["config"], *doc.get("layers", [])]:
        if layout.has_blob(blob["digest"]):
            continue
        if blob.get("urls"):
            raise ImageError(
                f"{image}: layer {blob['digest']} is a foreign layer",
                hint="foreign (non-distributable) layers are not supported",
            )
        if not isinstance(blob.get("size"), int) or blob["size"] < 0:
            raise ImageError(
                f"{image}: blob {blob.get('digest')} has no valid size in its manifest",
                hint="the image is malformed; re-push it with a current tool",
            )
        with client.get_blob(repo, blob["digest"]) as resp:
            layout.ingest(resp, blob["digest"], blob.get("size"), what="blob", image=image)


def push_from_layout(
    layout: OciLayout,
    root: dict[str, Any],
    dest: Reference,
    options: RegistryOptions,
    *,
    image: str | None = None,
) -> str:
    """Push the tree under ``root`` to ``dest``: blobs, then manifests, then the tag."""
    dest = dest.remote()
    client = RegistryClient(dest.api_host, options)
    repo = dest.repository
    client.ping(repo, push=True)
    for desc in _post_order(layout, root, image):
        media = desc["mediaType"]
        if media in INDEX_TYPES or media in MANIFEST_TYPES:
            if desc is root:
                continue
            data = layout.read_blob(desc["digest"], desc.get("size"), image=image)
            client.put_manifest(repo, desc["digest"], data, media)
        else:
            digest, size = desc["digest"], desc["size"]
            client.upload_blob(
                repo, digest, size, lambda d=digest, s=size: layout.open_blob(d, s, image=image)
            )
    data = layout.read_blob(root["digest"], root.get("size"), image=image)
    return client.put_manifest(repo, dest.tag or dest.digest or "latest", data, root["mediaType"])


def _post_order(
    layout: OciLayout, desc: dict[str, Any], image: str | None, seen: set[str] | None = None
) -> Iterator[dict[str, Any]]:
    """Children before parents, each digest once: what a registry needs to accept a manifest."""
    seen = set() if seen is None else seen
    media = desc["mediaType"]
    if media in INDEX_TYPES or media in MANIFEST_TYPES:
        doc = layout.read_json(desc["digest"], desc.get("size"), image=image)
        children = (
            doc.get("manifests", []) if media in INDEX_TYPES else [doc["config"], *doc.get("layers", [])]
        )
        for child in children:
            if child["digest"] not in seen:
                yield from _post_order(layout, child, image, seen)
    if desc["digest"] not in seen:
        seen.add(desc["digest"])
        yield desc
