"""Many hosts (issue 12): two `serve` behind a load balancer and four worker processes, each on a
host of its own, all on one Redis, one PostgreSQL and one (fake) Graph API. A host is a network
namespace joined to the test's by a veth pair where the machine allows it (root and iproute2),
else a loopback address of its own (127.0.1.N). Under webhook and send load, one worker host and
one serve host die (kill -9) mid-run; the audit then checks that nothing acknowledged was lost
and nothing reached Meta or PostgreSQL twice."""
import os
import subprocess
import sys
import time
import unittest

from test_chaos import ChaosCase
from harness import WAPPA, Serve, wait_until

HOSTS = 6   # 1-2: serve, 3-6: workers


def ip(*args):
    return subprocess.run(["ip", *args], capture_output=True, text=True)


class Host:
    def __init__(self, n, netns):
        self.name = f"wappa-test-{os.getpid()}-h{n}" if netns else None
        if netns:
            # 10.213.N.0/24: .1 is the test's side (the backends' address for this host), .2 the host.
            self.address, self.gateway = f"10.213.{n}.2", f"10.213.{n}.1"
            self.prefix = ("ip", "netns", "exec", self.name)
            outside, inside = f"wt{os.getpid() % 100000}h{n}a", f"wt{os.getpid() % 100000}h{n}b"
            for command in (["netns", "add", self.name],
                            ["link", "add", outside, "type", "veth", "peer", "name", inside],
                            ["link", "set", inside, "netns", self.name],
                            ["addr", "add", f"{self.gateway}/24", "dev", outside],
                            ["link", "set", outside, "up"],
                            ["-n", self.name, "addr", "add", f"{self.address}/24", "dev", inside],
                            ["-n", self.name, "link", "set", inside, "up"],
                            ["-n", self.name, "link", "set", "lo", "up"]):
                r = ip(*command)
                if r.returncode != 0:
                    raise OSError(f"ip {' '.join(command)}: {r.stderr.strip()}")
        else:
            self.address, self.gateway, self.prefix = f"127.0.1.{n}", "127.0.0.1", ()

    def close(self):
        if self.name:
            ip("netns", "delete", self.name)   # takes its end of the veth pair, and so the pair, with it


def make_hosts():
    """Network namespaces if this machine lets us make them (and WAPPA_TEST_NETNS is not 0),
    else loopback addresses."""
    probe = f"wappa-test-{os.getpid()}-probe"
    netns = os.environ.get("WAPPA_TEST_NETNS") != "0" and os.geteuid() == 0 and ip("netns", "add", probe).returncode == 0
    if netns:
        ip("netns", "delete", probe)
    hosts = []
    try:
        for n in range(1, HOSTS + 1):
            hosts.append(Host(n, netns))
    except OSError as e:
        for h in hosts:
            h.close()
        print(f"  network namespaces unavailable ({e}): hosts are loopback addresses", file=sys.stderr)
        hosts = [Host(n, False) for n in range(1, HOSTS + 1)]
    return hosts


class Gateway:
    """Redis as a host reaches it."""
    def __init__(self, url):
        self.url = url


class ManyHostsTest(ChaosCase):
    serve_args = ()
    serve_count = 2

    def setUp(self):
        self.hosts = make_hosts()
        for host in self.hosts:
            self.addCleanup(host.close)   # also when setUp fails
        self.netns = self.hosts[0].name is not None
        self.backend_address = "0.0.0.0" if self.netns else "127.0.0.1"
        print(f"\n  hosts: {'network namespaces' if self.netns else 'loopback addresses'} "
              f"{', '.join(h.address for h in self.hosts)}", file=sys.stderr)
        super().setUp()
        self.workers = []
        for host in self.hosts[2:]:
            log = open(os.path.join(self.serve.dir.name, f"worker-{host.address}.log"), "w+")
            config = os.path.join(self.serve.dir.name, f"worker-{host.address}.toml")
            with open(self.serves[0].config) as f:
                text = f.read().replace(self.hosts[0].gateway, host.gateway)
            with open(config, "w") as f:
                f.write(text)
            proc = subprocess.Popen([*host.prefix, WAPPA, "-c", config, "worker", "--metrics-listen", f"{host.address}:0"],
                                    stdout=subprocess.DEVNULL, stderr=log)
            proc.log = log
            self.workers.append(proc)
        for proc in self.workers:
            wait_until(lambda: self.started(proc), timeout=20, what="the workers to start")

    def graph_names(self):
        return ",".join(f"IP:{h.gateway}" for h in self.hosts)

    def start_serve(self, index):
        host = self.hosts[index]
        return Serve(Gateway(f"redis://{host.gateway}:{self.redis.port}"), self.config_for(host.gateway),
                     args=self.serve_args, host=host.address, prefix=host.prefix)

    @staticmethod
    def started(proc):
        if proc.poll() is not None:
            raise AssertionError(f"a worker exited with {proc.returncode}")
        proc.log.flush()
        with open(proc.log.name) as f:
            text = f.read()
        return "outbound worker running" in text and "inbound worker running" in text

    def tearDown(self):
        for proc in self.workers:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            proc.log.close()
        super().tearDown()

    def test_a_worker_host_and_a_serve_host_die_mid_run(self):
        webhooks, sends = self.start_webhooks(), self.start_sends()

        def kill_hosts():
            self.workers[0].kill()       # a worker host: its in-flight sends and claimed events with it
            time.sleep(0.5)
            self.serves[0].proc.kill()   # a serve host: the load balancer sends everything to the other
        self.run_load(webhooks, sends, fault_at=kill_hosts, seconds=6)
        self.assertGreater(sum(webhooks.refusals.values()), 0, "the webhooks never met the dead serve")
        self.audit_webhooks(webhooks)
        outcomes = self.audit_sends(sends)
        # What the dead worker had claimed and not finished is settled as of unknown outcome
        # (failed); everything else is sent.
        self.assertLessEqual(outcomes["failed"], 64, outcomes)
        self.assertGreater(outcomes["sent"], len(sends.acked) - 64, outcomes)
        # (No assert_no_known_outcome_lost here: a send Meta accepted just before its worker was
        # killed has no one left to record it. Its lease expires and it is settled as unknown.)
        with self.answer_lock:
            senders = len(self.answers)
        print(f"  {senders} messages reached Meta, each once", file=sys.stderr)


if __name__ == "__main__":
    unittest.main()
