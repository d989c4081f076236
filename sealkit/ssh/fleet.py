"""Many hosts at once: a pool of persistent connections and a sliding-window executor.

k0sctl runs fixed batches, so the slowest host of a batch holds back the next batch; here a new
host starts the moment any host finishes. Failures are returned per host, never swallowed, so the
caller can report every host's outcome; except a failure of the controller itself (its disk), which is
no host's: that one is raised, so no caller reports healthy hosts as unreachable.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from pathlib import Path
from typing import Any, TypeVar

import paramiko

from sealkit.errors import DISK_ERRNOS, ControllerError, UsageError, controller_io_error
from sealkit.ssh.config import load_ssh_config
from sealkit.ssh.connection import RECONNECT_WINDOW, Connection, JumpPool, Result
from sealkit.ssh.hostkeys import HostKeyPolicy
from sealkit.ssh.target import Target
from sealkit.state import home

log = logging.getLogger("sealkit.ssh")

T = TypeVar("T")
ResultCallback = Callable[[str, Any], None]
FleetLineCallback = Callable[[str, str, str], None]


class Fleet:
    """Persistent connections to a set of hosts, keyed by address, opened lazily.

    ``on_result(address, value_or_exception)`` given to :meth:`map` / :meth:`run` / :meth:`put`
    fires in the calling thread as each host finishes (for progress display).
    """

    def __init__(
        self,
        targets: Iterable[Target],
        *,
        hostkeys: HostKeyPolicy,
        ssh_config: str | os.PathLike[str] | paramiko.SSHConfig | None = None,
        concurrency: int = 32,
        connect_timeout: float = 10,
        keepalive: int = 15,
        retries: int = 3,
        max_sessions: int = 8,
        reconnect_window: float = RECONNECT_WINDOW,
    ) -> None:
        if concurrency < 1:
            raise UsageError(f"concurrency must be >= 1, not {concurrency}", hint="use e.g. 32")
        self.concurrency = concurrency
        self.hostkeys = hostkeys
        self._jumps = JumpPool()
        config = load_ssh_config(ssh_config)
        self._conns: dict[str, Connection] = {}
        for t in targets:
            if t.address in self._conns:
                raise UsageError(
                    f"host {t.address} is listed twice",
                    hint="list every host once in the inventory",
                )
            self._conns[t.address] = Connection(
                t,
                hostkeys=hostkeys,
                ssh_config=config,
                connect_timeout=connect_timeout,
                keepalive=keepalive,
                retries=retries,
                max_sessions=max_sessions,
                jumps=self._jumps,
                reconnect_window=reconnect_window,
            )

    @property
    def addresses(self) -> list[str]:
        """Addresses in inventory order."""
        return list(self._conns)

    def conn(self, address: str) -> Connection:
        """The connection for ``address`` (UsageError when it is not in the fleet)."""
        try:
            return self._conns[address]
        except KeyError:
            raise UsageError(
                f"host {address} is not in this fleet",
                hint=f"known hosts: {', '.join(self._conns) or 'none'}",
            ) from None

    def __len__(self) -> int:
        return len(self._conns)

    def __contains__(self, address: object) -> bool:
        return address in self._conns

    def map(
        self,
        fn: Callable[[Connection], T],
        addresses: Iterable[str] | None = None,
        *,
        on_result: ResultCallback | None = None,
    ) -> dict[str, T | BaseException]:
        """Run ``fn(conn)`` for each host, at most ``concurrency`` at a time, as a sliding window.

        Returns ``{address: return value or the exception it raised}`` in the order given. A
        KeyboardInterrupt cancels hosts not started yet and propagates. A :class:`ControllerError` (the
        controller's disk failed while serving some host, or a raw OSError only a disk gives: ENOSPC,
        EROFS, EDQUOT, EIO) is raised once every host has finished: it is the controller's failure, and
        every caller would otherwise file it under that host.
        """
        order = list(self._conns) if addresses is None else list(dict.fromkeys(addresses))
        conns = [self.conn(a) for a in order]  # validate every address before starting any work
        results: dict[str, T | BaseException] = {}
        if not conns:
            return results
        workers = min(self.concurrency, len(conns))
        pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="sealkit-fleet")
        try:
            pending: dict[Future[T], str] = {pool.submit(fn, c): a for a, c in zip(order, conns, strict=True)}
            while pending:
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for fut in done:
                    address = pending.pop(fut)
                    exc = fut.exception()
                    value: T | BaseException = exc if exc is not None else fut.result()
                    if exc is not None:
                        log.debug("%s: failed: %s", address, exc)
                    results[address] = value
                    if on_result is not None:
                        on_result(address, value)
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        pool.shutdown(wait=True)
        ordered = {a: results[a] for a in order}
        for address, value in ordered.items():
            if isinstance(value, ControllerError):
                raise value
            if isinstance(value, OSError) and value.errno in DISK_ERRNOS:
                # no layer wrapped it (a spool file, a cache): still the controller's disk, not the host's
                where = value.filename or f"{tempfile.gettempdir()} or {home()}"
                raise controller_io_error(value, doing=f"while working for host {address}, at", path=where)
        return ordered

    def run(
        self,
        cmd: str,
        addresses: Iterable[str] | None = None,
        *,
        on_result: ResultCallback | None = None,
        on_line: FleetLineCallback | None = None,
        **kwargs: Any,
    ) -> dict[str, Result | BaseException]:
        """Run one command on many hosts; ``kwargs`` go to :meth:`Connection.run`.

        ``on_line(address, stream, line)`` streams output lines as they arrive (worker threads).
        """

        def one(conn: Connection) -> Result:
            line_cb = None
            if on_line is not None:
                address = conn.target.address

                def line_cb(stream: str, line: str) -> None:
                    on_line(address, stream, line)

            return conn.run(cmd, on_line=line_cb, **kwargs)

        return self.map(one, addresses, on_result=on_result)

    def put(
        self,
        data: bytes | Path,
        remote_path: str,
        addresses: Iterable[str] | None = None,
        *,
        on_result: ResultCallback | None = None,
        **kwargs: Any,
    ) -> dict[str, bool | BaseException]:
        """Content-addressed upload to many hosts; values say whether the host changed."""
        return self.map(lambda c: c.put(data, remote_path, **kwargs), addresses, on_result=on_result)

    @property
    def bytes_sent(self) -> int:
        """Payload bytes sent to all hosts so far."""
        return sum(c.bytes_sent for c in self._conns.values())

    def close(self) -> None:
        """Close every connection, then the shared jump host transports."""
        for c in self._conns.values():
            c.close()
        self._jumps.close()

    def __enter__(self) -> Fleet:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
