"""The app engine end to end over a fake master: install, outputs, re-run, upgrade, remove, failures."""

from __future__ import annotations

import base64
import json
import re
import stat
from typing import Any

import pytest

from sealkit.apps import engine
from sealkit.apps.envs import SecretStore
from sealkit.apps.record import AppsRecord
from sealkit.errors import CheckFailed, StepFailed, UsageError
from tests.apps.conftest import MASTER, NODE
from tests.apps.fakekube import secret

REDIS_SPEC = """
    apiVersion: sealkit.io/v1
    kind: App
    name: redis
    helm:
      chart: charts/redis
      values: [charts/redis/values.yaml]
      set:
        auth.password: ${REDIS_PASSWORD}
    generate:
      REDIS_PASSWORD: {length: 24}
    endpoints:
      - {name: redis, service: redis, port: 6379}
    credentials:
      password: {secret: redis, key: redis-password}
    ready:
      timeout: 60
    requires:
      storageClass: true
"""
REDIS_FILES = {
    "sealkit-app.yaml": REDIS_SPEC,
    "charts/redis/Chart.yaml": "name: redis\nversion: 1.0.0\n",
    "charts/redis/values.yaml": "image: docker.io/library/redis:7.0\n",
    "images/oci/index.json": "{}",
}
STORAGE = {
    "apiVersion": "storage.k8s.io/v1",
    "kind": "StorageClass",
    "metadata": {
        "name": "local-path",
        "annotations": {"storageclass.kubernetes.io/is-default-class": "true"},
    },
}


def redis_chart(release: str, ns: str, values: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        secret(release, ns, {"redis-password": values["auth"]["password"]}),
        {
            "apiVersion": "apps/v1",
            "kind": "StatefulSet",
            "metadata": {"name": release},
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": {"app": release}},
                "template": {
                    "spec": {
                        "containers": [{"name": "main", "image": "docker.io/library/redis:7.0"}],
                        "volumes": [
                            {"name": "data", "persistentVolumeClaim": {"claimName": f"data-{release}-0"}}
                        ],
                    }
                },
            },
        },
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": release},
            "spec": {"type": "NodePort", "ports": [{"name": "redis", "port": 6379}]},
        },
        {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": f"data-{release}-0"}},
    ]


@pytest.fixture
def redis_cluster(fake):
    fake.charts["charts/redis"] = redis_chart
    fake.add(dict(STORAGE))
    return fake


def _install(ctx, apps, images, **kw):
    ticks = iter(range(0, 1_000_000, 5))
    return engine.install(ctx, apps, images=images, clock=lambda: next(ticks), sleep=lambda _s: None, **kw)


def _changing(fake) -> list[str]:
    """Commands that change the cluster (not reads)."""
    verbs = (" create ", " apply ", " delete ", " upgrade ", " uninstall ")
    return [c for c, _ in fake.calls if any(v in f" {c} " for v in verbs)]


def test_helm_app_ends_with_address_and_generated_password(make_ctx, make_app, redis_cluster, images):
    ctx = make_ctx()
    [result] = _install(ctx, [make_app(REDIS_FILES)], images)
    password = SecretStore(ctx.state.dir).load("redis")["REDIS_PASSWORD"]
    assert len(password) == 24 and password.isalnum()
    assert result.endpoints == (f"{MASTER}:30079", f"{NODE}:30079")
    assert result.credentials == {"password": password}
    assert result.action == "install" and result.changed
    assert result.sentence() == (
        f"redis is ready: connect to {MASTER}:30079 with password {password} (also {NODE}:30079)."
    )
    out = json.loads(json.dumps({"apps": [result.to_dict()]}))
    assert out["apps"][0]["name"] == "redis"
    assert out["apps"][0]["endpoints"][0] == f"{MASTER}:30079"
    assert out["apps"][0]["credentials"] == {"password": password}
    # the chart got the generated password as a value, through the file the shell writes
    assert redis_cluster.helm_values == {"auth": {"password": password}}
    assert images.synced, "the app's container images go to the embedded registry"


