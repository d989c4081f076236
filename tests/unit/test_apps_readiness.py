"""Readiness of workloads (kubectl rollout status rules) and pod diagnosis from `kubectl get -o json`."""

from __future__ import annotations

import json

import pytest

from sealkit.apps.kube import Kube
from sealkit.apps.readiness import assess, pod_problems, wait_ready, workload_ready
from sealkit.errors import StepFailed
from sealkit.testing.recording import RecordingConnection


def sts(ready=1, replicas=1, gen=1, observed=1, **status):
    return {
        "metadata": {"name": "db", "generation": gen},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "db"}}},
        "status": {"observedGeneration": observed, "readyReplicas": ready, **status},
    }


def pod(name="db-0", labels=None, **status):
    return {"metadata": {"name": name, "labels": labels or {"app": "db"}}, "spec": {}, "status": status}


@pytest.mark.parametrize(
    ("kind", "obj", "ready", "why"),
    [
        ("statefulset", sts(), True, ""),
        ("statefulset", sts(ready=0), False, "0 of 1 replicas ready"),
        ("statefulset", sts(gen=2, observed=1), False, "not seen the latest spec"),
        ("statefulset", sts(updateRevision="b", currentRevision="a"), False, "rolling update in progress"),
        ("statefulset", sts(observed=0, gen=0), False, "not seen the latest spec"),
        (
            "statefulset",
            {
                **sts(updatedReplicas=1, updateRevision="b", currentRevision="a"),
                "spec": {
                    "replicas": 2,
                    "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}},
                },
            },
            False,
            "2 replicas ready",
        ),
        (
            "statefulset",
            {
                **sts(ready=2, updatedReplicas=1, updateRevision="b", currentRevision="a"),
                "spec": {
                    "replicas": 2,
                    "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 1}},
                },
            },
            True,
            "",
        ),
        (
            "deployment",
            {
                "metadata": {"generation": 1},
                "spec": {"replicas": 1},
                "status": {
                    "observedGeneration": 1,
                    "conditions": [{"type": "Progressing", "reason": "ProgressDeadlineExceeded"}],
                },
            },
            False,
            "exceeded its progress deadline",
        ),
        (
            "deployment",
            {
                "metadata": {"generation": 1},
                "spec": {"replicas": 2},
                "status": {
                    "observedGeneration": 1,
                    "updatedReplicas": 2,
                    "replicas": 3,
                    "availableReplicas": 2,
                },
            },
            False,
            "1 old replicas pending termination",
        ),
        (
            "deployment",
            {
                "metadata": {"generation": 1},
                "spec": {"replicas": 2},
                "status": {
                    "observedGeneration": 1,
                    "updatedReplicas": 2,
                    "replicas": 2,
                    "availableReplicas": 2,
                },
            },
            True,
            "",
        ),
        (
            "daemonset",
            {
                "metadata": {},
                "status": {"desiredNumberScheduled": 3, "updatedNumberScheduled": 3, "numberAvailable": 2},
            },
            False,
            "2 of 3 pods available",
        ),
        ("job", {"metadata": {}, "spec": {}, "status": {"succeeded": 1}}, True, ""),
        (
            "job",
            {
                "metadata": {},
                "spec": {},
                "status": {
                    "conditions": [{"type": "Failed", "status": "True", "message": "BackoffLimitExceeded"}]
                },
            },
            False,
            "job failed: BackoffLimitExceeded",
        ),
    ],
)
def test_workload_rules(kind, obj, ready, why):
    ok, reason = workload_ready(kind, obj)
    assert ok is ready and why in reason


def test_pull_backoff_names_the_image():
    p = pod(
        phase="Pending",
        containerStatuses=[
            {
                "name": "main",
                "image": "reg/app:1",
                "ready": False,
                "state": {"waiting": {"reason": "ImagePullBackOff", "message": "not found"}},
            }
        ],
    )
    [problem] = pod_problems(p)
    assert problem.message == "pod db-0: ImagePullBackOff pulling image reg/app:1 (not found)"
    assert not problem.fatal


def test_pending_gives_the_scheduler_message():
    p = pod(
        phase="Pending",
        conditions=[
            {
                "type": "PodScheduled",
                "status": "False",
                "message": "0/2 nodes are available: 2 node(s) had untolerated taint.",
            }
        ],
    )
    assert (
        pod_problems(p)[0].message
        == "pod db-0 is Pending: 0/2 nodes are available: 2 node(s) had untolerated taint."
    )


def test_crash_loop_is_fatal_after_restarts_and_asks_for_previous_logs():
    def crashing(restarts):
        return pod(
            phase="Running",
            containerStatuses=[
                {
                    "name": "main",
                    "ready": False,
                    "restartCount": restarts,
                    "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                    "lastState": {"terminated": {"exitCode": 137}},
                }
            ],
        )

    early, late = pod_problems(crashing(1))[0], pod_problems(crashing(3))[0]
    assert "CrashLoopBackOff (exit code 137, 1 restarts)" in early.message and not early.fatal
    assert late.fatal and late.logs_of == ("main", True)


