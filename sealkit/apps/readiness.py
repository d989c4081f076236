"""Is the app really up? Workload status and pod diagnosis, from ``kubectl get -o json`` output.

Workload rules are those of ``kubectl rollout status`` (kubernetes/kubectl, pkg/polymorphichelpers/
rollout_status.go, read at commit 53ef3abb): the controller observed the latest generation, every replica
is updated and ready/available, no old replica is left; a Deployment whose Progressing condition says
ProgressDeadlineExceeded has failed; a StatefulSet is done when its partition is rolled out (or, with no
rollingUpdate settings, when its current and update revisions agree). A pod that is not ready gets
one sentence naming it and the reason a person can act on: ImagePullBackOff with the image, Pending
with the scheduler's message, CrashLoopBackOff with the exit code and the last log lines.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sealkit.apps.kube import Kube, meta
from sealkit.errors import StepFailed

#: restarts after which a crash-looping container fails the run before its timeout
CRASH_RESTARTS = 3
#: waiting reasons that never heal by themselves
FATAL_WAITING = ("InvalidImageName", "CreateContainerConfigError", "ErrImageNeverPull")
PULL_WAITING = ("ImagePullBackOff", "ErrImagePull")
DEADLINE = "ProgressDeadlineExceeded"
KIND_PLURAL = {
    "deployment": "deployments",
    "statefulset": "statefulsets",
    "daemonset": "daemonsets",
    "job": "jobs",
}


def _int(v: Any, default: int = 0) -> int:
    return v if isinstance(v, int) and not isinstance(v, bool) else default


def workload_ready(kind: str, obj: dict[str, Any]) -> tuple[bool, str]:
    """(ready, what is missing) for one workload object."""
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    gen, observed = _int(meta(obj).get("generation")), _int(status.get("observedGeneration"))
    if kind != "job" and observed < gen:
        return False, "the controller has not seen the latest spec yet"
    if kind == "deployment":
        for c in status.get("conditions") or []:
            if isinstance(c, dict) and c.get("type") == "Progressing" and c.get("reason") == DEADLINE:
                return False, f"deployment exceeded its progress deadline: {c.get('message', '')}".rstrip(
                    ": "
                )
        want = _int(spec.get("replicas"), 1)
        updated, total = _int(status.get("updatedReplicas")), _int(status.get("replicas"))
        available = _int(status.get("availableReplicas"))
        if updated < want:
            return False, f"{updated} of {want} replicas updated"
        if total > updated:
            return False, f"{total - updated} old replicas pending termination"
        if available < updated:
            return False, f"{available} of {updated} updated replicas available"
        return True, ""
    if kind == "statefulset":
        if observed == 0:
            return False, "the controller has not seen the latest spec yet"
        want = _int(spec.get("replicas"), 1)
        ready = _int(status.get("readyReplicas"))
        if ready < want:
            return False, f"{ready} of {want} replicas ready"
        strategy = spec.get("updateStrategy") or {}
        if strategy.get("type", "RollingUpdate") != "RollingUpdate":
            return True, ""
        rolling = strategy.get("rollingUpdate")
        if isinstance(rolling, dict):
            partition = rolling.get("partition")
            if partition is not None and _int(status.get("updatedReplicas")) < want - _int(partition):
                return False, "rolling update in progress"
            return True, ""
        if status.get("updateRevision") != status.get("currentRevision"):
            return False, "rolling update in progress"
        return True, ""
    if kind == "daemonset":
        want = _int(status.get("desiredNumberScheduled"))
        if _int(status.get("updatedNumberScheduled")) < want:
            return False, "pods not yet updated on every node"
        available = _int(status.get("numberAvailable"))
        if available < want:
            return False, f"{available} of {want} pods available"
        return True, ""
    if kind == "job":
        want = _int(spec.get("completions"), 1)
        done = _int(status.get("succeeded"))
        for c in status.get("conditions") or []:
            if isinstance(c, dict) and c.get("type") == "Failed" and c.get("status") == "True":
                return False, f"job failed: {c.get('message') or c.get('reason')}"
        return (done >= want, "" if done >= want else f"{done} of {want} completions")
    return True, ""


def selects(selector: dict[str, Any], pod: dict[str, Any]) -> bool:
    labels = meta(pod).get("labels") or {}
    match = (selector or {}).get("matchLabels") or {}
    return bool(match) and all(labels.get(k) == v for k, v in match.items())


@dataclass
class PodProblem:
    pod: str
    message: str
    fatal: bool = False
    #: (container, previous) whose last log lines explain the problem
    logs_of: tuple[str, bool] | None = None


def pod_problems(pod: dict[str, Any]) -> list[PodProblem]:
    """Why a pod is not ready, one entry per cause (empty when it is ready)."""
    name = str(meta(pod).get("name", "?"))
    status = pod.get("status") or {}
    phase = status.get("phase", "")
    if phase == "Succeeded":
        return []
    conds = {c.get("type"): c for c in status.get("conditions") or [] if isinstance(c, dict)}
    if phase == "Pending" and (conds.get("PodScheduled") or {}).get("status") == "False":
        c = conds["PodScheduled"]
        msg = c.get("message") or c.get("reason") or "not scheduled"
        return [PodProblem(name, f"pod {name} is Pending: {msg}")]
    out: list[PodProblem] = []
    statuses = [*(status.get("initContainerStatuses") or []), *(status.get("containerStatuses") or [])]
    images = {c.get("name"): c.get("image") for c in (pod.get("spec") or {}).get("containers") or []}
    for cs in statuses:
        if not isinstance(cs, dict) or cs.get("ready"):
            continue
        cname = str(cs.get("name", "?"))
        state = cs.get("state") or {}
        waiting, terminated = state.get("waiting") or {}, state.get("terminated") or {}
        reason = waiting.get("reason") or terminated.get("reason") or ""
        last = (cs.get("lastState") or {}).get("terminated") or {}
        restarts = _int(cs.get("restartCount"))
        if reason in PULL_WAITING:
            image = cs.get("image") or images.get(cname) or "?"
            detail = waiting.get("message") or ""
            out.append(
                PodProblem(
                    name, f"pod {name}: {reason} pulling image {image}" + (f" ({detail})" if detail else "")
                )
            )
        elif reason == "CrashLoopBackOff" or (last and restarts):
            code = last.get("exitCode", terminated.get("exitCode", "?"))
            out.append(
                PodProblem(
                    name,
                    f"pod {name}: container {cname} is in CrashLoopBackOff "
                    f"(exit code {code}, {restarts} restarts)",
                    fatal=restarts >= CRASH_RESTARTS,
                    logs_of=(cname, True),
                )
            )
        elif reason in FATAL_WAITING:
            out.append(
                PodProblem(
                    name, f"pod {name}: {reason}: {waiting.get('message', '')}".rstrip(": "), fatal=True
                )
            )
        elif terminated:
            code = terminated.get("exitCode", "?")
            out.append(
                PodProblem(
                    name, f"pod {name}: container {cname} exited with code {code}", logs_of=(cname, False)
                )
            )
        elif reason:
            out.append(PodProblem(name, f"pod {name}: container {cname} is waiting: {reason}"))
        else:
            out.append(PodProblem(name, f"pod {name}: container {cname} is not ready yet"))
    if not out and phase != "Running":
        out.append(PodProblem(name, f"pod {name} is {phase or 'unknown'}"))
    return out


@dataclass
class Assessment:
    ready: bool
    waiting_for: list[str] = field(default_factory=list)
    problems: list[PodProblem] = field(default_factory=list)
    pods: list[dict[str, Any]] = field(default_factory=list)
    #: a workload that cannot recover (a failed Job, a Deployment past its progress deadline)
    workload_failed: bool = False

    @property
    def fatal(self) -> bool:
        return self.workload_failed or any(p.fatal for p in self.problems)


def assess(workloads: list[tuple[str, dict[str, Any] | None]], pods: list[dict[str, Any]]) -> Assessment:
    """Readiness of ``(kind/name, object)`` workloads (object None: not created) and their pods."""
    result = Assessment(ready=True)
    for key, obj in workloads:
        kind = key.split("/", 1)[0]
        if obj is None:
            result.ready = False
            result.waiting_for.append(f"{key} does not exist")
            continue
        ok, why = workload_ready(kind, obj)
        mine = [p for p in pods if selects((obj.get("spec") or {}).get("selector") or {}, p)]
        result.pods.extend(mine)
        crashed = [pod for pod in mine if _crashing(pod)] if ok else []
        if crashed:  # counted available a moment ago, but a container has died since
            ok, why = False, f"{len(crashed)} pod(s) with a container that exited or is crash-looping"
        if not ok:
            result.ready = False
            result.waiting_for.append(f"{key}: {why}")
            result.workload_failed |= why.startswith(("job failed", "deployment exceeded"))
            for pod in mine:
                result.problems.extend(pod_problems(pod))
    return result


def _crashing(pod: dict[str, Any]) -> bool:
    """A container of ``pod`` is, right now, exited with a failure or waiting in CrashLoopBackOff. Why: a
    workload's counters lag its pods, so a server that dies right after start is briefly "available"."""
    status = pod.get("status") or {}
    if status.get("phase") == "Succeeded":
        return False
    for cs in status.get("containerStatuses") or []:
        if not isinstance(cs, dict):
            continue
        state = cs.get("state") or {}
        if (state.get("waiting") or {}).get("reason") == "CrashLoopBackOff":
            return True
        if _int((state.get("terminated") or {}).get("exitCode")) != 0:
            return True
    return False