def test_secrets_never_on_a_command_line(make_ctx, make_app, redis_cluster, images):
    ctx = make_ctx()
    _install(ctx, [make_app(REDIS_FILES)], images, env={"EXTRA_TOKEN": "tok-XYZ-123"})
    password = SecretStore(ctx.state.dir).load("redis")["REDIS_PASSWORD"]
    master = ctx.hosts[MASTER].conn
    for cmd in master.commands:
        assert password not in cmd and "tok-XYZ-123" not in cmd and "SECRETKEY" not in cmd
    helm = [i for i, c in enumerate(master.commands) if " upgrade --install " in c]
    assert helm, master.commands
    stdin = master.stdins[
        next(i for i, (c, _) in enumerate(redis_cluster.calls) if " upgrade --install " in c)
    ]
    assert password.encode() in stdin and b"tok-XYZ-123" in stdin
    # the admin kubeconfig is a 0600 file on the master, never in argv
    content, mode = master.files["/var/lib/sealkit/apps/.kubeconfig"]
    assert b"SECRETKEY" in content and mode == 0o600
    # the record keeps env keys, never values
    raw = (ctx.state.dir / "apps.json").read_text()
    assert password not in raw and "tok-XYZ-123" not in raw
    assert json.loads(raw)["apps"]["redis"]["env_keys"] == ["EXTRA_TOKEN", "REDIS_PASSWORD"]
    assert stat.S_IMODE((ctx.state.dir / "apps" / "redis.secrets.json").stat().st_mode) == 0o600


def test_rerun_same_digest_and_env_changes_nothing(make_ctx, make_app, redis_cluster, images):
    ctx = make_ctx()
    [first] = _install(ctx, [make_app(REDIS_FILES)], images)
    redis_cluster.calls.clear()
    [again] = _install(ctx, [make_app(REDIS_FILES)], images)
    assert again.action == "unchanged" and not again.changed
    assert _changing(redis_cluster) == []
    assert again.credentials == first.credentials and again.endpoints == first.endpoints
    assert len(images.synced) == 1


def test_changed_env_reinstalls_and_a_given_password_is_kept(make_ctx, make_app, redis_cluster, images):
    ctx = make_ctx()
    _install(ctx, [make_app(REDIS_FILES)], images)
    [again] = _install(ctx, [make_app(REDIS_FILES)], images, env={"REDIS_PASSWORD": "chosen-by-me-123"})
    assert again.changed and again.credentials == {"password": "chosen-by-me-123"}
    [third] = _install(ctx, [make_app(REDIS_FILES)], images)
    assert third.action == "unchanged", "a re-run without -e keeps the password given before"
    assert third.credentials == {"password": "chosen-by-me-123"}


def test_new_tag_upgrades_in_place(make_ctx, make_app, redis_cluster, images):
    ctx = make_ctx()
    _install(ctx, [make_app(REDIS_FILES)], images)
    password = SecretStore(ctx.state.dir).load("redis")["REDIS_PASSWORD"]
    new = make_app(REDIS_FILES, ref="localhost/apps/redis:7.2", digest="sha256:" + "2" * 64)
    [result] = _install(ctx, [new], images)
    assert result.action == "upgrade"
    assert result.sentence().startswith("redis was upgraded and is ready")
    assert result.credentials == {"password": password}, "the generated password survives an upgrade"
    rec = AppsRecord(ctx.state.dir).get("redis")
    assert rec.image == "localhost/apps/redis:7.2" and rec.version == "7.2" and rec.status == "ready"


def test_name_taken_by_another_image_is_refused_before_any_change(make_ctx, make_app, redis_cluster, images):
    ctx = make_ctx()
    _install(ctx, [make_app(REDIS_FILES)], images)
    redis_cluster.calls.clear()
    other = make_app(REDIS_FILES, ref="localhost/other/cache:1.0", digest="sha256:" + "3" * 64)
    with pytest.raises(UsageError, match=re.escape("already installed from localhost/apps/redis:7.0")):
        _install(ctx, [other], images)
    assert _changing(redis_cluster) == []


