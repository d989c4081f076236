"""sealkit never takes or destroys a host's own data (issue 12 item 1), on real lab hosts through the CLI.

A master whose /var/lib/etcd holds Debian-etcd-style data and a worker with a foreign CNI config: `run`
is refused in preflight naming both paths, with nothing changed on either host; with the take-over env
key the install succeeds (the data parked for the cluster's life), and after `reset` the hosts' own files
are back byte-for-byte and nothing of ours is left.
"""

from __future__ import annotations

import pytest

from tests.e2e.driver import Sealkit, build_images, footprint, leftovers, spans

pytestmark = pytest.mark.lab

ETCD_FILE = "/var/lib/etcd/default/member/snap/db"
CNI_FILE = "/etc/cni/net.d/99-theirs.conflist"


@pytest.mark.parametrize("runtime", ["kubeadm", "binary"])
def test_foreign_etcd_data_and_cni_config_are_refused_then_taken_over_and_given_back(
    runtime, fresh_lab, tmp_path_factory
):
    home = tmp_path_factory.mktemp(f"home-own-{runtime}")
    version = spans(runtime)["newest"].old
    refs = build_images(home, runtime, (version,))
    lab = fresh_lab(2, systemd=True)
    m1, w1 = lab.hosts
    lab.exec_on(m1, f"mkdir -p {ETCD_FILE.rsplit('/', 1)[0]} && printf 'debian etcd data' > {ETCD_FILE}")
    lab.exec_on(w1, f'mkdir -p /etc/cni/net.d && echo \'{{"name": "theirs"}}\' > {CNI_FILE}')
    theirs = {h.name: footprint(lab, h) for h in lab.hosts}
    sk = Sealkit(home, f"own-{runtime}")
    hosts = ("--masters", m1.ip, "--nodes", w1.ip, "-i", str(m1.root_key))

    refused = sk("--runtime", runtime, "run", refs[version], *hosts, check=False)
    assert refused.rc == 5, refused.err
    assert "/var/lib/etcd" in refused.err and "/etc/cni/net.d" in refused.err
    for h in lab.hosts:
        left = leftovers(theirs[h.name], footprint(lab, h))
        assert left == [], f"preflight changed {h.name}:\n" + "\n".join(left)

    take_over = "SEALKIT_TAKE_OVER=/var/lib/etcd,/etc/cni/net.d"
    sk("--runtime", runtime, "run", refs[version], *hosts, "-e", take_over)
    assert lab.exec_on(m1, f"test ! -e {ETCD_FILE}", check=False).returncode == 0  # parked, not in use
    sk("reset", "--force")
    assert lab.exec_on(m1, f"cat {ETCD_FILE}").stdout == "debian etcd data"
    assert lab.exec_on(w1, f"cat {CNI_FILE}").stdout == '{"name": "theirs"}\n'
    for h in lab.hosts:
        left = leftovers(theirs[h.name], footprint(lab, h))
        assert left == [], h.name + ":\n" + "\n".join(left)
