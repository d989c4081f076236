"""The relay's hop: the helper program each relay host runs, and what the controller feeds it.

Split from :mod:`sealkit.engine.distribute` (which decides who gets what, and copies directly) because
this is a different concern: moving one byte stream host to host over mutually pinned TLS, fast. What
runs on a host is one stdlib-only python3 program (:data:`RELAY_HELPER`), so a host needs nothing
installed; everything it must trust (sums, names, the key pair, tokens) comes over its own SSH session.
A hop's CPU is what limits a chain where hosts share CPUs (the lab): the helper moves ciphertext in
large pieces through memory BIOs rather than one system call per TLS record, and hashes and writes
each piece as it passes on.
"""

from __future__ import annotations

import datetime
import json
import secrets
import tarfile
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sealkit.engine.distribute import Entry

#: relay topology: 1 = a chain (each host forwards to one next host), k > 1 = a k-ary tree
RELAY_FANOUT = 1
#: a chain hop that cannot reach its next host tries up to this many hosts further down the chain
RELAY_CANDIDATES = 3


#: The relay helper: a short python3 program run on each relay host with ``python3 -c``. Its argv holds
#: only the role and the address to bind; the one-time tokens, the run's TLS key pair, the peer list, the
#: tar layout and the control files come on stdin from the controller over SSH (``ps`` never shows them).
#:
#: ``head``: reads its config (a length line, then JSON), then the tar stream, from stdin (the SSH channel).
#: ``listen``: binds its own cluster IP on an ephemeral port, prints ``PORT n``, reads its config, then
#: accepts one upstream host over TLS 1.3 with both sides presenting the run's certificate (made by the
#: controller for this chain, shipped over SSH, pinned by its exact bytes), followed by the listener's
#: token (``OK`` back). A peer that fails any of this is refused and logged (``REFUSED``), and the
#: listener keeps waiting for the genuine upstream: a stranger connecting first cannot kill the hop.
#: Either way it connects to its downstream host(s) (the next candidate if one fails), then passes the
#: tar on byte for byte and writes each member's content into the staging dir at the offsets the layout
#: from the controller gives — names, sizes and modes never come from the TCP stream. At the end of the
#: stream (exactly ``size`` bytes, else it fails) it writes the control files into the staging dir,
#: verifies every file against the controller's sums and runs the commit script (``set -e``).
#: A local failure does not stop forwarding; a source that closes early or stays silent ``IDLE`` seconds
#: ends it, downstream too. It prints ``BEAT`` every ``BEAT`` seconds (the controller gives up on a
#: host that goes silent), and it dies with its SSH session: stdin closing (listeners), stdout gone (a
#: beat fails), SIGHUP/SIGTERM or its parent's death all end it, and its staging dir is removed.
RELAY_HELPER = r"""
import ctypes, fcntl, hashlib, hmac, json, os, resource, select, shutil, signal, socket, ssl
import subprocess, sys, tempfile, threading, time
PIPE = 1 << 20
TLS_IO = 1 << 18  # ciphertext per recv/send: the memory BIOs stay small enough for the CPU's caches
IDLE = 20
CONNECT = 5.0
BEAT = 2.0


class Fail(Exception):
    def __init__(self, step, msg):
        Exception.__init__(self, msg)
        self.step = step


def say(line):
    os.write(1, (line.replace("\n", " ") + "\n").encode())


def on_signal(signum, frame):
    raise Fail("session", "the SSH session ended (signal %d)" % signum)


def die_with_session():
    for sig in (signal.SIGHUP, signal.SIGTERM):
        signal.signal(sig, on_signal)
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGTERM))  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    threading.Thread(target=beats, daemon=True).start()


def beats():
    while True:
        time.sleep(BEAT)
        try:
            say("BEAT")
        except OSError:  # stdout is gone: so is the controller's session
            os.kill(os.getpid(), signal.SIGTERM)
            return


def readable(fds, timeout, step, what):
    r = select.select(fds, [], [], max(0.0, timeout))[0]
    if not r:
        raise Fail(step, "%s for %ds" % (what, IDLE))
    return r


def read_exact(fd, n, step):
    buf = b""
    while len(buf) < n:
        readable([fd], IDLE, step, "no configuration from the controller")
        chunk = os.read(fd, n - len(buf))
        if not chunk:
            raise Fail(step, "stdin closed by the controller")
        buf += chunk
    return buf


def read_config():
    line = b""
    while not line.endswith(b"\n"):
        line += read_exact(0, 1, "config")
    return json.loads(read_exact(0, int(line), "config"))


def recv_exact(tls, n):
    # a short answer during the handshake phase (token, OK): fewer than n bytes if the peer closes
    buf = bytearray(n)
    got = 0
    while got < n:
        k = tls.read_blocking(memoryview(buf)[got:])
        if not k:
            break
        got += k
    return bytes(buf[:got])


class Tls:
    # TLS over memory BIOs, the socket I/O done here in large pieces. On a socket, OpenSSL reads each
    # 16 KiB record with two recv calls (header, body) and sends it with one send, and the caller polled
    # before each record: ~130,000 system calls per 512 MiB hop. Here one recv or send moves up to
    # TLS_IO bytes (~2,500 calls) and records are decrypted from memory. The TLS is the same.
    def __init__(self, sock, ctx, server_side):
        self.sock = sock
        self.inc, self.out = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.obj = ctx.wrap_bio(self.inc, self.out, server_side=server_side)
        self.raw = memoryview(bytearray(TLS_IO))
        self.eof = False

    def fileno(self):
        return self.sock.fileno()

    def close(self):
        self.sock.close()

    def getpeercert(self, binary_form=False):
        return self.obj.getpeercert(binary_form)

    def handshake(self):
        # on the socket's own timeout (CONNECT): a peer that stalls the handshake is given up on
        while True:
            try:
                self.obj.do_handshake()
                break
            except ssl.SSLWantReadError:
                self.flush()
                if not self.receive():
                    raise OSError("the peer closed the connection during the TLS handshake")
        self.flush()

    def flush(self):
        data = self.out.read()
        if data:
            self.sock.sendall(data)

    def receive(self):
        # one recv of ciphertext into the incoming BIO: its length, 0 at EOF, None if nothing is ready
        try:
            k = self.sock.recv_into(self.raw)
        except BlockingIOError:
            return None
        if not k:
            self.eof = True
            self.inc.write_eof()
            return 0
        self.inc.write(self.raw[:k])
        return k

    def decrypt(self, view):
        # plaintext into view from what was already received; never waits on the socket
        got, n = 0, len(view)
        while got < n:
            try:
                k = self.obj.read(n - got, view[got:])
            except ssl.SSLWantReadError:
                break
            except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
                if not self.eof:
                    raise
                break  # the peer closed: the caller sees a short stream
            if not k:
                break
            got += k
        return got

    def read_blocking(self, view):
        # handshake phase (blocking socket with a timeout): at least one byte, or 0 at EOF
        while True:
            k = self.decrypt(view)
            if k or self.eof:
                return k
            self.receive()

    def sendall(self, data):
        # encrypt and send all of data, TLS_IO at a time, waiting at most IDLE for room each time
        view = memoryview(data)
        for at in range(0, len(view), TLS_IO):
            self.obj.write(view[at:at + TLS_IO])
            self.flush()

    def stream_mode(self):
        # after the handshake: non-blocking socket, waits done by the caller's select with IDLE
        self.sock.setblocking(False)
        self.flush = self.flush_nonblocking

    def flush_nonblocking(self):
        view = memoryview(self.out.read())
        while view:
            try:
                view = view[self.sock.send(view):]
            except BlockingIOError:
                if not select.select([], [self.sock], [], IDLE)[1]:
                    raise socket.timeout("the next host took nothing for %ds" % IDLE)


def contexts(cfg):
    # the key pair lives in a private temp file only while it is loaded
    d = tempfile.mkdtemp(prefix="sealkit-relay-")
    try:
        path = os.path.join(d, "pair.pem")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(cfg["tls_key"] + cfg["tls_cert"])
        out = []
        for side in (ssl.PROTOCOL_TLS_SERVER, ssl.PROTOCOL_TLS_CLIENT):
            ctx = ssl.SSLContext(side)
            ctx.minimum_version = ssl.TLSVersion.TLSv1_3
            if side == ssl.PROTOCOL_TLS_CLIENT:
                ctx.check_hostname = False  # the peer is pinned by its exact certificate instead
            ctx.verify_mode = ssl.CERT_REQUIRED
            ctx.load_cert_chain(path)
            ctx.load_verify_locations(cadata=cfg["tls_cert"])
            out.append(ctx)
        return out
    finally:
        shutil.rmtree(d, ignore_errors=True)


class Refused(Exception):
    pass


def pinned(sock, der):
    if sock.getpeercert(binary_form=True) != der:
        raise Refused("the peer's certificate is not this run's")


def accept(ls, token, ctx, der):
    deadline = time.monotonic() + IDLE
    refused = None
    while True:
        r = select.select([ls, 0], [], [], max(0.0, deadline - time.monotonic()))[0]
        if not r:
            if refused:
                raise Fail("auth", "%s; no authenticated upstream host within %ds" % (refused, IDLE))
            raise Fail("accept", "no upstream host connected for %ds" % IDLE)
        if ls in r:
            conn, peer = ls.accept()
            conn.settimeout(CONNECT)
            try:
                tls = Tls(conn, ctx, True)
                tls.handshake()
                pinned(tls, der)
                if not hmac.compare_digest(recv_exact(tls, len(token)), token):
                    raise Refused("token mismatch")
                tls.sendall(b"OK")
            except (Refused, OSError, ValueError) as e:
                conn.close()
                why = str(e) if isinstance(e, Refused) else "TLS handshake failed: %s" % e
                refused = "%s from %s" % (why, peer[0])
                say("REFUSED %s %s" % (peer[0], why))
                continue
            ls.close()
            say("ACCEPTED %s" % peer[0])
            tls.stream_mode()
            return tls
        if not os.read(0, 65536):
            if refused:
                raise Fail("auth", "%s; the controller then gave up on this host" % refused)
            raise Fail("accept", "aborted by the controller")


def connect(slots, ctx, der):
    outs = []
    for cands in slots:
        for ip, port, token in cands:
            try:
                sock = socket.create_connection((ip, port), timeout=CONNECT)
                try:
                    s = Tls(sock, ctx, False)
                    s.handshake()
                    pinned(s, der)
                    s.sendall(token.encode())
                    if recv_exact(s, 2) != b"OK":
                        raise OSError("the peer refused the handshake")
                except BaseException:
                    sock.close()
                    raise
            except (Refused, OSError, ValueError) as e:
                say("NEXTFAIL %s %s" % (ip, e or type(e).__name__))
                continue
            say("NEXT %s" % ip)
            s.stream_mode()
            outs.append(Dest(ip, s))
            break
    return outs


class Dest:
    # a consumer of the stream: a downstream TLS socket, or the local file being written (fd changes);
    # with a hash set, what is written to the file is hashed on the way (stream verification)
    def __init__(self, label, sock=None):
        self.label, self.sock, self.error, self.fd, self.hash = label, sock, None, None, None

    def write(self, data):
        if self.sock is not None:
            self.sock.sendall(data)
            return
        view = data
        while view:
            view = view[os.write(self.fd, view):]
        if self.hash is not None:
            self.hash.update(data)


def cpu(who):
    r = resource.getrusage(who)
    return r.ru_utime + r.ru_stime


class Pump:
    # reads the source (the TLS socket from upstream, or stdin for the head) and hands each piece to
    # every live downstream host, then to the local file
    def __init__(self, src, downs):
        self.src, self.downs, self.got = src, downs, 0
        self.buf = bytearray(PIPE)
        self.view = memoryview(self.buf)
        self.local = Dest("local")
        self.engine = "tls"

    def fill(self, n):
        n = min(n, PIPE)
        view = self.view
        if self.src is None:
            readable([0], IDLE, "receive", "no data from the controller")
            k = os.readv(0, [view[:n]])
            while k and k < n and select.select([0], [], [], 0)[0]:
                m = os.readv(0, [view[k:n]])
                if not m:
                    break
                k += m
            return k
        src, k = self.src, 0
        try:
            while True:
                k += src.decrypt(view[k:n])
                if k == n or src.eof:
                    return k
                got = src.receive()
                if got is not None:
                    continue
                if k:
                    return k  # what has come so far: pass it on rather than wait
                r = readable([src, 0], IDLE, "receive", "no data from upstream")
                if src not in r and not os.read(0, 65536):
                    raise Fail("session", "the controller closed this host's session")
        except ssl.SSLError as e:
            raise Fail("receive", "the TLS stream from upstream broke: %s" % e)

    def pump(self, n, fd=None):
        # pass n bytes on downstream; write them to fd too when given
        self.local.fd = fd
        while n:
            k = self.fill(n)
            if not k:
                raise Fail("receive", "the stream ended after %d bytes" % self.got)
            self.got += k
            n -= k
            data = self.view[:k]
            for d in self.downs:
                if d.error is None:
                    try:
                        d.write(data)
                    except OSError as e:
                        d.error = e
            if fd is not None and self.local.error is None:
                try:
                    self.local.write(data)
                except OSError as e:
                    self.local.error = e


def verify(stage, sums):
    for line in sums.splitlines():
        digest, path = line.split("  ", 1)
        h = hashlib.sha256()
        with open(os.path.join(stage, path), "rb") as f:
            while True:
                block = f.read(PIPE)
                if not block:
                    break
                h.update(block)
        if h.hexdigest() != digest:
            raise Fail("verify", "sha256 mismatch: %s" % path)


def main(state):
    role, bind = sys.argv[1], sys.argv[2]
    t0 = time.monotonic()
    die_with_session()
    ls = None
    if role == "listen":
        ls = socket.socket(socket.AF_INET6 if ":" in bind else socket.AF_INET, socket.SOCK_STREAM)
        ls.bind((bind, 0))
        ls.listen(8)
        say("PORT %d" % ls.getsockname()[1])
    cfg = read_config()
    root = cfg["root"]
    sctx, cctx = contexts(cfg)
    der = ssl.PEM_cert_to_DER_cert(cfg["tls_cert"])
    src = accept(ls, cfg["token"].encode(), sctx, der) if ls is not None else None
    if src is None:
        try:
            fcntl.fcntl(0, 1031, PIPE)  # F_SETPIPE_SZ on the pipe from sshd
        except OSError:
            pass
    downs = connect(cfg["slots"], cctx, der)
    hop = src or (downs[0].sock if downs else None)  # whose TLS cipher the stats name
    stage = state["stage"] = os.path.join(root, cfg["stage"])
    os.makedirs(stage)
    p = Pump(src, downs)
    sums = {}
    for line in cfg["control"][".sealkit-sums"].splitlines():
        digest, path = line.split("  ", 1)
        sums[path] = digest
    streamed, bad = cfg["verify"] == "stream", None
    t_first = time.monotonic()
    try:
        for path, header, size, mode, mtime in cfg["layout"]:
            p.pump(header)
            fd = None
            if p.local.error is None:
                full = os.path.join(stage, path)
                try:
                    os.makedirs(os.path.dirname(full), exist_ok=True)
                    fd = os.open(full, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
                except OSError as e:
                    p.local.error = e
            p.local.hash = hashlib.sha256() if streamed and fd is not None else None
            try:
                p.pump(size, fd)
            finally:
                if fd is not None:
                    if p.local.error is None:
                        os.fchmod(fd, mode)
                        os.utime(fd, (mtime, mtime))
                    os.close(fd)
            h = p.local.hash
            if h is not None and p.local.error is None and h.hexdigest() != sums.get(path):
                bad = path
                p.local.error = "sha256 mismatch"  # stop writing here; keep forwarding
            p.pump(-size % 512)
        p.pump(cfg["size"] - p.got)
    finally:
        for d in downs:
            d.sock.close()
    t_last = time.monotonic()
    for d in downs:
        if d.error is not None:
            sys.stderr.write("relay: forwarding to %s failed: %s\n" % (d.label, d.error))
    if bad is not None:
        raise Fail("verify", "sha256 mismatch: %s" % bad)
    if p.local.error is not None:
        raise Fail("extract", "writing into %s failed: %s" % (stage, p.local.error))
    cpu_relay = cpu(resource.RUSAGE_SELF)
    for name, text in cfg["control"].items():
        fd = os.open(os.path.join(stage, name), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(text)
    if streamed:
        pass  # every file was hashed as it was written, against the controller's sums
    elif cfg["verify"] == "hashlib":
        verify(stage, cfg["control"][".sealkit-sums"])
    elif subprocess.call(["sh", "-c", cfg["verify"]], cwd=root) != 0:
        raise Fail("verify", "sha256sum -c failed")
    t_commit = time.monotonic()
    cpu_verify = cpu(resource.RUSAGE_SELF) - cpu_relay + cpu(resource.RUSAGE_CHILDREN)
    if subprocess.call(["sh", "-c", cfg["commit"]], cwd=root) != 0:
        raise Fail("commit", "putting the verified files in place failed")
    state["stage"] = None
    say("DONE " + json.dumps({
        "bytes": p.got, "engine": p.engine, "cipher": hop.obj.cipher()[0] if hop is not None else None,
        "forwarded_to": [d.label for d in downs if d.error is None],
        "setup_s": round(t_first - t0, 3), "stream_s": round(t_last - t_first, 3),
        "verify_s": round(t_commit - t_last, 3), "commit_s": round(time.monotonic() - t_commit, 3),
        "cpu_relay_s": round(cpu_relay, 3), "cpu_verify_s": round(cpu_verify, 3)}))


state = {"stage": None}
code = 1
try:
    main(state)
    code = 0
except Fail as e:
    try:
        say("FAIL %s %s" % (e.step, e))
    except OSError:
        pass
    sys.stderr.write("relay step %s: %s\n" % (e.step, e))
    code = 3
except Exception as e:
    try:
        say("FAIL relay %s: %s" % (type(e).__name__, e))
    except OSError:
        pass
    raise
finally:
    if state["stage"]:
        shutil.rmtree(state["stage"], ignore_errors=True)
sys.exit(code)
"""