def test_missing_storage_class_is_refused_before_any_change(make_ctx, make_app, fake, images):
    fake.charts["charts/redis"] = redis_chart
    ctx = make_ctx()
    with pytest.raises(CheckFailed, match="no default StorageClass") as err:
        _install(ctx, [make_app(REDIS_FILES)], images)
    assert "nothing was changed" in err.value.message
    assert _changing(fake) == [] and images.synced == []
    assert AppsRecord(ctx.state.dir).load() == {}


def test_arch_no_host_has_is_refused(make_ctx, make_app, redis_cluster, images):
    ctx = make_ctx(arch="arm64")
    with pytest.raises(UsageError, match="built for amd64; the cluster's hosts are arm64"):
        _install(ctx, [make_app(REDIS_FILES)], images)
    assert _changing(redis_cluster) == []


def test_no_helm_binary_anywhere_is_refused(make_ctx, make_app, redis_cluster, images):
    redis_cluster.cluster_helm = False
    ctx = make_ctx()
    with pytest.raises(CheckFailed, match="needs a helm binary"):
        _install(ctx, [make_app(REDIS_FILES)], images)
    assert _changing(redis_cluster) == []


def test_helm_from_the_app_image_wins_over_the_cluster_image(make_ctx, make_app, redis_cluster, images):
    ctx = make_ctx()
    _install(ctx, [make_app({**REDIS_FILES, "bin/helm": "#!/bin/sh\n"})], images)
    helm = [c for c, _ in redis_cluster.calls if " upgrade --install " in c]
    assert "/var/lib/sealkit/apps/redis/bin/helm upgrade --install redis charts/redis -n redis" in helm[0]


def test_unknown_installer_is_refused(make_ctx, make_app, redis_cluster, images):
    app = make_app({"sealkit-app.yaml": "installer: kustomize\n"})
    with pytest.raises(CheckFailed, match="installer 'kustomize' is not installed"):
        _install(make_ctx(), [app], images)


def test_crashing_container_fails_with_pod_reason_and_logs(make_ctx, make_app, redis_cluster, images):
    redis_cluster.pod_mode["redis"] = "crash"
    redis_cluster.logs["redis-0"] = ["starting", "FATAL: cannot open /data/dump.rdb"]
    ctx = make_ctx()
    with pytest.raises(StepFailed) as err:
        _install(ctx, [make_app(REDIS_FILES)], images)
    text = err.value.message
    assert "pod redis-0: container main is in CrashLoopBackOff (exit code 1, 4 restarts)" in text
    assert "FATAL: cannot open /data/dump.rdb" in text
    assert err.value.exit_code == 1
    assert AppsRecord(ctx.state.dir).get("redis").status == "failed"


def test_pending_pod_names_the_scheduler_message_at_timeout(make_ctx, make_app, redis_cluster, images):
    redis_cluster.pod_mode["redis"] = "pending"
    ticks = iter(range(0, 10_000, 30))
    ctx = make_ctx()
    with pytest.raises(StepFailed, match="0/3 nodes are available: 3 Insufficient memory") as err:
        engine.install(
            ctx, [make_app(REDIS_FILES)], images=images, clock=lambda: next(ticks), sleep=lambda s: None
        )
    assert "is not ready after" in err.value.message


def test_image_pull_failure_names_the_image(make_ctx, make_app, redis_cluster, images):
    redis_cluster.pod_mode["redis"] = "pull"
    ticks = iter(range(0, 10_000, 30))
    with pytest.raises(
        StepFailed, match=re.escape("ImagePullBackOff pulling image docker.io/library/redis:7.0")
    ):
        engine.install(
            make_ctx(),
            [make_app(REDIS_FILES)],
            images=images,
            clock=lambda: next(ticks),
            sleep=lambda s: None,
        )


