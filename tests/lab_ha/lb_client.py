"""A client hammering the apiserver VIP through the node-local LB, run ON a lab worker (stdlib).

Each request is a new TLS connection verified against the test CA with the VIP as the expected name
(so the LB must pass TLS through untouched). One JSON line per request: time, ok, who answered,
error. Runs until STOP_FILE exists.

Usage: python3 lb_client.py VIP PORT CA_FILE LOG_FILE STOP_FILE
"""

from __future__ import annotations

import http.client
import json
import os
import ssl
import sys
import time


def main(argv: list[str]) -> int:
    vip, port, ca, log_path, stop = argv
    ctx = ssl.create_default_context(cafile=ca)  # check_hostname: the VIP must be in the SANs
    with open(log_path, "a", buffering=1, encoding="utf-8") as log:
        while not os.path.exists(stop):
            t = time.time()
            rec: dict[str, object] = {"t": t, "ok": False}
            conn = http.client.HTTPSConnection(vip, int(port), context=ctx, timeout=5)
            try:
                conn.request("GET", "/who")
                resp = conn.getresponse()
                body = resp.read().decode()
                rec.update(ok=resp.status == 200, who=body, status=resp.status)
            except (OSError, http.client.HTTPException) as err:
                rec["err"] = f"{type(err).__name__}: {err}"
            finally:
                conn.close()
            rec["dt"] = round(time.time() - t, 4)
            log.write(json.dumps(rec) + "\n")
            time.sleep(0.02)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