def wait_ready(
    kube: Kube,
    namespace: str,
    workloads: list[str],
    *,
    app: str,
    timeout: float,
    interval: float = 3.0,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> Assessment:
    """Poll until every workload is ready; StepFailed naming pods and reasons on timeout or a fatal cause."""
    deadline = clock() + timeout
    settled = False
    while True:
        objs = []
        for key in workloads:
            kind, _, name = key.partition("/")
            objs.append((key, kube.get(KIND_PLURAL.get(kind, kind), namespace=namespace, name=name)))
        pods = kube.items("pods", namespace=namespace)
        state = assess(objs, pods)
        if state.ready and settled:
            return state
        # ready must hold over two polls, `interval` apart (like minReadySeconds): a server that exits
        # right after it started is then caught as crashing, not reported ready
        settled = state.ready
        if not state.ready and (state.fatal or clock() >= deadline):
            raise StepFailed(
                diagnosis(kube, namespace, app, state, timed_out=not state.fatal, timeout=timeout),
                host=kube.host.ip,
                step=f"wait for app {app}",
                hint=f"inspect with kubectl -n {namespace} describe pods; "
                f"`sealkit apps remove {app}` undoes it",
            )
        sleep(interval)


def printable(text: str, limit: int = 300) -> str:
    """A container's log line as safe terminal text: no escape sequences or control characters, bounded."""
    clean = "".join(ch if ch.isprintable() else "?" for ch in text)
    return clean if len(clean) <= limit else clean[:limit] + "…"


def diagnosis(
    kube: Kube, namespace: str, app: str, state: Assessment, *, timed_out: bool, timeout: float
) -> str:
    head = f"app {app} is not ready after {int(timeout)}s" if timed_out else f"app {app} cannot become ready"
    lines = [head + ":"]
    seen = set()
    for p in state.problems:
        if p.message in seen:
            continue
        seen.add(p.message)
        text = p.message
        if p.logs_of:
            logs = kube.logs(p.pod, namespace, p.logs_of[0], previous=p.logs_of[1])
            if logs:
                text += "; last log lines: " + " | ".join(printable(line) for line in logs)
        lines.append(f"  - {printable(text, 2000)}")
    if not state.problems or state.workload_failed:
        lines += [f"  - {printable(w, 2000)}" for w in state.waiting_for]
    return "\n".join(lines)