def test_a_failure_stops_the_rest_and_keeps_earlier_apps(make_ctx, make_app, redis_cluster, images):
    redis_cluster.charts["charts/broken"] = lambda r, ns, v: redis_chart(r, ns, {"auth": {"password": "x"}})
    redis_cluster.pod_mode["broken"] = "crash"
    broken = dict(REDIS_FILES)
    broken["sealkit-app.yaml"] = REDIS_SPEC.replace("name: redis", "name: broken").replace(
        "charts/redis", "charts/broken"
    )
    broken["charts/broken/Chart.yaml"] = "name: broken\n"
    broken["charts/broken/values.yaml"] = "{}\n"
    third = dict(REDIS_FILES)
    third["sealkit-app.yaml"] = REDIS_SPEC.replace("name: redis", "name: third")
    ctx = make_ctx()
    apps = [
        make_app(REDIS_FILES),
        make_app(broken, ref="localhost/apps/broken:1", digest="sha256:" + "4" * 64),
        make_app(third, ref="localhost/apps/third:1", digest="sha256:" + "5" * 64),
    ]
    with pytest.raises(StepFailed):
        _install(ctx, apps, images)
    records = AppsRecord(ctx.state.dir).load()
    assert records["redis"].status == "ready" and records["broken"].status == "failed"
    assert "third" not in records
    assert redis_cluster.get_obj("statefulsets", "third", "third") is None


def test_env_of_one_app_never_reaches_another(make_ctx, make_app, redis_cluster, images):
    one = dict(REDIS_FILES)
    two = dict(REDIS_FILES)
    two["sealkit-app.yaml"] = REDIS_SPEC.replace("name: redis", "name: two")
    ctx = make_ctx()
    _install(
        ctx,
        [
            make_app(one, env={"ONLY_ONE": "a"}),
            make_app(two, ref="localhost/apps/two:1", digest="sha256:" + "6" * 64, env={"ONLY_TWO": "b"}),
        ],
        images,
    )
    records = AppsRecord(ctx.state.dir).load()
    assert "ONLY_TWO" not in records["redis"].env_keys and "ONLY_ONE" not in records["two"].env_keys
    store = SecretStore(ctx.state.dir)
    assert store.load("redis")["REDIS_PASSWORD"] != store.load("two")["REDIS_PASSWORD"]


def test_remove_deletes_release_namespace_images_keeps_volumes(make_ctx, make_app, redis_cluster, images):
    ctx = make_ctx()
    _install(ctx, [make_app(REDIS_FILES)], images)
    assert AppsRecord(ctx.state.dir).get("redis").volumes == ["redis/data-redis-0"]
    out = engine.remove(ctx, "redis", images=images, cluster_images=["docker.io/library/pause:3.9"])
    assert out["volumes_kept"] == ["redis/data-redis-0"] and out["namespace_kept"]
    assert redis_cluster.get_obj("statefulsets", "redis", "redis") is None
    assert redis_cluster.get_obj("persistentvolumeclaims", "redis", "data-redis-0") is not None
    assert redis_cluster.get_obj("namespaces", "", "redis") is not None, "deleting it would delete the volume"
    assert images.deleted == [["docker.io/library/redis:7.0"]]
    assert AppsRecord(ctx.state.dir).load() == {} and SecretStore(ctx.state.dir).load("redis") == {}
    assert "rm -rf /var/lib/sealkit/apps/redis" in ctx.hosts[MASTER].conn.commands


def test_remove_purge_deletes_volumes_and_created_namespace(make_ctx, make_app, redis_cluster, images):
    ctx = make_ctx()
    _install(ctx, [make_app(REDIS_FILES)], images)
    engine.remove(ctx, "redis", purge=True, images=images, cluster_images=[])
    assert redis_cluster.get_obj("persistentvolumeclaims", "redis", "data-redis-0") is None
    assert redis_cluster.get_obj("namespaces", "", "redis") is None


