"""Entry points (NodePort, LoadBalancer, ingress) and credentials (Secret, env, value)."""

from __future__ import annotations

import base64

from sealkit.apps.outputs import claimed_volumes, credential_values, endpoint_addresses
from sealkit.apps.spec import CredentialSpec, EndpointSpec

HOSTS = ["10.0.0.5", "10.0.0.6"]


def svc(kind="NodePort", ports=None, lb=None):
    out = {"spec": {"type": kind, "ports": ports or [{"name": "redis", "port": 6379, "nodePort": 30079}]}}
    if lb:
        out["status"] = {"loadBalancer": {"ingress": lb}}
    return out


def test_nodeport_on_every_host_by_number_or_name():
    for port in (6379, "redis"):
        addrs, warn = endpoint_addresses(EndpointSpec("r", "redis", port), svc(), None, HOSTS)
        assert addrs == ["10.0.0.5:30079", "10.0.0.6:30079"] and warn == []
    addrs, _ = endpoint_addresses(EndpointSpec("r", "redis", 6379), svc(), None, ["fd00::5"])
    assert addrs == ["[fd00::5]:30079"]


def test_load_balancer_address_first():
    s = svc("LoadBalancer", lb=[{"ip": "192.0.2.10"}])
    assert endpoint_addresses(EndpointSpec("r", "redis", 6379), s, None, HOSTS)[0] == ["192.0.2.10:6379"]
    pending = svc("LoadBalancer")
    assert (
        endpoint_addresses(EndpointSpec("r", "redis", 6379), pending, None, HOSTS)[0][0] == "10.0.0.5:30079"
    )


def test_ingress_host():
    ing = {"spec": {"tls": [{}], "rules": [{"host": "db.example"}]}}
    assert endpoint_addresses(EndpointSpec("w", "web", 80, ingress="web"), None, ing, HOSTS) == (
        ["db.example:443"],
        [],
    )


def test_cluster_ip_and_missing_things_warn_instead_of_lying():
    addrs, warn = endpoint_addresses(EndpointSpec("r", "redis", 6379), svc("ClusterIP"), None, HOSTS)
    assert addrs == [] and "not reachable from outside the cluster" in warn[0]
    assert "does not exist" in endpoint_addresses(EndpointSpec("r", "nope", 1), None, None, HOSTS)[1][0]
    assert "has no port 9" in endpoint_addresses(EndpointSpec("r", "redis", 9), svc(), None, HOSTS)[1][0]


def test_credentials_from_secret_env_and_value():
    creds = (
        CredentialSpec("password", secret="redis", key="pw"),
        CredentialSpec("token", env="TOKEN"),
        CredentialSpec("user", value="default"),
        CredentialSpec("missing", secret="redis", key="nope"),
        CredentialSpec("gone", secret="other", key="x"),
    )
    secrets = {"redis": {"data": {"pw": base64.b64encode(b"s3cr3t").decode()}}, "other": None}
    values, warn = credential_values(creds, secrets, {"TOKEN": "abc"})
    assert values == {"password": "s3cr3t", "token": "abc", "user": "default"}
    assert warn == [
        "credential missing: secret redis has no key nope",
        "credential gone: secret other does not exist",
    ]


def test_claimed_volumes():
    pods = [
        {
            "metadata": {"namespace": "db"},
            "spec": {"volumes": [{"persistentVolumeClaim": {"claimName": "data-0"}}, {"emptyDir": {}}]},
        }
    ]
    assert claimed_volumes(pods) == ["db/data-0"]
