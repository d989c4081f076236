"""The shipped example app images build with `sealkit build` and install through the engine."""

from __future__ import annotations

import base64
import json
from pathlib import Path

from sealkit.apps import engine
from sealkit.apps.envs import SecretStore
from sealkit.apps.image import resolve_app
from sealkit.image import default_store
from sealkit.image.containers import collect_images
from tests.apps.conftest import MASTER

EXAMPLES = Path(__file__).parent / "examples"


def build(name: str) -> str:
    ref = f"localhost/examples/{name}:1"
    default_store().build(EXAMPLES / name / "Kubefile", EXAMPLES / name, ref, fetch_images=False)
    return ref


def install(ctx, ref, images):
    ticks = iter(range(0, 10**6, 5))
    return engine.install(
        ctx, [resolve_app(ref)], images=images, clock=lambda: next(ticks), sleep=lambda s: None
    )


def test_build_finds_the_container_images_to_pack():
    assert collect_images(EXAMPLES / "redis") == ["localhost/sealkit-examples/redis:7.0"]
    assert collect_images(EXAMPLES / "hello") == ["localhost/sealkit-examples/busybox:1.36"]


def test_redis_example_generates_its_password_into_the_secret(sealkit_home, make_ctx, fake, images):
    ctx = make_ctx()
    [result] = install(ctx, build("redis"), images)
    password = SecretStore(ctx.state.dir).load("redis")["REDIS_PASSWORD"]
    assert (
        result.sentence()
        == f"redis is ready: connect to {MASTER}:30079 with password {password} (also 10.0.0.6:30079)."
    )
    conf = base64.b64decode(fake.get_obj("secrets", "redis", "redis")["data"]["redis.conf"]).decode()
    assert f"requirepass {password}\n" in conf
    deployment = json.dumps(fake.get_obj("deployments", "redis", "redis"))
    assert password not in deployment, "the password lives in the Secret only, not in the pod spec"


def test_hello_example_from_plain_manifests(sealkit_home, make_ctx, fake, images):
    ctx = make_ctx()
    [result] = install(ctx, build("hello"), images)
    assert result.sentence() == f"hello is ready: connect to {MASTER}:30079 (also 10.0.0.6:30079)."
    assert fake.get_obj("configmaps", "hello", "hello")["data"]["index.html"].startswith("<h1>hello")
