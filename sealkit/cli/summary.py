"""Short human summaries of what a verb did: what changed, where, how long, what to do next.

Each function takes the verb's result document (the same one ``-o json`` prints) and returns text; they never
contact anything, so they are tested with plain dicts.
"""

from __future__ import annotations

from typing import Any

from sealkit.cli.render import human_duration, human_size


def _sk(cluster: str) -> str:
    """How the user reaches this cluster again: ``sealkit`` or ``sealkit --cluster NAME``."""
    return "sealkit" if cluster == "default" else f"sealkit --cluster {cluster}"


def _hosts(ips: list[str], word: str) -> str:
    n = len(ips)
    noun = word if n == 1 else word + "s"
    return f"{n} {noun} ({', '.join(ips)})" if ips else f"no {word}s"


def _took(doc: dict[str, Any]) -> str:
    return human_duration(float(doc["duration_s"])) if doc.get("duration_s") is not None else "?"


def app_lines(doc: dict[str, Any]) -> list[str]:
    """One sentence per installed application: where to connect, with which credentials."""
    if not doc.get("apps"):
        return []
    from sealkit.apps.model import sentence

    return [sentence(result) for result in doc["apps"]]


def plan(doc: dict[str, Any]) -> str:
    """A dry run: the phases that would run, in order, and where."""
    phases = doc.get("phases") or []
    lines = [f"dry run: {len(phases)} phase(s) would run; nothing was changed"]
    for ph in phases:
        where = sorted({s.split(" @ ", 1)[-1] for s in ph.get("steps", [])})
        lines.append(f"  {ph['phase']:<20} {ph.get('mode', ''):<9} {', '.join(where)}")
    if doc.get("runtime_plan"):
        from sealkit.engine.dryrun import human_lines

        lines += human_lines(doc["runtime_plan"])
    return "\n".join(lines)


def converge(doc: dict[str, Any], verb: str) -> str:
    """run / apply / add / delete / upgrade."""
    if "phases" in doc and "cluster" not in doc:
        return plan(doc)
    if doc.get("apps") and "runtime" not in doc:
        return "\n".join(app_lines(doc))  # only applications were installed
    cluster = doc.get("cluster", "default")
    what = f"{doc.get('runtime', '?')} {doc.get('version', '')}".strip()
    shape = f"{_hosts(doc.get('masters') or [], 'master')} and {_hosts(doc.get('nodes') or [], 'node')}"
    changed = doc.get("changed_hosts") or []
    head = {
        "upgrade": f"cluster {cluster} runs {what}",
        "delete": f"cluster {cluster} now has {shape}",
    }.get(verb, f"cluster {cluster} is ready: {what} on {shape}")
    if verb == "upgrade":
        head += f" on {shape}"
    lines = [head]
    sent = human_size(int(doc.get("bytes_sent") or 0))
    if changed:
        lines.append(f"  changed {len(changed)} host(s): {', '.join(changed)}")
    else:
        lines.append("  nothing to change: every host already matched")
    lines.append(f"  sent {sent} of cluster image content, took {_took(doc)}")
    lines += app_lines(doc)
    sk = _sk(cluster)
    conf = f"{cluster}.kubeconfig"
    lines += [
        "next:",
        f"  {sk} kubeconfig > {conf}",
        f"  kubectl --kubeconfig {conf} get nodes",
        f"  {sk} check",
    ]
    return "\n".join(lines)


def reset(doc: dict[str, Any], cluster: str) -> str:
    if "phases" in doc and "reset" not in doc:
        return plan(doc)
    cleaned = doc.get("reset") or []
    lines = [f"cluster {cluster} is gone: cleaned {_hosts(cleaned, 'host')}, took {_took(doc)}"]
    missed = doc.get("unreachable") or []
    if missed:
        lines.append(f"  NOT cleaned (unreachable): {', '.join(missed)} -- clean them by hand or re-add them")
    lines.append("  its state on this controller was removed; `sealkit clusters` lists the others")
    return "\n".join(lines)


