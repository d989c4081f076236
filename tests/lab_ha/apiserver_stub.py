"""A stand-in for kube-apiserver's TLS front door, run ON lab hosts (python3 stdlib only).

Serves ``/healthz`` -> ``ok`` (what the LB's health check asks) and ``/who`` -> this server's name
(so a client can tell which master answered). One request per connection, like a fresh client each
time.

Usage: python3 apiserver_stub.py NAME BIND_IP PORT CERT KEY
"""

from __future__ import annotations

import http.server
import ssl
import sys


def main(argv: list[str]) -> int:
    name, bind, port, cert, key = argv
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            body = {"/healthz": b"ok", "/who": name.encode()}.get(self.path)
            self.send_response(200 if body is not None else 404)
            body = body if body is not None else b"not found"
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(body)
            self.close_connection = True

        def log_message(self, fmt: str, *args: object) -> None:
            return

    class Server(http.server.ThreadingHTTPServer):
        daemon_threads = True

        def get_request(self):  # type: ignore[no-untyped-def]
            sock, addr = self.socket.accept()
            # handshake in the handler thread, so a slow or broken client cannot stall accept()
            return ctx.wrap_socket(sock, server_side=True, do_handshake_on_connect=False), addr

        def handle_error(self, request: object, client_address: object) -> None:
            return  # health checks close abruptly; nothing to report

    srv = Server((bind, int(port)), Handler)
    srv.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