def test_remove_keeps_a_namespace_it_did_not_create(make_ctx, make_app, redis_cluster, images):
    redis_cluster.add({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "redis"}})
    ctx = make_ctx()
    _install(ctx, [make_app(REDIS_FILES)], images)
    engine.remove(ctx, "redis", purge=True, images=images, cluster_images=[])
    assert redis_cluster.get_obj("namespaces", "", "redis") is not None


def test_remove_keeps_images_another_app_or_the_cluster_uses(make_ctx, make_app, redis_cluster, images):
    two = dict(REDIS_FILES)
    two["sealkit-app.yaml"] = REDIS_SPEC.replace("name: redis", "name: two")
    ctx = make_ctx()
    _install(
        ctx,
        [
            make_app(REDIS_FILES, images=("docker.io/library/redis:7.0", "docker.io/library/busybox:1.36")),
            make_app(two, ref="localhost/apps/two:1", digest="sha256:" + "6" * 64),
        ],
        images,
    )
    engine.remove(ctx, "redis", images=images, cluster_images=["docker.io/library/busybox:1.36"])
    assert images.deleted == [[]]
    engine.remove(ctx, "two", images=images, cluster_images=None)
    assert len(images.deleted) == 1, "unknown cluster images: nothing is deleted"


def test_remove_unknown_app_names_the_installed_ones(make_ctx, make_app, redis_cluster, images):
    ctx = make_ctx()
    _install(ctx, [make_app(REDIS_FILES)], images)
    with pytest.raises(UsageError, match="installed apps: redis"):
        engine.remove(ctx, "nope", images=images)


def test_show_reads_credentials_again(make_ctx, make_app, redis_cluster, images):
    ctx = make_ctx()
    app = make_app(REDIS_FILES)
    [result] = _install(ctx, [app], images)
    shown = engine.show(ctx, "redis", spec=app.spec)
    assert shown["credentials"] == result.credentials
    assert shown["endpoints"] == list(result.endpoints)
    assert shown["status"] == "ready" and shown["version"] == "7.0"


MANIFESTS_SPEC = """
    name: web
    manifests:
      paths: [manifests]
    endpoints:
      - {service: web, port: http}
    credentials:
      token: {env: WEB_TOKEN}
    generate:
      WEB_TOKEN: {length: 32, alphabet: hex}
"""
WEB = """
    apiVersion: apps/v1
    kind: Deployment
    metadata: {name: web}
    spec:
      replicas: 2
      selector: {matchLabels: {app: web}}
      template:
        spec:
          containers: [{name: main, image: docker.io/library/nginx:1.25}]
    ---
    apiVersion: v1
    kind: Service
    metadata: {name: web}
    spec:
      type: NodePort
      ports: [{name: http, port: 80}]
"""
WEB_SECRET = """
    apiVersion: v1
    kind: Secret
    metadata: {name: web-token}
    stringData: {token: "${WEB_TOKEN}"}
"""


def test_manifests_app_applies_server_side_and_records_objects(make_ctx, make_app, fake, images):
    ctx = make_ctx()
    app = make_app(
        {"sealkit-app.yaml": MANIFESTS_SPEC, "manifests/web.yaml": WEB, "manifests/secret.yaml": WEB_SECRET},
        ref="localhost/apps/web:1",
    )
    [result] = _install(ctx, [app], images)
    token = SecretStore(ctx.state.dir).load("web")["WEB_TOKEN"]
    assert result.endpoints[0] == f"{MASTER}:30079" and result.credentials == {"token": token}
    applied = fake.get_obj("secrets", "web", "web-token")
    assert base64.b64decode(applied["data"]["token"]).decode() == token, (
        "the generated token reached the Secret"
    )
    assert all(token not in c for c in ctx.hosts[MASTER].conn.commands)
    rec = AppsRecord(ctx.state.dir).get("web")
    assert sorted(o["kind"] + "/" + o["name"] for o in rec.objects) == [
        "Deployment/web",
        "Secret/web-token",
        "Service/web",
    ]
    assert rec.release == "" and rec.installer == "manifests"