def check(doc: dict[str, Any]) -> str:
    """One line per check naming the hosts it passed on, one per host where it failed (with why); the
    counts alone when the engine reports no per-check results."""
    results = doc.get("results") or []
    by_check: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for r in results:
        by_check.setdefault(str(r.get("check", "?")), {}).setdefault(str(r.get("outcome")), []).append(r)
    width = max((len(name) for name in by_check), default=0)
    lines = []
    for name, outcomes in by_check.items():
        for r in outcomes.get("failed", []):
            lines.append(f"  FAILED  {name:<{width}}  {r.get('host')}: {r.get('message') or 'failed'}")
        passed = [str(r.get("host")) for r in outcomes.get("passed", [])]
        skipped = [str(r.get("host")) for r in outcomes.get("skipped", [])]
        if passed or skipped:
            text = ", ".join(passed) if passed else "-"
            if skipped:
                text += f" (skipped on {', '.join(skipped)})"
            lines.append(f"  {'ok' if passed else 'skipped':<6}  {name:<{width}}  {text}")
    if not results:
        lines += [f"  FAILED  {failure}" for failure in doc.get("failures") or []]
    passed, failed = int(doc.get("passed") or 0), int(doc.get("failed") or 0)
    head = f"{passed} check(s) passed, {failed} failed"
    modules = doc.get("modules") or []
    if modules:
        head += f" ({len(modules)} check module(s))"
    return "\n".join([head, *lines])


def cert_renew(doc: dict[str, Any], cluster: str) -> str:
    ours = doc.get("renewed") or []
    minted = doc.get("renewed_by_runtime") or {}
    keys = "new keys" if doc.get("new_keys") else "the same keys"
    lines = []
    if ours:
        lines.append(f"re-signed {len(ours)} certificate(s) with sealkit's CAs ({keys})")
    if minted:
        lines.append(f"the runtime minted its own certificates anew on: {', '.join(sorted(minted))}")
    if not lines:
        lines.append("no certificate needed renewing")
    lines.append("masters were restarted one at a time where certificates changed")
    lines += ["next:", f"  {_sk(cluster)} cert check"]
    return "\n".join(lines)


def alt_names(doc: dict[str, Any], cluster: str) -> str:
    sans = doc.get("extra_sans") or []
    return "\n".join(
        [
            f"the apiserver certificates of cluster {cluster} now also name: {', '.join(sans) or '-'}",
            "next:",
            f"  {_sk(cluster)} cert check",
        ]
    )


def image_action(doc: dict[str, Any]) -> str:
    """build / push / pull / load / rmi: one line each."""
    digest = doc.get("digest")
    short = f" ({digest[:19]})" if isinstance(digest, str) else ""
    if "image" in doc:
        return f"built {doc['image']}{short}"
    if "pushed" in doc:
        return f"pushed {doc['pushed']}{short}"
    if "pulled" in doc:
        return f"pulled {doc['pulled']}{short}"
    if "loaded" in doc:
        return "loaded: " + (", ".join(doc["loaded"]) or "nothing")
    if "removed" in doc:
        return "removed: " + (", ".join(doc["removed"]) or "nothing")
    if "tagged" in doc:
        return f"tagged {doc['source']} as {doc['tagged']}"
    if "saved" in doc:
        return f"saved {', '.join(doc['images'])} to {doc['saved']}"
    return ", ".join(f"{k}: {v}" for k, v in doc.items())


def exec_result(doc: dict[str, Any]) -> str:
    lines = []
    for r in doc.get("hosts") or []:
        status = "ok" if r.get("rc") == 0 else f"exit {r.get('rc')}" if r.get("rc") is not None else "error"
        lines.append(f"  {r['host']:<16} {status}")
    return "\n".join(lines)


def clusters(rows: list[dict[str, Any]]) -> str:
    from sealkit.cli.render import table

    if not rows:
        return "no clusters yet: `sealkit run IMAGE --masters IP` or `sealkit apply -f Clusterfile` makes one"
    return table(rows, ["name", "runtime", "version", "masters", "nodes", "image"])
