"""The binary runtime's etcd flags, bootstrap env, certificates and join steps against the REAL
etcd/etcdctl (v3.4+) on loopback addresses: init a one-member cluster, add a learner, start it with
the membership etcd reports, promote it, write through it, remove it. Skipped without etcd."""

from __future__ import annotations

import random
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from sealkit_binary import plugin as binary

from sealkit.pki.model import LayoutInput
from sealkit.pki.store import PKIStore

pytestmark = pytest.mark.skipif(
    not (shutil.which("etcd") and shutil.which("etcdctl")), reason="etcd/etcdctl not installed"
)


class Member:
    """One etcd member under ``root`` (its /etc/kubernetes and /var/lib/etcd live there)."""

    def __init__(self, root: Path, name: str, ip: str) -> None:
        self.root, self.name, self.ip = root, name, ip
        self.proc: subprocess.Popen[bytes] | None = None

    def local(self, text: str) -> str:
        """Host paths → this member's directory; the loopback client URL → its own IP."""
        text = text.replace("/etc/kubernetes", f"{self.root}/etc/kubernetes")
        text = text.replace("/var/lib/etcd", f"{self.root}/var/lib/etcd")
        return text.replace("/usr/local/bin/etcdctl", shutil.which("etcdctl") or "etcdctl")

    def argv(self, store: PKIStore) -> list[str]:
        li = LayoutInput(
            host_name=self.name,
            host_ip=self.ip,
            is_master=True,
            master_ips=(self.ip,),
            master_names=(self.name,),
            endpoint_host="10.103.97.2",
        )
        layout = binary.cert_layout(li)
        for f in store.render(layout):
            path = Path(self.local(f.path))
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(f.content)
            path.chmod(f.mode)
        out = []
        for flag in binary.etcd_flags(self.name, self.ip, binary.paths_of(layout)):
            flag = self.local(flag)
            # several members share this machine: no shared 127.0.0.1 listeners
            flag = flag.replace("https://127.0.0.1:2379,", "")
            flag = flag.replace("http://127.0.0.1:2381", f"http://{self.ip}:2381")
            out.append(flag)
        return [shutil.which("etcd") or "etcd", *out]

    def start(self, store: PKIStore, env_file: str) -> None:
        env = {"PATH": "/usr/bin:/bin"}
        for line in env_file.splitlines():
            if line and not line.startswith("#"):
                key, _, value = line.partition("=")
                env[key] = value
        (self.root / "var/lib/etcd").mkdir(parents=True, exist_ok=True, mode=0o700)
        log = (self.root / "etcd.log").open("wb")
        self.proc = subprocess.Popen(self.argv(store), env=env, stdout=log, stderr=subprocess.STDOUT)

    def ctl(self, args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        cmd = self.local(binary.etcdctl(args, timeout=5, endpoint=binary.client_url(self.ip)))
        res = subprocess.run(cmd, shell=True, capture_output=True, text=True, timeout=30)
        if check and res.returncode != 0:
            log = (self.root / "etcd.log").read_text(errors="replace")[-2000:]
            raise AssertionError(f"{cmd}: {res.stderr}\n--- etcd log ---\n{log}")
        return res

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def _until(fn, what: str, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while True:
        result = fn()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.3)


def test_learner_join_with_real_etcd(tmp_path):
    net = f"127.{random.randint(100, 250)}.{random.randint(1, 250)}"
    store = PKIStore(tmp_path / "pki")
    m1 = Member(tmp_path / "m1", "host-0", f"{net}.1")
    m2 = Member(tmp_path / "m2", "host-1", f"{net}.2")
    token = "sealkit-test-token"
    try:
        # init: a one-member cluster from the bootstrap env alone
        m1.start(store, binary.etcd_bootstrap_env([(m1.name, binary.peer_url(m1.ip))], "new", token))
        _until(lambda: m1.ctl("endpoint health", check=False).returncode == 0, "etcd m1 healthy")

        # join: plan from the real member list, learner add, start with `existing`
        members = binary.parse_member_list(m1.ctl("member list -w simple").stdout)
        me = binary.peer_url(m2.ip)
        assert binary.plan_etcd_join(members, me, has_data=False) == binary.JoinPlan(add=True)
        m1.ctl(f"member add {m2.name} --peer-urls={me} --learner")
        members = binary.parse_member_list(m1.ctl("member list -w simple").stdout)
        (mine,) = [m for m in members if me in m.peer_urls]
        assert mine.learner and not mine.started
        m1.ctl("put /probe before-join")  # a learner does not count: the cluster keeps quorum
        cluster = binary.initial_cluster(members, m2.name, me)
        m2.start(store, binary.etcd_bootstrap_env(cluster, "existing", token))

        def promoted() -> bool:
            m1.ctl(f"member promote {mine.id}", check=False)
            now = binary.parse_member_list(m1.ctl("member list -w simple").stdout)
            return any(m.id == mine.id and m.started and not m.learner for m in now)

        _until(promoted, "learner promoted")
        m2.ctl("put /probe after-join")
        assert m1.ctl("get /probe --print-value-only").stdout.strip() == "after-join"
        members = binary.parse_member_list(m1.ctl("member list -w simple").stdout)
        assert binary.plan_etcd_join(members, me, has_data=True) == binary.JoinPlan()

        # delete: member remove from the member that stays; the removed one stops by itself
        # strict reconfig check: etcd refuses while the peers have been connected < 5 s; the
        # plugin retries the same way
        def removed() -> bool:
            m1.ctl(f"member remove {mine.id}", check=False)
            now = binary.parse_member_list(m1.ctl("member list -w simple").stdout)
            return all(m.id != mine.id for m in now)

        _until(removed, "member removed")
        assert m2.proc is not None
        _until(lambda: m2.proc.poll() is not None, "removed member exits")
        left = binary.parse_member_list(m1.ctl("member list -w simple").stdout)
        assert [m.name for m in left] == [m1.name]
    finally:
        m2.stop()
        m1.stop()