def test_manifests_upgrade_prunes_dropped_objects_and_remove_deletes_the_rest(
    make_ctx, make_app, fake, images
):
    ctx = make_ctx()
    files = {
        "sealkit-app.yaml": MANIFESTS_SPEC,
        "manifests/web.yaml": WEB,
        "manifests/secret.yaml": WEB_SECRET,
    }
    _install(ctx, [make_app(files, ref="localhost/apps/web:1")], images)
    smaller = {k: v for k, v in files.items() if k != "manifests/secret.yaml"}
    _install(ctx, [make_app(smaller, ref="localhost/apps/web:2", digest="sha256:" + "7" * 64)], images)
    assert fake.get_obj("secrets", "web", "web-token") is None
    assert fake.get_obj("deployments", "web", "web") is not None
    engine.remove(ctx, "web", images=images, cluster_images=[])
    assert fake.get_obj("deployments", "web", "web") is None
    assert fake.get_obj("services", "web", "web") is None
    assert fake.get_obj("namespaces", "", "web") is None


def test_cmd_app_runs_sealos_cmd_with_env_from_stdin(make_ctx, make_app, fake, images):
    ctx = make_ctx()
    app = make_app(
        {
            "sealkit-app.yaml": "installer: cmd\ngenerate: {PW: {length: 16}}\n",
            "charts/x/Chart.yaml": "name: x\n",
        },
        ref="localhost/apps/legacy:1",
        cmd=("helm install legacy charts/x --set pw=$(PW) --set b=${PW} --set c=$(UNKNOWN)",),
    )
    _install(ctx, [app], images)
    pw = SecretStore(ctx.state.dir).load("legacy")["PW"]
    master = ctx.hosts[MASTER].conn
    ran = [c for c in master.commands if "helm install legacy" in c]
    assert ran and "--set pw=${PW} --set b=${PW} --set c=$(UNKNOWN)" in ran[0]
    assert all(pw not in c for c in master.commands)
    assert ran[0].startswith("set -a; . /dev/stdin; set +a; cd /var/lib/sealkit/apps/legacy && ")


def test_manifests_reaching_into_another_namespace_are_refused(make_ctx, make_app, fake, images):
    hostile = WEB.replace(
        "metadata: {name: web}\n    spec:\n      replicas",
        "metadata: {name: web, namespace: kube-system}\n    spec:\n      replicas",
    )
    app = make_app(
        {"sealkit-app.yaml": MANIFESTS_SPEC, "manifests/web.yaml": hostile}, ref="localhost/apps/web:1"
    )
    with pytest.raises(CheckFailed, match="Deployment web is in namespace kube-system, not the app's"):
        _install(make_ctx(), [app], images)
    assert _changing(fake) == []


def test_helm_wait_timeout_gets_the_pods_diagnosis(make_ctx, make_app, redis_cluster, images):
    redis_cluster.helm_fail = "timed out waiting for the condition"
    redis_cluster.pod_mode["redis"] = "pull"
    redis_cluster.logs["redis-0"] = []
    ctx = make_ctx()
    with pytest.raises(StepFailed) as err:
        _install(ctx, [make_app(REDIS_FILES)], images)
    text = err.value.message
    assert (
        "helm upgrade --install exited 1: Error: UPGRADE FAILED: timed out waiting for the condition" in text
    )
    assert "pod redis-0: ImagePullBackOff pulling image docker.io/library/redis:7.0" in text
    assert AppsRecord(ctx.state.dir).get("redis").status == "failed"


def test_a_failed_image_sync_marks_the_app_failed_and_touches_nothing_else(make_ctx, make_app, redis_cluster):
    class Broken:
        def sync(self, ctx, rootfs):
            raise StepFailed("registry down", step="registry-sync")

        def delete(self, ctx, names):
            return []

    ctx = make_ctx()
    with pytest.raises(StepFailed, match="registry down") as err:
        _install(ctx, [make_app(REDIS_FILES)], Broken())
    assert "pod" not in err.value.message
    assert AppsRecord(ctx.state.dir).get("redis").status == "failed"
    assert _changing(redis_cluster) == []