def test_ready_and_succeeded_pods_have_no_problem():
    assert pod_problems(pod(phase="Running", containerStatuses=[{"name": "m", "ready": True}])) == []
    assert pod_problems(pod(phase="Succeeded")) == []


def test_assess_only_looks_at_the_workloads_own_pods():
    mine = pod(phase="Pending", conditions=[{"type": "PodScheduled", "status": "False", "message": "no"}])
    other = pod("web-0", labels={"app": "web"}, phase="Failed")
    state = assess([("statefulset/db", sts(ready=0)), ("deployment/gone", None)], [mine, other])
    assert not state.ready
    assert [p.pod for p in state.problems] == ["db-0"]
    assert "deployment/gone does not exist" in state.waiting_for


def _kube(objects):
    conn = RecordingConnection("10.0.0.1")
    conn.responses.append((r"get statefulsets db", lambda _c: (0, json.dumps(objects["sts"]))))
    conn.responses.append((r"get pods", lambda _c: (0, json.dumps({"items": objects["pods"]}))))
    conn.responses.append((r" logs db-0 .*--previous", (0, "boot\npanic: bad config\x1b]0;pwned\x07\n")))

    class Host:
        ip = "10.0.0.1"

    Host.conn = conn
    return Kube(Host(), "/usr/bin/kubectl --kubeconfig=/k"), conn


def test_wait_fails_fast_on_a_fatal_cause_with_log_lines():
    crash = pod(
        phase="Running",
        containerStatuses=[
            {
                "name": "main",
                "ready": False,
                "restartCount": 5,
                "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                "lastState": {"terminated": {"exitCode": 2}},
            }
        ],
    )
    kube, conn = _kube({"sts": sts(ready=0), "pods": [crash]})
    slept = []
    with pytest.raises(StepFailed) as err:
        wait_ready(
            kube, "db", ["statefulset/db"], app="db", timeout=600, clock=lambda: 0.0, sleep=slept.append
        )
    assert slept == [], "a crash loop fails at once, not after the timeout"
    assert "app db cannot become ready" in err.value.message
    assert "last log lines: boot | panic: bad config?]0;pwned?" in err.value.message
    assert "\x1b" not in err.value.message, "a container's log cannot drive the user's terminal"
    assert any("logs db-0 -n db -c main --tail=5 --previous" in c for c in conn.commands)


def test_wait_polls_until_ready():
    objects = {"sts": sts(ready=0), "pods": []}
    kube, _ = _kube(objects)

    def sleep(_s):
        objects["sts"] = sts(ready=1)

    state = wait_ready(kube, "db", ["statefulset/db"], app="db", timeout=60, clock=lambda: 0.0, sleep=sleep)
    assert state.ready


def test_wait_times_out_naming_what_is_missing():
    kube, _ = _kube({"sts": sts(ready=0), "pods": []})
    ticks = iter([0, 10, 20, 61, 62])
    with pytest.raises(StepFailed, match="not ready after 60s:\n  - statefulset/db: 0 of 1 replicas ready"):
        wait_ready(
            kube,
            "db",
            ["statefulset/db"],
            app="db",
            timeout=60,
            clock=lambda: next(ticks),
            sleep=lambda s: None,
        )


def test_a_failed_job_fails_at_once():
    conn = RecordingConnection("10.0.0.1")
    failed = {
        "metadata": {"name": "migrate"},
        "spec": {"selector": {"matchLabels": {"job": "m"}}},
        "status": {"conditions": [{"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded"}]},
    }
    conn.responses.append((r"get jobs migrate", (0, json.dumps(failed))))
    conn.responses.append((r"get pods", (0, json.dumps({"items": []}))))

    class Host:
        ip = "10.0.0.1"

    Host.conn = conn
    kube = Kube(Host(), "/usr/bin/kubectl")
    with pytest.raises(StepFailed, match="job/migrate: job failed: BackoffLimitExceeded"):
        wait_ready(
            kube, "db", ["job/migrate"], app="db", timeout=600, clock=lambda: 0.0, sleep=lambda s: 1 / 0
        )


def test_an_available_workload_whose_container_just_exited_is_not_ready():
    died = pod(
        phase="Running",
        containerStatuses=[{"name": "db", "ready": False, "state": {"terminated": {"exitCode": 1}}}],
    )
    state = assess([("statefulset/db", sts())], [died])
    assert not state.ready and "exited or is crash-looping" in state.waiting_for[0]
    assert any("exited with code 1" in p.message for p in state.problems)
    done = pod(
        phase="Succeeded", containerStatuses=[{"name": "db", "state": {"terminated": {"exitCode": 0}}}]
    )
    assert assess([("statefulset/db", sts())], [done]).ready


def test_ready_must_hold_over_two_polls():
    objects = {"sts": sts(ready=1), "pods": []}
    kube, _ = _kube(objects)
    polls: list[float] = []

    def sleep(s):
        polls.append(s)
        objects["pods"] = [
            pod(phase="Running", containerStatuses=[{"name": "db", "state": {"terminated": {"exitCode": 2}}}])
        ]

    with pytest.raises(StepFailed):
        wait_ready(kube, "db", ["statefulset/db"], app="db", timeout=0, clock=lambda: 0.0, sleep=sleep)
    assert polls, "a single ready poll was taken as ready"
