"""The fix these benchmarks propose for sealkit, applied from outside: TCP_NODELAY on SSH sockets.

Without it, Nagle's algorithm holds back a small SSH packet until the previous one is acknowledged,
and the peer delays that ACK by up to 40 ms: each exec on an open connection costs ~44 ms instead of
~3 ms on the lab, and the handshake ~64 ms instead of ~20 ms. OpenSSH sets TCP_NODELAY; paramiko
does not.
"""

from __future__ import annotations

import socket


def enable() -> None:
    """Make sealkit's Connection set TCP_NODELAY on every TCP socket it opens."""
    from sealkit.ssh import connection

    orig = connection.Connection._open_sock

    def _open_sock(self, ep, via, timeout):  # type: ignore[no-untyped-def]
        sock = orig(self, ep, via, timeout)
        if isinstance(sock, socket.socket):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock

    connection.Connection._open_sock = _open_sock  # type: ignore[method-assign]
