"""One persistent, thread-safe SSH connection per host.

Unlike sealos (a fresh connection per command, host keys unchecked), a :class:`Connection` opens one
paramiko transport lazily, verifies the host key, and reuses it for every command, upload and
download of a run, with many exec channels in flight at once.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import io
import logging
import math
import os
import posixpath
import random
import re
import secrets
import socket
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import paramiko

from sealkit.errors import (
    ConnectError,
    SealkitError,
    StepFailed,
    UsageError,
    controller_io,
    controller_io_error,
    is_controller_io,
)
from sealkit.ssh.config import Endpoint, load_ssh_config, resolve_route
from sealkit.ssh.hostkeys import HostKeyPolicy, known_hosts_name
from sealkit.ssh.quoting import quote, sudo_wrap, with_env
from sealkit.ssh.target import Target

log = logging.getLogger("sealkit.ssh")

CHUNK = 256 * 1024
_DEFAULT_KEYS = ("~/.ssh/id_ed25519", "~/.ssh/id_ecdsa", "~/.ssh/id_rsa")
_STDERR_TAIL_LINES = 10
# After the exit status arrives, keep reading output until the stream goes quiet this long; a daemon
# started with ``&`` that keeps stdout open must not hang the run forever.
_OUTPUT_GRACE = 5.0

#: how long a dropped transport is re-dialled (with backoff) before the step gives up: long enough for a
#: switch reboot or a short partition, short enough that a dead host is reported within a minute
RECONNECT_WINDOW = 30.0

#: the first line of a put's stdin is the expected sha256 of the upload (kept out of argv)
_READ_WANT = "IFS= read -r want || exit 23;"

LineCallback = Callable[[str, str], None]
Progress = Callable[[int], None]


@dataclass(frozen=True)
class Result:
    """The outcome of one remote command."""

    host: str
    cmd: str
    rc: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        """True when the command exited 0."""
        return self.rc == 0


#: AES-GCM first when both sides have it: one pass for encryption and integrity instead of CTR + HMAC;
#: measured per 512 MiB (bench/distribute.py): controller CPU 1.05 -> 0.70 s, host sshd 0.92 -> 0.68 s
AEAD_CIPHERS = ("aes128-gcm@openssh.com", "aes256-gcm@openssh.com")


def _prefer_aead(t: paramiko.Transport) -> None:
    opts = t.get_security_options()
    ciphers = list(opts.ciphers)
    opts.ciphers = [c for c in AEAD_CIPHERS if c in ciphers] + [c for c in ciphers if c not in AEAD_CIPHERS]


class CommandFailed(StepFailed):
    """A remote command exited non-zero (or timed out); ``result`` holds what it printed. ``link_lost``:
    the SSH link died while it ran, so it may or may not have completed (a caller whose whole operation
    is idempotent may send it again)."""

    def __init__(
        self, message: str, *, result: Result, hint: str | None = None, link_lost: bool = False
    ) -> None:
        super().__init__(message, host=result.host, step="run", hint=hint)
        self.result = result
        self.link_lost = link_lost


def lost_hint(host: str, what: str) -> str:
    """The fix when the link died mid-command: the command may or may not have run, so only the user (or
    an idempotent step) may run it again."""
    return (
        f"connection to {host} lost during {what}; it may or may not have completed: check the host and the "
        "network, then re-run the same sealkit command"
    )


def connect_hint(err: BaseException | None, where: str) -> str:
    """The fix for a failed dial, from its cause: a refusal, silence and a missing route point at
    different things (sshd, the host or a firewall, the routing)."""
    code = getattr(err, "errno", None)
    if isinstance(err, ConnectionRefusedError) or code == errno.ECONNREFUSED:
        return f"{where} answers but nothing listens on that port: start sshd there, or fix the port"
    if isinstance(err, TimeoutError | socket.timeout) or code == errno.ETIMEDOUT:
        return f"{where} did not answer: check that it is up and that no firewall drops SSH packets"
    if code in (errno.EHOSTUNREACH, errno.ENETUNREACH, errno.ENETDOWN, errno.EHOSTDOWN):
        return f"no route to {where}: check the address, that the host is up, and the controller's routes"
    if isinstance(err, EOFError | ConnectionResetError) or code == errno.ECONNRESET:
        return (
            f"{where} closed the connection before the SSH handshake: too many logins at once (sshd "
            "MaxStartups: lower --concurrency), or a TCP wrapper / fail2ban refusing the controller"
        )
    if isinstance(err, paramiko.SSHException):
        return f"the SSH handshake with {where} failed: check that sshd (not another service) listens there"
    return f"check that {where} is up and sshd listens on that port, and that no firewall blocks it"


def remote_write_hint(stderr: str, where: str, user: str) -> str:
    """The fix for a failed write on a host, from what the host said: a full disk needs space, a
    read-only one a remount, a permission error another user; never "check free space" for all three."""
    low = stderr.lower()
    if "no space left" in low or "disk quota" in low:
        return f"free space on the host's filesystem holding {where} (df -h), then re-run"
    if "read-only file system" in low:
        return f"{where} is on a read-only filesystem on the host: remount it read-write, then re-run"
    if "permission denied" in low or "operation not permitted" in low:
        return f"let {user} write {where} on the host (or upload with sudo), then re-run"
    if "sha256 mismatch" in low:
        return "the upload arrived corrupted: re-run; if it repeats, check the host's disk and memory"
    if "is a directory" in low:
        return f"{where} is a directory on the host: remove it or give a file path"
    return "re-run; with -v the log shows the command that failed on the host"


def _tail(text: str, n: int = _STDERR_TAIL_LINES) -> str:
    lines = [ln for ln in text.strip().splitlines() if ln.strip()]
    return "\n".join(lines[-n:])


def brief(cmd: str, limit: int = 100) -> str:
    """A command as a message shows it: its first line, cut at ``limit`` characters. Why: a failed step's
    message is read by a person; a whole helper script (hundreds of lines) buries the cause. The full
    command is in the debug log (``-vv``) and in ``Result.cmd``."""
    first, _, rest = cmd.strip().partition("\n")
    if len(first) > limit:
        return first[:limit] + " …"
    return first + (" …" if rest.strip() else "")


def _failure_message(result: Result) -> str:
    msg = f"command exited with rc={result.rc}: {brief(result.cmd)}"
    tail = _tail(result.stderr) or _tail(result.stdout)
    if tail:
        msg += "\n    " + tail.replace("\n", "\n    ")
    return msg


class JumpPool:
    """Shares one authenticated transport per jump host among many connections.

    A :class:`Fleet` owns one, so 500 hidden hosts behind one bastion ride one bastion connection
    (sshd's MaxStartups would otherwise drop concurrent logins).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._hop_locks: dict[tuple[object, ...], threading.Lock] = {}
        self._links: dict[tuple[object, ...], paramiko.Transport] = {}

    def get(self, key: tuple[object, ...], opener: Callable[[], paramiko.Transport]) -> paramiko.Transport:
        """Return the live transport for ``key``, opening it with ``opener`` once."""
        with self._lock:
            hop_lock = self._hop_locks.setdefault(key, threading.Lock())
        with hop_lock:
            t = self._links.get(key)
            if t is not None and t.is_active():
                return t
            t = opener()
            self._links[key] = t
            return t

    def close(self) -> None:
        """Close every jump transport (after the connections riding them)."""
        with self._lock:
            links, self._links = list(self._links.values()), {}
        for t in reversed(links):
            t.close()


_KEY_CLASSES: tuple[type[paramiko.PKey], ...] = (
    paramiko.Ed25519Key,
    paramiko.ECDSAKey,
    paramiko.RSAKey,
)


def load_key_text(text: str, passphrase: str | None, *, host: str | None = None) -> paramiko.PKey:
    """A private key from its text (OpenSSH or PEM; ed25519, ECDSA or RSA); ConnectError saying why not.

    paramiko has no type-sniffing loader for in-memory keys, so each key class is tried in turn.
    """
    body = text.strip() + "\n"
    if "PRIVATE KEY-----" not in body:
        raise ConnectError(
            "the inline key (pkData) is not a private key in OpenSSH or PEM format",
            host=host,
            step="auth",
            hint="put the whole key file, from -----BEGIN to -----END, into pkData (or use pk: PATH)",
        )
    errors: list[str] = []
    for cls in _KEY_CLASSES:
        try:
            return cls.from_private_key(io.StringIO(body), password=passphrase)
        except (paramiko.PasswordRequiredException, TypeError) as e:
            raise ConnectError(
                "the inline key (pkData) is encrypted and no passphrase was given",
                host=host,
                step="auth",
                hint="set pkPasswd to its passphrase",
            ) from e
        except (paramiko.SSHException, ValueError, IndexError) as e:
            errors.append(f"{cls.__name__}: {e}")
    raise ConnectError(
        "cannot load the inline key (pkData): " + "; ".join(errors),
        host=host,
        step="auth",
        hint="check the key text and its passphrase (pkPasswd)",
    )


class _Auth:
    """Tries the credentials of a hop in order until the server says yes."""

    def __init__(self, transport: paramiko.Transport, user: str, label: str) -> None:
        self.t = transport
        self.user = user
        self.label = label
        self.tried: list[str] = []

    def done(self) -> bool:
        return self.t.is_authenticated()

    def _attempt(self, what: str, call: Callable[[], object]) -> None:
        self.tried.append(what)
        try:
            call()
        except paramiko.AuthenticationException as e:
            log.debug("%s: %s refused: %s", self.label, what, e)
        except (paramiko.SSHException, EOFError, OSError) as e:
            if self.t.is_active():
                raise
            raise ConnectError(
                f"the server closed the connection during authentication as {self.user!r} "
                f"(after trying {', '.join(self.tried)}): {e}",
                host=self.label,
                step="auth",
                hint="too many keys offered? give the right key with -i (sshd MaxAuthTries)",
            ) from e

    def key(self, what: str, key: paramiko.PKey) -> None:
        if not self.done():
            self._attempt(f"key {what}", lambda: self.t.auth_publickey(self.user, key))

    def key_file(self, path: str, passphrase: str | None, *, explicit: bool) -> None:
        if self.done():
            return
        try:
            key = paramiko.PKey.from_path(path, password=passphrase)
        except FileNotFoundError:
            if explicit:
                raise ConnectError(
                    f"private key {path} does not exist",
                    host=self.label,
                    step="auth",
                    hint="check the key path (-i)",
                ) from None
            return
        except (paramiko.PasswordRequiredException, TypeError) as e:
            if explicit:
                raise ConnectError(
                    f"private key {path} is encrypted",
                    host=self.label,
                    step="auth",
                    hint="give its passphrase (key_passphrase) or load it into ssh-agent",
                ) from e
            log.debug("%s: skipping encrypted key %s", self.label, path)
            return
        except (paramiko.SSHException, paramiko.UnknownKeyType, ValueError, OSError) as e:
            if explicit:
                raise ConnectError(
                    f"cannot load private key {path}: {e}",
                    host=self.label,
                    step="auth",
                    hint="check the key file and its passphrase",
                ) from e
            log.debug("%s: skipping unusable key %s: %s", self.label, path, e)
            return
        self.key(path, key)

    def key_data(self, text: str, passphrase: str | None) -> None:
        """An inline private key (sealos ``pkData``): used like ``-i``, so a key that cannot be loaded is
        an error naming it, never silently skipped."""
        if self.done():
            return
        self.key("inline key (pkData)", load_key_text(text, passphrase, host=self.label))

    def password(self, password: str) -> None:
        if not self.done():
            self._attempt("password", lambda: self.t.auth_password(self.user, password, fallback=True))

    def agent(self) -> None:
        if self.done() or not os.environ.get("SSH_AUTH_SOCK"):
            return
        agent = paramiko.Agent()
        try:
            for k in agent.get_keys():
                self.key(f"agent {k.fingerprint}", k)
                if self.done():
                    break
        finally:
            agent.close()


class Connection:
    """A persistent SSH connection to one host, safe to use from many threads at once.

    ``ssh_config`` is a path, a loaded ``paramiko.SSHConfig``, or ``None`` for ``~/.ssh/config``
    when it exists. ``retries`` is the number of extra connect attempts after transient failures
    (refused, timeout, reset, banner errors); authentication failures and host key problems are
    never retried. ``max_sessions`` bounds concurrent channels (sshd's MaxSessions defaults to 10).

    A transport that drops later (reset, partition: a new channel gets no answer) is re-dialled with
    backoff for up to ``reconnect_window`` seconds; a command whose link died after it started is run
    again only when its caller marked it ``idempotent`` (see :meth:`run`).
    """

    def __init__(
        self,
        target: Target,
        *,
        hostkeys: HostKeyPolicy,
        ssh_config: str | os.PathLike[str] | paramiko.SSHConfig | None = None,
        connect_timeout: float = 10,
        keepalive: int = 15,
        retries: int = 3,
        max_sessions: int = 8,
        backoff_base: float = 0.5,
        jumps: JumpPool | None = None,
        reconnect_window: float = RECONNECT_WINDOW,
    ) -> None:
        self.target = target
        self.hostkeys = hostkeys
        self._ssh_config = load_ssh_config(ssh_config)
        self.connect_timeout = connect_timeout
        self.keepalive = keepalive
        self.retries = max(0, retries)
        self.backoff_base = backoff_base
        self.reconnect_window = reconnect_window
        #: transports given up on while their channels may still be running; closed by close()
        self._retired: list[paramiko.Transport] = []
        #: how many times a dropped transport was re-dialled (tests and -v logs read it)
        self.reconnects = 0
        self._own_jumps = jumps is None
        self._jumps = jumps if jumps is not None else JumpPool()
        self._lock = threading.Lock()
        self._sudo_lock = threading.Lock()
        self._bytes_lock = threading.Lock()
        self._sessions = threading.BoundedSemaphore(max_sessions)
        self._probe_lock = threading.Lock()
        #: the transport that last answered a liveness probe, and when
        self._answered: tuple[paramiko.Transport | None, float] = (None, 0.0)
        self._transport: paramiko.Transport | None = None
        self._sudo_mode: str | None = None
        self._bytes_sent = 0
        self._rng = random.Random()
        self._closed = False
        self._route: tuple[list[Endpoint], Endpoint] | None = None

    # ----------------------------------------------------------------- properties

    @property
    def host(self) -> str:
        """The target's display name, used in every message."""
        return self.target.label

    @property
    def bytes_sent(self) -> int:
        """Payload bytes sent so far (uploads, stdin); a no-op put leaves it unchanged."""
        with self._bytes_lock:
            return self._bytes_sent

    @property
    def connected(self) -> bool:
        """True while the transport is up."""
        t = self._transport
        return t is not None and t.is_active()

    def __repr__(self) -> str:
        return f"Connection({self.target!r}, connected={self.connected})"

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _count(self, n: int) -> None:
        with self._bytes_lock:
            self._bytes_sent += n

    # ----------------------------------------------------------------- connecting

    def route(self) -> tuple[list[Endpoint], Endpoint]:
        """The resolved jump hosts and final endpoint for this target."""
        if self._route is None:
            self._route = resolve_route(self.target, self._ssh_config)
        return self._route

    def connect(self) -> None:
        """Open the transport now (normally it opens on first use)."""
        self._ensure()

    def _ensure(self, deadline: float | None = None) -> paramiko.Transport:
        """The live transport, dialling it if needed; ``deadline`` (monotonic) makes a re-dial keep
        trying until then instead of a fixed number of attempts."""
        with self._lock:
            if self._closed:
                raise ConnectError(
                    "connection was closed",
                    host=self.host,
                    step="connect",
                    hint="this is a bug in the caller: use the connection before close()",
                )
            t = self._transport
            if t is not None and t.is_active():
                return t
            if t is not None:
                log.info("%s: the SSH connection dropped; reconnecting", self.host)
                t.close()
            redial = t is not None or deadline is not None
            if redial and deadline is None:
                deadline = time.monotonic() + self.reconnect_window
            self._transport = self._connect_with_retries(deadline)
            if redial:
                self.reconnects += 1
            return self._transport

    def _connect_with_retries(self, deadline: float | None = None) -> paramiko.Transport:
        hops, final = self.route()
        attempts = self.retries + 1
        last: BaseException | None = None
        where = final.label
        attempt = 0
        while True:
            try:
                return self._open_route(hops, final)
            except SealkitError:
                raise
            except paramiko.AuthenticationException as e:  # e.g. raised by a jump host's auth
                raise ConnectError(
                    f"authentication failed: {e}",
                    host=self.host,
                    step="auth",
                    hint=self._auth_hint(final),
                ) from e
            except socket.gaierror as e:
                raise ConnectError(
                    f"cannot resolve {final.hostname}: {e}",
                    host=self.host,
                    step="connect",
                    hint="check the address, or the HostName in the ssh config",
                ) from e
            except _HopError as e:
                last, where = e.cause, e.hop
            except (OSError, EOFError, paramiko.SSHException) as e:
                last, where = e, final.label
            attempt += 1
            delay = self._backoff(attempt - 1)
            if deadline is not None:  # a re-dial: the window bounds it, whatever ``retries`` says
                delay = min(delay, max(0.0, deadline - time.monotonic()))
                more = time.monotonic() + delay < deadline
            else:
                more = attempt < attempts
            if not more:
                break
            log.debug(
                "%s: connect attempt %d failed (%s); retrying in %.2fs", self.host, attempt, last, delay
            )
            time.sleep(delay)
        raise ConnectError(
            f"cannot connect to {where} after {attempt} attempt(s): {type(last).__name__}: {last}",
            host=self.host,
            step="connect",
            hint=connect_hint(last, where),
        ) from last

    def _backoff(self, attempt: int) -> float:
        """Exponential backoff with jitter, capped at 10 s."""
        base = min(10.0, self.backoff_base * (2**attempt))
        return base / 2 + self._rng.uniform(0, base / 2)

    def _open_route(self, hops: list[Endpoint], final: Endpoint) -> paramiko.Transport:
        via: paramiko.Transport | None = None
        chain_key: tuple[object, ...] = ()
        for hop in hops:
            chain_key = (*chain_key, hop.key)
            parent = via

            def opener(hop: Endpoint = hop, parent: paramiko.Transport | None = parent) -> paramiko.Transport:
                try:
                    return self._open_hop(hop, parent, jump=True)
                except (OSError, EOFError, paramiko.SSHException) as e:
                    if isinstance(e, paramiko.AuthenticationException | socket.gaierror):
                        raise
                    raise _HopError(f"jump host {hop.label}", e) from e

            via = self._jumps.get(chain_key, opener)
        return self._open_hop(final, via, jump=False)

    def _open_sock(
        self, ep: Endpoint, via: paramiko.Transport | None, timeout: float
    ) -> socket.socket | paramiko.Channel | paramiko.ProxyCommand:
        if via is not None:
            return via.open_channel("direct-tcpip", (ep.hostname, ep.port), ("127.0.0.1", 0), timeout=timeout)
        if ep.proxy_command:
            return paramiko.ProxyCommand(ep.proxy_command)
        sock = socket.create_connection((ep.hostname, ep.port), timeout=timeout)
        # paramiko leaves Nagle on: every exec would wait ~40 ms for the peer's delayed ACK
        # (bench/fanout.py: 20 steps on 10 hosts 1.49 s -> 0.91 s)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock

    def _open_hop(self, ep: Endpoint, via: paramiko.Transport | None, *, jump: bool) -> paramiko.Transport:
        timeout = float(ep.connect_timeout or self.connect_timeout)
        label = f"jump host {ep.label}" if jump else self.host
        log.debug(
            "%s: connecting to %s@%s:%d%s",
            self.host,
            ep.user,
            ep.hostname,
            ep.port,
            " (jump host)" if jump else "",
        )
        sock = self._open_sock(ep, via, timeout)
        t = paramiko.Transport(sock)
        try:
            t.banner_timeout = timeout
            t.auth_timeout = timeout
            name = ep.host_key_alias or known_hosts_name(ep.hostname, ep.port)
            _prefer_aead(t)
            preferred = self.hostkeys.preferred_algorithms(name)
            if preferred:
                opts = t.get_security_options()
                supported = list(opts.key_types)
                usable = [a for a in preferred if a in supported]
                opts.key_types = usable + [a for a in supported if a not in usable]
            t.start_client(timeout=timeout)
            # pinning writes known_hosts on the controller: a full or read-only disk there is not the host's
            # fault, and must not be retried as if the host were unreachable
            pinned = getattr(self.hostkeys, "pinned_path", "known_hosts")
            with controller_io(f"pinning the host key of {label} in", pinned, step="connect"):
                self.hostkeys.verify(name, t.get_remote_server_key(), host=label)
            self._authenticate(t, ep, label, jump=jump)
            t.set_keepalive(ep.keepalive or self.keepalive)
            return t
        except BaseException:
            t.close()
            sock.close()
            raise

    def _authenticate(self, t: paramiko.Transport, ep: Endpoint, label: str, *, jump: bool) -> None:
        """Explicit key, config IdentityFiles, password, agent, default keys: first that works wins.

        The target's password is never offered to a jump host.
        """
        tgt = self.target
        auth = _Auth(t, ep.user, label)
        if tgt.key_path:
            auth.key_file(tgt.key_path, tgt.key_passphrase, explicit=True)
        if tgt.key_data and not jump:
            auth.key_data(tgt.key_data, tgt.key_passphrase)
        for path in ep.identity_files:
            auth.key_file(path, tgt.key_passphrase, explicit=False)
        if tgt.password is not None and not jump:
            auth.password(tgt.password)
        auth.agent()
        for path in _DEFAULT_KEYS:
            auth.key_file(os.path.expanduser(path), tgt.key_passphrase, explicit=False)
        if not auth.done():
            tried = ", ".join(auth.tried) or "nothing (no key, password or agent)"
            raise ConnectError(
                f"authentication as {ep.user!r} failed (tried {tried})",
                host=label,
                step="auth",
                hint=self._auth_hint(ep),
            )
        log.debug("%s: authenticated as %s", label, ep.user)

    @staticmethod
    def _auth_hint(ep: Endpoint) -> str:
        return (
            f"check the user ({ep.user}); install the controller's public key in "
            f"~{ep.user}/.ssh/authorized_keys on the host, or give the right key (-i) / "
            "password (-p)"
        )

    def close(self) -> None:
        """Close the transport (and jump transports this connection owns). Idempotent."""
        with self._lock:
            self._closed = True
            t, self._transport = self._transport, None
            retired, self._retired = self._retired, []
        for old in [*retired, t]:
            if old is not None:
                old.close()
        if self._own_jumps:
            self._jumps.close()

    def _abort(self) -> None:
        """Drop the transport without marking the connection closed (next use reconnects)."""
        with self._lock:
            t, self._transport = self._transport, None
        if t is not None:
            t.close()

    # ----------------------------------------------------------------- exec

    def _open_session(self) -> paramiko.Channel:
        """A new session channel. Nothing has run yet, so a dropped link is always re-dialled here.

        Two failures look alike and need opposite fixes. sshd *answering* with a refusal
        (``ChannelException``, e.g. code 1 "administratively prohibited" past MaxSessions) means the
        transport is fine and the host is saturated. No answer within ``connect_timeout``, or a transport
        that died, means the link is gone (a partition, a reset): the transport is retired (its running
        channels may still finish if the link returns) and a new one is dialled for up to
        ``reconnect_window`` seconds.
        """
        deadline: float | None = None
        while True:
            t = self._redial(deadline)
            try:
                return t.open_session(timeout=self.connect_timeout)
            except paramiko.ChannelException as e:
                raise ConnectError(
                    f"the host refused a new session channel (code {e.code}: {e.text})",
                    host=self.host,
                    step="connect",
                    hint="sshd's MaxSessions is lower than sealkit's sessions per host: lower --concurrency "
                    "or raise MaxSessions in the host's sshd_config",
                ) from e
            except (paramiko.SSHException, EOFError, OSError) as e:
                cause = e
            if deadline is None:
                deadline = time.monotonic() + self.reconnect_window
            log.info(
                "%s: no answer opening a channel (%s: %s); reconnecting for up to %.0fs",
                self.host,
                type(cause).__name__,
                cause,
                self.reconnect_window,
            )
            self._retire(t)
            if time.monotonic() >= deadline:
                raise ConnectError(
                    f"connection to {self.host} lost and not back within {self.reconnect_window:g}s: {cause}",
                    host=self.host,
                    step="connect",
                    hint="check the host and the network between it and the controller, then re-run",
                ) from cause

    def _redial(self, deadline: float | None) -> paramiko.Transport:
        """:meth:`_ensure`; once a link was lost (``deadline`` set), a failure to dial again says so."""
        try:
            return self._ensure(deadline)
        except ConnectError as e:
            if deadline is None or type(e) is not ConnectError or e.step != "connect":
                raise  # first contact, a changed host key, refused credentials: their own message
            raise ConnectError(
                f"connection to {self.host} lost and not back within {self.reconnect_window:g}s: {e.message}",
                host=self.host,
                step="connect",
                hint="check the host and the network between it and the controller, then re-run the same "
                "sealkit command",
            ) from e

    def _retire(self, t: paramiko.Transport) -> None:
        """Stop using ``t`` for new channels; keep it open so commands already running on it can finish
        if the link comes back (close() closes it)."""
        with self._lock:
            if self._transport is t:
                self._transport = None
                self._retired.append(t)

    @property
    def login_user(self) -> str:
        """The user the SSH session really logs in as: the Target's, or ``User`` from the ssh config when
        the Target keeps the default (sudo is decided from this, never from the Target alone)."""
        return self.route()[1].user

    @property
    def is_root(self) -> bool:
        """True when commands run as root without sudo."""
        return self.login_user == "root"

    def _sudo_password(self) -> str | None:
        """The Target's sudo password; for a login user that only the ssh config made non-root, the
        login password (the Target derives its sudo password from ``user``, which said root)."""
        if self.target.sudo_password is not None:
            return self.target.sudo_password
        return self.target.password

    def _use_sudo(self, sudo: bool | None) -> bool:
        if self.is_root:
            return False
        return sudo is None or sudo

    def _sudo_needs_password(self) -> bool:
        """Probe once per connection whether sudo wants a password, and that ours is right."""
        with self._sudo_lock:
            if self._sudo_mode is None:
                self._sudo_mode = self._probe_sudo()
            return self._sudo_mode == "password"

    def _probe_sudo(self) -> str:
        rc, _, err = self._exec("sudo -n true", timeout=30, idempotent=True)
        if rc == 0:
            return "nopasswd"
        err_text = err.decode(errors="replace").strip()
        if rc == 127 or "not found" in err_text:
            raise ConnectError(
                f"sudo is not installed (user {self.login_user})",
                host=self.host,
                step="sudo",
                hint="install sudo on the host, or connect as root",
            )
        password = self._sudo_password()
        if password is None:
            raise ConnectError(
                f"sudo needs a password for {self.login_user} and none was given",
                host=self.host,
                step="sudo",
                hint="give the sudo password (sudo_password / -p), or allow NOPASSWD in sudoers",
            )
        rc, _, err = self._exec(
            sudo_wrap("true", password=True),
            stdin_prefix=password.encode() + b"\n",
            timeout=30,
            idempotent=True,
        )
        if rc != 0:
            raise ConnectError(
                f"sudo refused the password for {self.login_user}: "
                f"{_tail(err.decode(errors='replace'), 3) or f'rc={rc}'}",
                host=self.host,
                step="sudo",
                hint="check the sudo password, and that the user is in sudoers",
            )
        return "password"

    def _wrap(self, cmd: str, sudo: bool | None, env: Mapping[str, str] | None) -> tuple[str, bytes]:
        """Return the command line to send and the stdin prefix (the sudo password line or b"")."""
        inner = with_env(cmd, env)
        if not self._use_sudo(sudo):
            return inner, b""
        if self._sudo_needs_password():
            password = self._sudo_password()
            assert password is not None  # the probe guarantees it
            return sudo_wrap(inner, password=True), password.encode() + b"\n"
        return sudo_wrap(inner, password=False), b""

    def run(
        self,
        cmd: str,
        *,
        sudo: bool | None = None,
        timeout: float | None = None,
        check: bool = True,
        stdin: bytes | BinaryIO | None = None,
        env: Mapping[str, str] | None = None,
        on_line: LineCallback | None = None,
        idempotent: bool = False,
    ) -> Result:
        """Run ``cmd`` through the remote shell (no PTY) and return its result.

        ``idempotent=True`` says running ``cmd`` twice does no harm (a read, a probe, ``test -e``): if the
        link dies while it runs, the connection is re-dialled and ``cmd`` run again (``on_line`` may then
        see lines twice). The default is False because a half-run ``kubeadm init`` must never be repeated
        behind the user's back: such a command fails with "connection lost … re-run".

        Non-root users run it under sudo unless ``sudo=False``; the sudo password goes on stdin
        ahead of ``stdin``. ``on_line(stream, line)`` is called for each output line as it arrives.
        A timeout always raises; a non-zero exit raises :class:`CommandFailed` when ``check`` is
        true.
        """
        inner = cmd
        if timeout is not None:
            # sshd ignores "signal" requests for root sessions, so the host enforces the deadline
            # itself: coreutils timeout(1) kills the command's whole process group.
            inner = f"timeout -s KILL {math.ceil(timeout) + 1} sh -c {quote(cmd)}"
        line, prefix = self._wrap(inner, sudo, env)
        log.debug("%s: run%s: %s", self.host, " (sudo)" if self._use_sudo(sudo) else "", cmd)
        try:
            rc, out, err = self._exec(
                line,
                stdin_prefix=prefix,
                stdin=stdin,
                timeout=timeout,
                on_line=on_line,
                idempotent=idempotent,
            )
        except _Lost as e:
            res = Result(
                self.host, cmd, -1, e.stdout.decode(errors="replace"), e.stderr.decode(errors="replace")
            )
            raise CommandFailed(
                f"connection lost while running: {brief(cmd)}",
                result=res,
                hint=lost_hint(self.host, "this command"),
                link_lost=True,
            ) from e.cause
        except _Timeout as e:
            res = Result(
                self.host,
                cmd,
                -1,
                e.stdout.decode(errors="replace"),
                e.stderr.decode(errors="replace"),
            )
            raise CommandFailed(
                f"command timed out after {timeout:g}s: {brief(cmd)}",
                result=res,
                hint="raise the step timeout, or check why the command hangs on the host",
            ) from None
        result = Result(self.host, cmd, rc, out.decode(errors="replace"), err.decode(errors="replace"))
        if check and rc != 0:
            raise CommandFailed(_failure_message(result), result=result)
        return result

    def _exec(
        self,
        command: str,
        *,
        stdin_prefix: bytes = b"",
        stdin: bytes | BinaryIO | None = None,
        timeout: float | None = None,
        on_line: LineCallback | None = None,
        progress: Progress | None = None,
        idempotent: bool = False,
    ) -> tuple[int, bytes, bytes]:
        """Run a ready-made command line; if the link dies while it runs, run it again on a re-dialled
        transport only when ``idempotent`` and stdin can be sent again (bytes, not a stream), until
        ``reconnect_window`` is spent. Otherwise :class:`_Lost` tells the caller it may have run."""
        replayable = stdin is None or isinstance(stdin, bytes | bytearray)
        deadline: float | None = None
        while True:
            try:
                return self._exec_once(
                    command,
                    stdin_prefix=stdin_prefix,
                    stdin=stdin,
                    timeout=timeout,
                    on_line=on_line,
                    progress=progress,
                )
            except _Lost as lost:
                if not (idempotent and replayable):
                    raise
                if deadline is None:
                    deadline = time.monotonic() + self.reconnect_window
                elif time.monotonic() >= deadline:
                    raise
                log.info(
                    "%s: connection lost while running an idempotent command (%s); running it again",
                    self.host,
                    lost.cause or "transport closed",
                )

    def _exec_once(
        self,
        command: str,
        *,
        stdin_prefix: bytes,
        stdin: bytes | BinaryIO | None,
        timeout: float | None,
        on_line: LineCallback | None,
        progress: Progress | None,
    ) -> tuple[int, bytes, bytes]:
        """Run a ready-made command line, reading stdout and stderr concurrently (no deadlock)."""
        with self._sessions:
            chan = self._open_session()
            try:
                try:
                    chan.exec_command(command)
                except (paramiko.SSHException, EOFError, OSError) as e:
                    if chan.get_transport().is_active():
                        raise ConnectError(
                            f"the host refused to run a command on an open channel: {e}",
                            host=self.host,
                            step="run",
                            hint="check sshd's log on the host (a ForceCommand or a failing shell?)",
                        ) from e
                    raise _Lost(b"", b"", e) from e
                streams = {
                    "stdout": _Drain(chan.recv, "stdout", on_line),
                    "stderr": _Drain(chan.recv_stderr, "stderr", on_line),
                }
                threads = [
                    threading.Thread(target=d.run, name=f"ssh-{self.host}-{name}", daemon=True)
                    for name, d in streams.items()
                ]
                writer = _Feed(chan, stdin_prefix, stdin, self._count, progress, abort=self._kill)
                threads.append(
                    threading.Thread(target=writer.run, name=f"ssh-{self.host}-stdin", daemon=True)
                )
                for th in threads:
                    th.start()
                ended = self._wait_status(chan, timeout, [*streams.values(), writer])
                if ended != "exited":
                    if ended == "timeout":
                        self._kill(chan)
                    chan.close()
                    for th in threads:
                        th.join(1.0)
                    out, err = bytes(streams["stdout"].buf), bytes(streams["stderr"].buf)
                    if ended == "timeout":
                        raise _Timeout(out, err)
                    raise _Lost(out, err, TimeoutError(f"no answer from {self.host} on a silent link"))
                rc = chan.recv_exit_status()
                self._wait_output(chan, threads[:2], list(streams.values()))
                writer_thread = threads[2]
                writer_thread.join(_OUTPUT_GRACE)
                out, err = bytes(streams["stdout"].buf), bytes(streams["stderr"].buf)
                if writer.local_error is not None:
                    # the controller could not read what it was sending: its disk, not the host
                    raise controller_io_error(
                        writer.local_error,
                        doing="reading the data sent to " + self.host + " from",
                        path=_source_name(stdin),
                        step="run",
                    ) from writer.local_error
                if writer.error is not None:
                    log.debug("%s: stdin not fully delivered (%s); rc=%d", self.host, writer.error, rc)
                if rc == -1 and not chan.get_transport().is_active():
                    raise _Lost(out, err, None)
                return rc, out, err
            finally:
                chan.close()

    def _wait_status(
        self, chan: paramiko.Channel, timeout: float | None, activity: Sequence[_Drain | _Feed]
    ) -> str:
        """Wait for the command's exit: "exited", "timeout", or "lost" when the link died under it.

        A partition loses packets without a reset, so a channel waiting for its command would wait until
        TCP gives up (about 15 minutes). As ssh's ServerAliveInterval does, a command that has been silent
        both ways for ``keepalive`` seconds has its link asked for an answer (:meth:`_link_answers`);
        none within ``connect_timeout`` means the link is gone.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        every = max(float(self.keepalive), 1.0)
        while True:
            left = every if deadline is None else min(every, deadline - time.monotonic())
            if left <= 0:
                return "timeout"
            if chan.status_event.wait(left):
                return "exited"
            quiet = time.monotonic() - max(a.last for a in activity)
            if quiet >= every and not self._link_answers(chan.get_transport()):
                return "lost"

    def _link_answers(self, t: paramiko.Transport) -> bool:
        """One round trip on ``t`` (an OpenSSH ``keepalive@openssh.com`` request that wants a reply, which
        sshd answers with a refusal); one probe at a time per connection, shared by its silent channels
        (a reply within the last ``keepalive`` seconds answers for all of them). No reply within
        ``connect_timeout``: ``t`` is retired and closed, so its other channels end too."""
        with self._probe_lock:
            if not t.is_active():
                return False
            answered, when = self._answered
            if answered is t and when > time.monotonic() - self.keepalive:
                return True
            asked = threading.Thread(
                target=t.global_request,
                args=("keepalive@openssh.com",),
                kwargs={"wait": True},
                name=f"ssh-{self.host}-alive",
                daemon=True,
            )
            asked.start()
            asked.join(self.connect_timeout)
            if not asked.is_alive() and t.is_active():
                self._answered = (t, time.monotonic())
                return True
        log.info("%s: no answer on the SSH link for %ss; it is gone", self.host, self.connect_timeout)
        self._retire(t)
        t.close()  # the probe thread returns once the transport is inactive
        return False

    def _wait_output(
        self, chan: paramiko.Channel, readers: list[threading.Thread], drains: list[_Drain]
    ) -> None:
        while any(th.is_alive() for th in readers):
            for th in readers:
                th.join(0.2)
            quiet = time.monotonic() - max(d.last for d in drains)
            if quiet > _OUTPUT_GRACE and any(th.is_alive() for th in readers):
                log.debug(
                    "%s: command exited but its output stays open (a background process?); "
                    "closing the channel",
                    self.host,
                )
                chan.close()
                for th in readers:
                    th.join(1.0)
                return

    def _kill(self, chan: paramiko.Channel) -> None:
        """Ask sshd to SIGKILL the timed-out command (an RFC 4254 "signal" request)."""
        m = paramiko.Message()
        m.add_byte(paramiko.common.cMSG_CHANNEL_REQUEST)
        m.add_int(chan.remote_chanid)
        m.add_string("signal")
        m.add_boolean(False)
        m.add_string("KILL")
        try:
            chan.transport._send_user_message(m)
        except (OSError, EOFError, paramiko.SSHException) as e:
            log.debug("%s: could not signal timed-out command: %s", self.host, e)

    # ----------------------------------------------------------------- files

    def sha256(self, remote_path: str, *, sudo: bool | None = None) -> str | None:
        """sha256 of a remote regular file, or None when it does not exist."""
        p = quote(remote_path)
        res = self.run(f"if [ -f {p} ]; then sha256sum -- {p} | cut -c1-64; fi", sudo=sudo, idempotent=True)
        out = res.stdout.strip()
        return out or None

    def get(self, remote_path: str, *, sudo: bool | None = None) -> bytes:
        """Read a whole remote file (raises CommandFailed if it is missing)."""
        line, prefix = self._wrap(f"cat -- {quote(remote_path)}", sudo, None)
        log.debug("%s: get %s", self.host, remote_path)
        try:
            rc, out, err = self._exec(line, stdin_prefix=prefix, idempotent=True)
        except _Lost as e:
            res = Result(self.host, f"cat -- {remote_path}", -1, "", e.stderr.decode(errors="replace"))
            raise CommandFailed(
                f"connection lost while reading {remote_path}",
                result=res,
                hint=lost_hint(self.host, f"reading {remote_path}"),
                link_lost=True,
            ) from e.cause
        if rc != 0:
            res = Result(self.host, f"cat -- {remote_path}", rc, "", err.decode(errors="replace"))
            raise CommandFailed(_failure_message(res), result=res)
        return out

    def put(
        self,
        data: bytes | Path,
        remote_path: str,
        *,
        mode: int = 0o644,
        sudo: bool | None = None,
        progress: Progress | None = None,
    ) -> bool:
        """Upload ``data`` to ``remote_path`` unless the host already has exactly that content.

        Returns False when nothing had to change (same sha256 and mode). Otherwise the content goes
        to a temp file next to the target, is verified by sha256 on the host, chmod-ed and renamed
        into place with ``mv -f``: an interrupted upload never leaves a half-written
        ``remote_path``. Uses SFTP when the login user writes the file itself, or streams through
        ``cat`` under sudo otherwise. ``progress(bytes_so_far)`` is called after every chunk.
        """
        if not remote_path or remote_path.endswith("/"):
            raise UsageError(f"invalid remote path {remote_path!r}", hint="give a file path")
        digest, size = _sha256_local(data)
        directory = posixpath.dirname(remote_path) or "."
        p, d = quote(remote_path), quote(directory)
        probe = (
            f"if [ -d {p} ]; then echo 'sealkit: destination is a directory' >&2; exit 21; fi; "
            f"mkdir -p -- {d} && if [ -f {p} ]; then sha256sum -- {p} | cut -c1-64; "
            f"stat -c %a -- {p}; fi"
        )
        have = self.run(probe, sudo=sudo, idempotent=True).stdout.split()  # mkdir -p and reads only
        want_mode = format(mode & 0o7777, "o")
        if len(have) == 2 and have[0] == digest:
            if have[1] == want_mode:
                log.debug("%s: put %s: unchanged (sha256 %s)", self.host, remote_path, digest[:12])
                return False
            self.run(f"chmod {want_mode} -- {p}", sudo=sudo, idempotent=True)
            return True
        # The upload lands in a fresh 0700 directory next to the target: nobody else can open the
        # partial file (it may be a private key), and the final rename stays on one filesystem.
        base = posixpath.basename(remote_path)
        tmpdir = posixpath.join(directory, f".{base}.sealkit-{secrets.token_hex(4)}.tmp")
        tmp = posixpath.join(tmpdir, "data")
        stale = "." + re.sub(r"([*?\[\]\\])", r"\\\1", base) + ".sealkit-*.tmp"
        # The expected sha256 comes on stdin, never in argv: ``ps`` on the host would show it, and for a
        # file holding a chosen password it allows an offline guess.
        finish = (
            f"h=$(sha256sum -- {quote(tmp)} | cut -c1-64); "
            f'if [ "$h" != "$want" ]; then rm -rf -- {quote(tmpdir)}; '
            'echo "sealkit: sha256 mismatch after upload" >&2; '
            "exit 22; fi; "
            # temps of uploads interrupted long ago (link lost) would pile up: drop them
            f"find {d} -maxdepth 1 -name {quote(stale)} -mmin +60 -exec rm -rf {{}} + 2>/dev/null; "
            f"chmod {want_mode} -- {quote(tmp)} && mv -f -- {quote(tmp)} {p} && "
            f"rmdir -- {quote(tmpdir)}"
        )
        log.debug("%s: put %s (%d bytes, sha256 %s)", self.host, remote_path, size, digest[:12])
        want = f"{digest}\n".encode()
        if self._use_sudo(sudo):
            self._put_stream(data, tmpdir, tmp, want, finish, remote_path, progress)
        else:
            self._put_sftp(data, tmpdir, tmp, want, finish, remote_path, progress)
        return True

    def _put_stream(
        self,
        data: bytes | Path,
        tmpdir: str,
        tmp: str,
        want: bytes,
        finish: str,
        remote_path: str,
        progress: Progress | None,
    ) -> None:
        # stdin: [sudo password line] the expected sha256 line (read by ``finish``'s ``read``, which the
        # shell does byte by byte on a pipe), then the payload for ``cat``
        script = (
            f"trap 'rm -rf -- {quote(tmpdir)}' EXIT; mkdir -m 700 -- {quote(tmpdir)} && "
            f"{{ {_READ_WANT} cat > {quote(tmp)}; }} && {finish}"
        )
        line, prefix = self._wrap(script, True, None)
        try:
            with _open_source(data) as src:
                rc, _, err = self._exec(line, stdin_prefix=prefix + want, stdin=src, progress=progress)
        except _Lost as e:
            res = Result(self.host, f"put {remote_path}", -1, "", e.stderr.decode(errors="replace"))
            raise CommandFailed(
                f"connection lost while uploading {remote_path}",
                result=res,
                hint=lost_hint(self.host, f"the upload of {remote_path} (the target is untouched)"),
                link_lost=True,
            ) from e.cause
        if rc != 0:
            text = err.decode(errors="replace")
            res = Result(self.host, f"put {remote_path}", rc, "", text)
            raise CommandFailed(
                _failure_message(res),
                result=res,
                hint=remote_write_hint(text, posixpath.dirname(remote_path) or ".", "root (sudo)"),
            )

    def _put_sftp(
        self,
        data: bytes | Path,
        tmpdir: str,
        tmp: str,
        want: bytes,
        finish: str,
        remote_path: str,
        progress: Progress | None,
    ) -> None:
        with self._sessions:
            sftp = self._open_sftp()
            try:
                sftp.mkdir(tmpdir, mode=0o700)
                self._sftp_write(sftp, data, tmp, progress)
            except BaseException as e:
                # Interrupted (link lost, Ctrl-C): the target is untouched; try to drop the temp.
                self._sftp_cleanup(sftp, tmpdir, tmp)
                if not isinstance(e, OSError | EOFError | paramiko.SSHException):
                    raise
                raise self._sftp_failure(e, remote_path, posixpath.dirname(tmpdir)) from e
            finally:
                sftp.close()
        # the expected digest is protocol, not payload: it goes as a stdin prefix (not counted as sent)
        line, _ = self._wrap(f"{_READ_WANT} {finish}", False, None)
        try:
            rc, _, err = self._exec(line, stdin_prefix=want)
        except _Lost as e:
            res = Result(self.host, f"put {remote_path}", -1, "", e.stderr.decode(errors="replace"))
            raise CommandFailed(
                f"connection lost while moving the upload into {remote_path}",
                result=res,
                hint=lost_hint(self.host, f"the upload of {remote_path}"),
                link_lost=True,
            ) from e.cause
        if rc != 0:
            text = err.decode(errors="replace")
            res = Result(self.host, f"put {remote_path}", rc, "", text)
            raise CommandFailed(
                _failure_message(res),
                result=res,
                hint=remote_write_hint(text, posixpath.dirname(remote_path) or ".", self.login_user),
            )

    def _sftp_failure(self, e: BaseException, remote_path: str, directory: str) -> SealkitError:
        """Why an SFTP upload failed, with the fix for that cause: the link, a permission, or the disk."""
        if not self.connected:
            return StepFailed(
                f"connection lost while uploading {remote_path}: {type(e).__name__}: {e}",
                host=self.host,
                step="put",
                hint=lost_hint(self.host, f"the upload of {remote_path} (the target is untouched)"),
            )
        code = getattr(e, "errno", None)
        if code in (errno.EACCES, errno.EPERM):
            hint = f"let {self.login_user} write {directory} on the host (or upload with sudo), then re-run"
        elif code == errno.ENOENT:
            hint = f"{directory} vanished on the host while uploading: re-run"
        else:
            # SFTP v3 reports a full or read-only disk only as a generic "Failure"
            hint = (
                f"the host's SFTP server refused the write (a full or read-only disk?): check "
                f"`df -h {directory}` and mounts on the host, then re-run"
            )
        return StepFailed(
            f"upload to {remote_path} failed: {type(e).__name__}: {e}", host=self.host, step="put", hint=hint
        )

    def _sftp_cleanup(self, sftp: paramiko.SFTPClient, tmpdir: str, tmp: str) -> None:
        for remove, path in ((sftp.remove, tmp), (sftp.rmdir, tmpdir)):
            try:
                remove(path)
            except (OSError, EOFError, paramiko.SSHException) as e:
                log.debug("%s: could not remove temp %s: %s", self.host, path, e)

    def _open_sftp(self) -> paramiko.SFTPClient:
        """An SFTP client on a new channel (re-dialled like any channel: see :meth:`_open_session`)."""
        chan = self._open_session()
        try:
            chan.invoke_subsystem("sftp")
            return paramiko.SFTPClient(chan)
        except (paramiko.SSHException, EOFError, OSError) as e:
            chan.close()
            if not chan.get_transport().is_active():
                raise ConnectError(
                    f"connection lost while opening SFTP: {e}",
                    host=self.host,
                    step="put",
                    hint=lost_hint(self.host, "an upload (the target is untouched)"),
                ) from e
            raise ConnectError(
                f"cannot open SFTP: {e}",
                host=self.host,
                step="put",
                hint="enable the sftp subsystem in sshd_config (Subsystem sftp internal-sftp)",
            ) from e

    def _sftp_write(
        self, sftp: paramiko.SFTPClient, data: bytes | Path, tmp: str, progress: Progress | None
    ) -> None:
        sent = 0
        with _open_source(data) as src:
            f = sftp.open(tmp, "wb")
            try:
                f.set_pipelined(True)
                while chunk := _read_local(src, CHUNK, self.host):
                    f.write(chunk)
                    sent += len(chunk)
                    self._count(len(chunk))
                    if progress is not None:
                        progress(sent)
            finally:
                f.close()


class _HopError(Exception):
    """A transient failure reaching a jump host (kept apart to name the hop in the final error)."""

    def __init__(self, hop: str, cause: BaseException) -> None:
        super().__init__(f"{hop}: {cause}")
        self.hop = hop
        self.cause = cause


class _Lost(Exception):
    """The transport died after the command was sent: it may or may not have run."""

    def __init__(self, stdout: bytes, stderr: bytes, cause: BaseException | None) -> None:
        super().__init__(f"connection lost: {cause}" if cause else "connection lost")
        self.stdout = stdout
        self.stderr = stderr
        self.cause = cause


class _Timeout(Exception):
    def __init__(self, stdout: bytes, stderr: bytes) -> None:
        super().__init__("timeout")
        self.stdout = stdout
        self.stderr = stderr


class _Drain:
    """Reads one output stream to EOF, optionally reporting whole lines as they arrive."""

    def __init__(self, recv: Callable[[int], bytes], name: str, on_line: LineCallback | None) -> None:
        self.recv = recv
        self.name = name
        self.on_line = on_line
        self.buf = bytearray()
        self.last = time.monotonic()
        self._pending = b""

    def run(self) -> None:
        while True:
            try:
                data = self.recv(65536)
            except (OSError, EOFError, paramiko.SSHException) as e:
                log.debug("%s reader stopped: %s", self.name, e)
                break
            if not data:
                break
            self.last = time.monotonic()
            self.buf += data
            if self.on_line is not None:
                self._emit(data)
        if self.on_line is not None and self._pending:
            self.on_line(self.name, self._pending.decode(errors="replace"))

    def _emit(self, data: bytes) -> None:
        assert self.on_line is not None
        *lines, self._pending = (self._pending + data).split(b"\n")
        for ln in lines:
            self.on_line(self.name, ln.decode(errors="replace").rstrip("\r"))


class _Feed:
    """Writes the stdin prefix (sudo password) then the payload, then EOF."""

    def __init__(
        self,
        chan: paramiko.Channel,
        prefix: bytes,
        data: bytes | BinaryIO | None,
        count: Callable[[int], None],
        progress: Progress | None,
        abort: Callable[[paramiko.Channel], None] | None = None,
    ) -> None:
        self.chan = chan
        self.prefix = prefix
        self.data = data
        self.count = count
        self.progress = progress
        self.abort = abort
        self.error: BaseException | None = None
        #: when the host last took a chunk (a full window blocks sendall until it answers): liveness
        self.last = time.monotonic()
        #: the controller could not read its own payload (disk error): the command is killed, never fed
        #: a truncated stdin it might take for the whole
        self.local_error: OSError | None = None

    def _read(self, src: BinaryIO) -> bytes:
        try:
            return src.read(CHUNK)
        except OSError as e:
            self.local_error = e
            if self.abort is not None:
                self.abort(self.chan)
            self.chan.close()
            raise

    def run(self) -> None:
        try:
            if self.prefix:
                self.chan.sendall(self.prefix)
            if self.data is not None:
                src = io.BytesIO(self.data) if isinstance(self.data, bytes) else self.data
                sent = 0
                while chunk := self._read(src):
                    self.chan.sendall(chunk)
                    self.last = time.monotonic()
                    sent += len(chunk)
                    self.count(len(chunk))
                    if self.progress is not None:
                        self.progress(sent)
            self.chan.shutdown_write()
        except (OSError, EOFError, paramiko.SSHException) as e:
            # The command may exit without reading all its input (``head``); the caller sees the rc.
            if self.local_error is None:
                self.error = e


def _source_name(stdin: object) -> str:
    """The controller file behind a stdin stream, for messages (a spooled temp file has no name)."""
    name = getattr(stdin, "name", None)
    return name if isinstance(name, str) else f"a temporary file under {tempfile.gettempdir()}"


def _read_local(src: BinaryIO, n: int, host: str) -> bytes:
    """A chunk of the controller's payload; a read error is the controller's, never the host's."""
    try:
        return src.read(n)
    except OSError as e:
        if not is_controller_io(e):
            raise
        raise controller_io_error(
            e, doing=f"reading the data sent to {host} from", path=_source_name(src), step="put"
        ) from e


@contextlib.contextmanager
def _open_source(data: bytes | Path) -> Iterator[BinaryIO]:
    if isinstance(data, bytes | bytearray | memoryview):
        yield io.BytesIO(bytes(data))
    else:
        with open(data, "rb") as f:
            yield f


def _sha256_local(data: bytes | Path) -> tuple[str, int]:
    """sha256 and size of the payload, streamed for files so big images never sit in memory."""
    if isinstance(data, bytes | bytearray | memoryview):
        return hashlib.sha256(data).hexdigest(), len(data)
    if not isinstance(data, Path):
        raise UsageError(
            f"put() takes bytes or a pathlib.Path, not {type(data).__name__}",
            hint="wrap file names in pathlib.Path",
        )
    h = hashlib.sha256()
    size = 0
    try:
        with open(data, "rb") as f:
            while chunk := f.read(1024 * 1024):
                h.update(chunk)
                size += len(chunk)
    except OSError as e:
        raise UsageError(f"cannot read {data}: {e}", hint="check the local file") from e
    return h.hexdigest(), size