@dataclass(frozen=True)
class RelayKeys:
    """A chain's own TLS key pair: made on the controller for one relay, sent to its hosts over SSH only.

    Every hop presents it and accepts only a peer presenting the same certificate, so only the hosts the
    controller told can join, and the payload is encrypted on the hosts' network. It is thrown away with
    the chain (valid one day, never written on the controller).
    """

    cert_pem: str
    key_pem: str = field(repr=False)

    @classmethod
    def generate(cls) -> RelayKeys:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sealkit relay " + secrets.token_hex(8))])
        now = datetime.datetime.now(datetime.UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]),
                critical=False,
            )
            .sign(key, hashes.SHA256())
        )
        return cls(
            cert.public_bytes(serialization.Encoding.PEM).decode(),
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            ).decode(),
        )


def encode_config(cfg: dict[str, Any]) -> bytes:
    """Length line, then JSON: the helper reads exactly that much and no byte of the stream after it."""
    body = json.dumps(cfg, separators=(",", ":")).encode()
    return b"%d\n%s" % (len(body), body)


# ----------------------------------------------------------------------------- topology
def split_chain(ips: Sequence[str], limit: int) -> list[list[str]]:
    """Cut ``ips`` into the fewest chains of at most ``limit`` hosts, of near-equal length.

    No chain has fewer than 2 hosts (a chain of 1 is a direct copy), so an odd count may put one host
    more than ``limit`` in a chain when ``limit`` is 2.
    """
    limit = max(2, limit)
    count = max(1, min(-(-len(ips) // limit), len(ips) // 2))
    chains, start = [], 0
    for i in range(count):
        end = start + (len(ips) - start) // (count - i)
        chains.append(list(ips[start:end]))
        start = end
    return chains


def relay_links(
    ips: Sequence[str], fanout: int = RELAY_FANOUT, candidates: int = RELAY_CANDIDATES
) -> dict[str, list[list[str]]]:
    """Downstream slots of each host: one list of candidate hosts per slot, tried in order.

    A chain (``fanout`` 1) has one slot with the next ``candidates`` hosts, so one dead host is skipped;
    a tree (heap order) has ``fanout`` slots, each with one child.
    """
    if fanout <= 1:
        return {
            ip: [list(ips[i + 1 : i + 1 + candidates])] if i + 1 < len(ips) else []
            for i, ip in enumerate(ips)
        }
    return {
        ip: [[ips[c]] for c in range(fanout * i + 1, min(fanout * i + fanout + 1, len(ips)))]
        for i, ip in enumerate(ips)
    }


def relay_waves(chains: Sequence[list[str]], concurrency: int) -> list[list[list[str]]]:
    """Chains run together while their members fit in ``concurrency`` sessions (a chain is never cut)."""
    waves: list[list[list[str]]] = []
    used = 0
    for chain in chains:
        if waves and used + len(chain) <= concurrency:
            waves[-1].append(chain)
            used += len(chain)
        else:
            waves.append([chain])
            used = len(chain)
    return waves


# ----------------------------------------------------------------------- controller side
class TarStream:
    """A tar of ``files`` generated while it is read (no temp copy), after an optional prefix.

    ``size`` is the tar's exact length (without the prefix), known up front. A local read error ends the
    stream early — the hosts then see a short stream and fail — and is kept in ``error``.
    """

    def __init__(self, rootfs: Path, files: Sequence[Entry]) -> None:
        self._parts: list[bytes | tuple[Path, int]] = []
        #: per member: path, header length, size, mode, mtime (what a relay host writes where)
        self.layout: list[list[Any]] = []
        size = 0
        for e in files:
            path = rootfs / e.path
            info = tarfile.TarInfo(e.path)
            info.size, info.mode, info.mtime = e.size, e.mode, int(path.stat().st_mtime)
            info.uid = info.gid = 0
            info.uname = info.gname = "root"
            header = info.tobuf(tarfile.PAX_FORMAT, tarfile.ENCODING, "surrogateescape")
            pad = -e.size % tarfile.BLOCKSIZE
            self._parts += [header, (path, e.size), b"\0" * pad]
            self.layout.append([e.path, len(header), e.size, e.mode, info.mtime])
            size += len(header) + e.size + pad
        end = 2 * tarfile.BLOCKSIZE
        end += -(size + end) % tarfile.RECORDSIZE
        self._parts.append(b"\0" * end)
        self.size = size + end
        self.read_bytes = 0
        self.error: str | None = None
        self._file: IO[bytes] | None = None

    def prefix(self, data: bytes) -> None:
        self._parts.insert(0, data)

    def read(self, n: int = -1) -> bytes:
        n = n if n > 0 else 1 << 20
        while self._parts and self.error is None:
            part = self._parts[0]
            if isinstance(part, bytes):
                out, rest = part[:n], part[n:]
                if rest:
                    self._parts[0] = rest
                else:
                    self._parts.pop(0)
                if out:
                    self.read_bytes += len(out)
                    return out
                continue
            path, left = part
            try:
                if self._file is None:
                    self._file = path.open("rb")
                data = self._file.read(min(n, left)) if left else b""
            except OSError as err:
                self.error = f"cannot read {path}: {err}"
                break
            if left and not data:
                self.error = f"{path} is shorter than its manifest entry (did the rootfs change?)"
                break
            left -= len(data)
            if left:
                self._parts[0] = (path, left)
            else:
                self._parts.pop(0)
                self._file.close()
                self._file = None
            if data:
                self.read_bytes += len(data)
                return data
        self.close()
        return b""

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


class HeadInput:
    """stdin of the chain's first host: blocks until its config is known (its python3 starts meanwhile,
    in parallel with the listeners'), then gives the config and the tar."""

    def __init__(self, stream: TarStream) -> None:
        self.stream = stream
        self._ready = threading.Event()
        self._aborted = False

    def start(self, config: bytes) -> None:
        self.stream.prefix(config)
        self._ready.set()

    def abort(self) -> None:
        """Give the head EOF instead of a config; no effect once started."""
        if not self._ready.is_set():
            self._aborted = True
            self._ready.set()

    def read(self, n: int = -1) -> bytes:
        self._ready.wait()
        return b"" if self._aborted else self.stream.read(n)


class Gate:
    """stdin of a listening relay host: its config once the controller has it, then EOF when closed.

    EOF before the helper says DONE tells it to give up (the controller's abort, or its session ending):
    it removes its staging dir and exits.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._data = b""
        self._closed = False

    def feed(self, data: bytes) -> None:
        with self._cond:
            if not self._closed:
                self._data = data
                self._cond.notify_all()

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def read(self, n: int = -1) -> bytes:
        with self._cond:
            self._cond.wait_for(lambda: self._data or self._closed)
            out, self._data = self._data, b""
            return out
