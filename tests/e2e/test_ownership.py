"""sealkit never takes or destroys a host's own data (issue 12 items 1 and 2), on real lab hosts through
the CLI.

A master whose /var/lib/etcd holds Debian-etcd-style data and where another service listens on :5000 (the
embedded registry's default port), and a worker with a foreign CNI config: `run` is refused in preflight
naming both paths and the port, with nothing changed on either host; a Clusterfile with the take-over env
key and the registry on another port installs (the data parked for the cluster's life, the other service
untouched), and after `reset` the hosts' own files are back byte-for-byte, their service still answers,
and nothing of ours is left.
"""

from __future__ import annotations

import pytest
import yaml

from tests.e2e.driver import Sealkit, build_images, footprint, leftovers, spans

pytestmark = pytest.mark.lab

ETCD_FILE = "/var/lib/etcd/default/member/snap/db"
CNI_FILE = "/etc/cni/net.d/99-theirs.conflist"
THEIR_PORT = 5000
OUR_PORT = 5010


def _answers(lab, host) -> bool:
    probe = f"curl -s -o /dev/null -w '%{{http_code}}' --retry 5 --retry-connrefused http://127.0.0.1:{THEIR_PORT}/"
    return lab.exec_on(host, probe, check=False).stdout.strip() == "200"


@pytest.mark.parametrize("runtime", ["kubeadm", "binary"])
def test_foreign_etcd_data_cni_config_and_service_are_refused_then_taken_over_and_given_back(
    runtime, fresh_lab, tmp_path_factory
):
    home = tmp_path_factory.mktemp(f"home-own-{runtime}")
    version = spans(runtime)["newest"].old
    refs = build_images(home, runtime, (version,))
    lab = fresh_lab(2, systemd=True)
    m1, w1 = lab.hosts
    lab.exec_on(m1, f"mkdir -p {ETCD_FILE.rsplit('/', 1)[0]} && printf 'debian etcd data' > {ETCD_FILE}")
    lab.exec_on(w1, f'mkdir -p /etc/cni/net.d && echo \'{{"name": "theirs"}}\' > {CNI_FILE}')
    # their own service on :5000, started the way an admin would leave one running
    lab.exec_on(m1, f"setsid python3 -m http.server {THEIR_PORT} -d /srv >/dev/null 2>&1 < /dev/null &")
    assert _answers(lab, m1), "the host's own service did not start"
    theirs = {h.name: footprint(lab, h) for h in lab.hosts}
    sk = Sealkit(home, f"own-{runtime}")
    hosts = ("--masters", m1.ip, "--nodes", w1.ip, "-i", str(m1.root_key))

    refused = sk("--runtime", runtime, "run", refs[version], *hosts, check=False)
    assert refused.rc == 5, refused.err
    assert "/var/lib/etcd" in refused.err and "/etc/cni/net.d" in refused.err
    assert f"{THEIR_PORT} (the registry)" in refused.err and "spec.registry.port" in refused.err
    for h in lab.hosts:
        left = leftovers(theirs[h.name], footprint(lab, h))
        assert left == [], f"preflight changed {h.name}:\n" + "\n".join(left)

    clusterfile = tmp_path_factory.mktemp(f"cf-{runtime}") / "Clusterfile"
    clusterfile.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "sealkit.io/v1",
                "kind": "Cluster",
                "metadata": {"name": f"own-{runtime}"},
                "spec": {
                    "image": [refs[version]],
                    "runtime": runtime,
                    "ssh": {"user": "root", "pk": str(m1.root_key)},
                    "hosts": [{"ips": [m1.ip], "roles": ["master"]}, {"ips": [w1.ip], "roles": ["node"]}],
                    "env": {"SEALKIT_TAKE_OVER": "/var/lib/etcd,/etc/cni/net.d"},
                    "registry": {"port": OUR_PORT},
                },
            }
        )
    )
    sk("apply", "-f", str(clusterfile))
    assert lab.exec_on(m1, f"test ! -e {ETCD_FILE}", check=False).returncode == 0  # parked, not in use
    assert _answers(lab, m1), "sealkit touched the host's own service"
    sk("reset", "--force")
    assert _answers(lab, m1), "reset touched the host's own service"
    assert lab.exec_on(m1, f"cat {ETCD_FILE}").stdout == "debian etcd data"
    assert lab.exec_on(w1, f"cat {CNI_FILE}").stdout == '{"name": "theirs"}\n'
    for h in lab.hosts:
        left = leftovers(theirs[h.name], footprint(lab, h))
        assert left == [], h.name + ":\n" + "\n".join(left)
