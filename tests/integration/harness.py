"""Shared helpers for the black-box tests: a private redis-server, `wappa serve` as a user runs
it, signed webhook posts, and `wappa subscribe` in the background. Standard library only."""
import atexit
import glob
import hashlib
import hmac
import http.client
import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
import unittest

WAPPA = os.environ.get("WAPPA_BIN", "wappa")
FIXTURES = os.environ.get("WAPPA_FIXTURES", os.path.join(os.path.dirname(__file__), "..", "fixtures"))
SECRET = "wappa-test-app-secret"
TENANT_A = "106540352242922"
TENANT_B = "110011223344556"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cluster_port():
    """A free port for a Redis Cluster node, with its bus port (+10000) free too. Both below
    Linux's ephemeral range (32768 on), so that no connection of a suite running beside this one
    can take them between this check and redis-server's bind."""
    import random
    while True:
        port = random.randint(10000, 22767)
        try:
            with socket.socket() as a, socket.socket() as b:
                a.bind(("127.0.0.1", port))
                b.bind(("127.0.0.1", port + 10000))
            return port
        except OSError:
            continue


def fixture(name):
    with open(os.path.join(FIXTURES, name), "rb") as f:
        return f.read()


def sign(body, secret=SECRET):
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def status_webhook(message_id, wamid, status, error=None):
    """A signed-ready status webhook (status_sent.json) about one of our sent messages."""
    body = json.loads(fixture("status_sent.json"))
    s = body["entry"][0]["changes"][0]["value"]["statuses"][0]
    s.update({"id": wamid, "status": status, "biz_opaque_callback_data": message_id})
    if error:
        s["errors"] = [{"code": error, "title": "Message undeliverable", "message": "Message undeliverable"}]
    return json.dumps(body).encode()


def post_signed(port, body, path="/webhook", host="127.0.0.1"):
    """POSTs a signed webhook to `wappa serve` on `port`: its status, or 0 while it is not up."""
    conn = http.client.HTTPConnection(host, port, timeout=5)
    try:
        conn.request("POST", path, body, {"X-Hub-Signature-256": sign(body)})
        return conn.getresponse().status
    except OSError:
        return 0
    finally:
        conn.close()


def http_get(port, path):
    """(status, text) of a GET on a local port."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.read().decode()
    finally:
        conn.close()


def wait_until(predicate, timeout=10.0, what="condition", interval=0.02):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what}")


def info_field(info, field):
    return int(re.search(rf"^{field}:(\d+)", info, re.M).group(1))


def kill_connections(cli, command):
    ids = [line.split()[0].split("=")[1] for line in cli("CLIENT", "LIST").splitlines() if f" cmd={command} " in line]
    for client_id in ids:
        cli("CLIENT", "KILL", "ID", client_id)
    return len(ids)


class Redis:
    """A private redis-server; `durable` keeps an fsync-always AOF so that it survives a kill."""

    def __init__(self, durable=False, bind="127.0.0.1"):
        self.port = free_port()
        self.bind = bind   # "0.0.0.0" for clients in other network namespaces
        self.proc = None
        self.dir = tempfile.TemporaryDirectory() if durable else None
        self.start()

    def start(self):
        persistence = ["--appendonly", "yes", "--appendfsync", "always", "--dir", self.dir.name] if self.dir \
            else ["--appendonly", "no"]
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", self.bind, "--save", "", *persistence,
             *(["--protected-mode", "no"] if self.bind != "127.0.0.1" else [])],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_until(lambda: self.cli("PING") == "PONG", what="redis-server to start")

    def stop(self):
        if self.proc:
            self.proc.kill()
            self.proc.wait()
            self.proc = None

    def cli(self, *args):
        r = subprocess.run(["redis-cli", "-p", str(self.port), *args], capture_output=True, text=True)
        return r.stdout.strip()

    def cli_as(self, user, password, *args):
        """One command logged in as an ACL user."""
        r = subprocess.run(["redis-cli", "-p", str(self.port), "--user", user, "--pass", password, "--no-auth-warning", *args],
                           capture_output=True, text=True)
        return r.stdout.strip()

    def info_total(self, section, field):
        """An INFO figure (a cluster: the sum over its masters)."""
        return info_field(self.cli("INFO", section), field)

    def fill_up(self):
        """From now on a write that needs more memory is refused with OOM (a cluster: every master's
        limit is what it holds now)."""
        self.cli("CONFIG", "SET", "maxmemory-policy", "noeviction")
        self.cli("CONFIG", "SET", "maxmemory", str(self.info_total("memory", "used_memory")))

    def url_as(self, user, password):
        return f"redis://{user}:{password}@127.0.0.1:{self.port}"

    def event_clock(self, tenant):
        """The key of the clock that numbers `tenant`'s events (one for all tenants)."""
        return "wappa:events:clock"

    def kill_connections(self, command):
        """Cuts off every connection whose last command was `command` (a blocked XREAD...)."""
        return kill_connections(self.cli, command)

    @property
    def url(self):
        return f"redis://127.0.0.1:{self.port}"


class RedisCluster:
    """A private Redis Cluster on loopback: a master with one replica for each slot range, the
    ranges chosen by the test (so that it knows which master holds which tenant). Nodes time out
    after 1 s, so a killed master's replica takes over within about two seconds."""

    def __init__(self, ranges=((0, 10999), (11000, 12999), (13000, 16383)), durable=False, replicas=True, full_coverage=True):
        self.full_coverage = full_coverage   # False: the other masters' slots keep working while one is down
        self.dir = tempfile.TemporaryDirectory()
        self.ranges = ranges
        self.durable = durable
        self.replicas = replicas
        self.ports = []
        while len(self.ports) < (2 if replicas else 1) * len(ranges):
            port = cluster_port()
            if port not in self.ports:
                self.ports.append(port)
        self.procs = {}
        # Killed when the tests end however they end (a failed setUp skips tearDown).
        atexit.register(self.stop)
        for port in self.ports:
            self.start_node(port)
        masters, replicas = self.ports[:len(ranges)], self.ports[len(ranges):]
        for port in self.ports[1:]:
            self.node_cli(port, "CLUSTER", "MEET", "127.0.0.1", str(self.ports[0]))
        for port, (first, last) in zip(masters, ranges):
            self.node_cli(port, "CLUSTER", "ADDSLOTSRANGE", str(first), str(last))
        # Polled every 0.1 s: each poll is a few redis-cli processes, and the next test's cluster
        # starts while a test runs.
        wait_until(lambda: all(len(self.node_cli(p, "CLUSTER", "NODES").splitlines()) == len(self.ports) for p in self.ports),
                   what="the cluster's nodes to meet", interval=0.1)
        for master, replica in zip(masters, replicas if self.replicas else []):
            master_id = self.node_cli(master, "CLUSTER", "MYID")
            wait_until(lambda: self.node_cli(replica, "CLUSTER", "REPLICATE", master_id) == "OK", what="a replica to attach",
                       interval=0.1)
        wait_until(self.healthy, timeout=30, what="the cluster to be ok", interval=0.1)

    def start_node(self, port):
        persistence = ["--appendonly", "yes", "--appendfsync", "always"] if self.durable else ["--appendonly", "no"]
        self.procs[port] = subprocess.Popen(
            ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", *persistence,
             "--dir", self.dir.name, "--dbfilename", f"dump-{port}.rdb", "--appendfilename", f"aof-{port}",
             "--cluster-enabled", "yes", "--cluster-config-file", f"nodes-{port}.conf", "--cluster-node-timeout", "1000", "--repl-diskless-sync-delay", "0",
             "--repl-ping-replica-period", "1",
             "--cluster-require-full-coverage", "yes" if self.full_coverage else "no",
             "--logfile", f"node-{port}.log"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=self.dir.name)
        wait_until(lambda: self.node_cli(port, "PING") == "PONG", what="a cluster node to start")

    def healthy(self):
        """Every node says ok, and every slot range has a master with a replica in sync."""
        if any("cluster_state:ok" not in self.node_cli(p, "CLUSTER", "INFO") for p in self.procs):
            return False
        shards = self.node_cli(next(iter(self.procs)), "CLUSTER", "SLOTS")
        return shards.count("127.0.0.1") >= (2 if self.replicas else 1) * len(self.ranges)

    def healthy_without_failed(self):
        """Every live node says ok (after a failover: the killed master is marked failed)."""
        return all("cluster_state:ok" in self.node_cli(p, "CLUSTER", "INFO") for p, proc in self.procs.items() if proc.poll() is None)

    def node_cli(self, port, *args):
        r = subprocess.run(["redis-cli", "-p", str(port), *args], capture_output=True, text=True)
        return r.stdout.strip()

    def live_nodes(self):
        return [p for p, proc in self.procs.items() if proc.poll() is None]

    def masters(self):
        return [p for p in self.live_nodes() if self.node_cli(p, "ROLE").startswith("master")]

    def cli(self, *args):
        """One command as the suites mean it on one Redis: a key's command follows redirections
        through any live node; KEYS and DBSIZE add up the masters; FLUSHALL, CONFIG SET and ACL go
        to every node (a cluster has no cluster-wide settings or users)."""
        name = args[0].upper()
        if name in ("KEYS", "--SCAN"):
            return "\n".join(key for p in self.masters() for key in self.node_cli(p, *args).splitlines() if key)
        if name == "DBSIZE":
            return str(sum(int(self.node_cli(p, *args)) for p in self.masters()))
        if name in ("FLUSHALL", "CONFIG", "ACL"):
            return [self.node_cli(p, *args) for p in self.live_nodes()][-1]
        return self.cli_as(None, None, *args)

    def cli_as(self, user, password, *args):
        login = ["--user", user, "--pass", password, "--no-auth-warning"] if user else []
        r = subprocess.run(["redis-cli", "-c", "-p", str(self.live_nodes()[0]), *login, *args], capture_output=True, text=True)
        return r.stdout.strip()

    def info_total(self, section, field):
        return sum(info_field(self.node_cli(p, "INFO", section), field) for p in self.masters())

    def fill_up(self):
        for p in self.masters():
            used = info_field(self.node_cli(p, "INFO", "memory"), "used_memory")
            self.node_cli(p, "CONFIG", "SET", "maxmemory-policy", "noeviction")
            self.node_cli(p, "CONFIG", "SET", "maxmemory", str(used))

    def master_of(self, key):
        """The port of the master that holds `key`."""
        slot = int(self.cli("CLUSTER", "KEYSLOT", key))
        for p, proc in self.procs.items():
            if proc.poll() is not None:
                continue
            for line in self.node_cli(p, "CLUSTER", "NODES").splitlines():
                fields = line.split()
                if "myself" in fields[2] and "master" in fields[2]:
                    for r in fields[8:]:
                        first, _, last = r.partition("-")
                        if first.isdigit() and int(first) <= slot <= int(last or first):
                            return p
        return None

    def kill(self, port):
        self.procs[port].kill()
        self.procs[port].wait()

    def stop(self):
        """Kills every node (kill -9); start() brings them back from their nodes.conf."""
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait()

    def start(self):
        for port, proc in list(self.procs.items()):
            if proc.poll() is not None:
                self.start_node(port)
        wait_until(self.healthy, timeout=30, what="the cluster to be ok again")

    @property
    def port(self):
        return self.ports[0]

    def url_as(self, user, password):
        return self.url.replace("://", f"://{user}:{password}@", 1)

    def event_clock(self, tenant):
        """A script touches one slot only: on a cluster each tenant's events have their own clock."""
        return f"wappa:{{{tenant}}}:events:clock"

    def kill_connections(self, command):
        return sum(kill_connections(lambda *args: self.node_cli(p, *args), command) for p in self.live_nodes())

    @property
    def url(self):
        return "redis+cluster://" + ",".join(f"127.0.0.1:{p}" for p in self.ports[:2])


if os.environ.get("WAPPA_TEST_REDIS") == "cluster":
    import concurrent.futures
    _spare_clusters = {}   # durable → the next test's cluster, starting
    _cluster_starter = concurrent.futures.ThreadPoolExecutor(max_workers=1)

    def Redis(durable=False, bind="127.0.0.1"):  # noqa: F811
        """WAPPA_TEST_REDIS=cluster: the suites' private Redis is a 3-master cluster instead. A new
        master waits 2 s before it accepts writes, so the next one is started while this one
        serves its test."""
        spare = _spare_clusters.pop(durable, None)
        cluster = spare.result() if spare else RedisCluster(durable=durable, replicas=False)
        _spare_clusters[durable] = _cluster_starter.submit(RedisCluster, durable=durable, replicas=False)
        return cluster


def postgres_bin(name):
    """A PostgreSQL server program: Debian keeps them out of PATH."""
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return found[-1] if found else shutil.which(name) or name


class Postgres:
    """A private PostgreSQL: initdb in a temporary folder, loopback only, a free port, no fsync.
    As root it runs as the `postgres` user (initdb refuses root). `crash_safe` keeps
    synchronous_commit on, so that a commit survives the server being killed (its process, not the
    machine: fsync stays off)."""

    def __init__(self, crash_safe=False, listen="127.0.0.1"):
        self.synchronous_commit = "on" if crash_safe else "off"
        self.listen = listen   # "*" for clients in other network namespaces
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="wappa-pg-")
        self.data = os.path.join(self.dir, "data")
        self.log = os.path.join(self.dir, "postgres.log")
        self.as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if self.as_user:
            shutil.chown(self.dir, "postgres", "postgres")
        subprocess.run([*self.as_user, postgres_bin("initdb"), "-D", self.data, "-A", "trust", "-U", "wappa", "--no-sync",
                        "-E", "UTF8", "--locale", "C"], check=True, capture_output=True)
        if listen != "127.0.0.1":
            with open(os.path.join(self.data, "pg_hba.conf"), "a") as f:
                f.write("host all all 0.0.0.0/0 trust\n")
        atexit.register(self.close)   # also after a failed setUp, which skips tearDown
        self.start()

    def start(self):
        options = f"-p {self.port} -c listen_addresses='{self.listen}' -k {self.dir} -c fsync=off -c synchronous_commit={self.synchronous_commit} " \
                  "-c full_page_writes=off -c max_connections=200"
        subprocess.run([*self.as_user, postgres_bin("pg_ctl"), "-D", self.data, "-o", options, "-l", self.log, "-w", "start"],
                       check=True, capture_output=True)

    def stop(self, mode="fast"):
        subprocess.run([*self.as_user, postgres_bin("pg_ctl"), "-D", self.data, "-m", mode, "-w", "stop"], capture_output=True)

    def close(self):
        self.stop("immediate")
        shutil.rmtree(self.dir, ignore_errors=True)

    @property
    def url(self):
        return f"postgresql://wappa@127.0.0.1:{self.port}/postgres"

    def sql(self, query):
        """Rows of a query as lists of strings (psql, unaligned)."""
        r = subprocess.run(["psql", self.url, "-X", "-A", "-t", "-F", "\t", "-v", "ON_ERROR_STOP=1", "-c", query],
                           capture_output=True, text=True)
        if r.returncode != 0:
            raise AssertionError(f"psql failed: {r.stderr}")
        return [line.split("\t") for line in r.stdout.splitlines() if line]


class PgBouncer:
    """PgBouncer in transaction mode in front of a Postgres: a server connection per transaction,
    so nothing prepared on one is there on the next (what `prepared_statements = false` is for)."""

    def __init__(self, postgres):
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="wappa-pgbouncer-")
        with open(os.path.join(self.dir, "users.txt"), "w") as f:
            f.write('"wappa" ""\n')
        with open(os.path.join(self.dir, "pgbouncer.ini"), "w") as f:
            f.write(f"""[databases]
postgres = host=127.0.0.1 port={postgres.port} dbname=postgres user=wappa
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {self.port}
unix_socket_dir =
auth_type = trust
auth_file = {self.dir}/users.txt
pool_mode = transaction
default_pool_size = 2
server_round_robin = 1
logfile = {self.dir}/pgbouncer.log
""")
        as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []   # it refuses root
        if as_user:
            shutil.chown(self.dir, "postgres", "postgres")
            for name in ("users.txt", "pgbouncer.ini"):
                shutil.chown(os.path.join(self.dir, name), "postgres", "postgres")
        binary = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"
        self.proc = subprocess.Popen([*as_user, binary, os.path.join(self.dir, "pgbouncer.ini")],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_until(self._listening, what="pgbouncer to listen")

    def _listening(self):
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
            return True
        except OSError:
            return False

    @property
    def url(self):
        return f"postgresql://wappa@127.0.0.1:{self.port}/postgres"

    def close(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        shutil.rmtree(self.dir, ignore_errors=True)


def write_config(directory, redis_url, port, extra="", host="127.0.0.1"):
    path = os.path.join(directory, "wappa.toml")
    with open(path, "w") as f:
        f.write(f"""
[server]
listen = "{host}:{port}"
threads = 2
admin_token = "admin-secret"
body_limit = "64KiB"

[redis]
url = "{redis_url}"
connect_timeout = "1s"
command_timeout = "2s"

[[tenants]]
id = "acme"
phone_number_id = "{TENANT_A}"
waba_id = "102290129340398"
access_token = "token-acme"
app_secret = "{SECRET}"
verify_token = "verify-acme"
api_token = "api-acme"

[[tenants]]
id = "beta"
phone_number_id = "{TENANT_B}"
waba_id = "109876543210987"
access_token = "token-beta"
app_secret = "{SECRET}"
verify_token = "verify-beta"
api_token = "api-beta"
{extra}
""")
    return path


def run(*args, input=None, timeout=30, env=None):
    return subprocess.run([WAPPA, *args], capture_output=True, text=True, input=input, timeout=timeout, env=env)


class Serve:
    """`wappa serve` on a free port against the given Redis (on `host`, a loopback address)."""

    def __init__(self, redis, extra_config="", args=(), host="127.0.0.1", prefix=()):
        self.dir = tempfile.TemporaryDirectory()
        self.host = host
        self.port = free_port()
        self.config = write_config(self.dir.name, redis.url, self.port, extra_config, host)
        self.log = open(os.path.join(self.dir.name, "serve.log"), "w+")
        # `prefix`: how to run it elsewhere (`ip netns exec NAME`)
        self.proc = subprocess.Popen([*prefix, WAPPA, "-c", self.config, "serve", *args], stdout=self.log,
                                     stderr=subprocess.STDOUT)
        wait_until(self._listening, what="wappa serve to listen")

    def _listening(self):
        if self.proc.poll() is not None:
            raise AssertionError(f"wappa serve exited with {self.proc.returncode}: {self.output()}")
        try:
            socket.create_connection((self.host, self.port), timeout=0.2).close()
            return True
        except OSError:
            return False

    def output(self):
        self.log.flush()
        with open(self.log.name) as f:
            return f.read()

    def request(self, method, path, body=None, headers=None):
        conn = http.client.HTTPConnection(self.host, self.port, timeout=10)
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        data = response.read()
        conn.close()
        return response.status, data

    def post_webhook(self, body, path="/webhook", signature=None, secret=SECRET):
        headers = {"Content-Type": "application/json"}
        if signature is not False:
            headers["X-Hub-Signature-256"] = signature or sign(body, secret)
        return self.request("POST", path, body, headers)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        self.dir.cleanup()


class Subscriber:
    """`wappa subscribe` in the background; ready once it says it has subscribed."""

    def __init__(self, config, *args):
        self.proc = subprocess.Popen([WAPPA, "-c", config, "subscribe", *args],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.stderr_lines = []
        # On a cluster the slot map's lines come first.
        while not self.stderr_lines or " redis " in self.stderr_lines[-1] and "slot map" in self.stderr_lines[-1]:
            self.stderr_lines.append(self.proc.stderr.readline())
        if "subscribed to" not in self.stderr_lines[-1]:
            raise AssertionError(f"subscribe did not start: {''.join(self.stderr_lines)!r}")

    def finish(self, timeout=15):
        out, err = self.proc.communicate(timeout=timeout)
        self.stderr_lines.append(err)
        return self.proc.returncode, [json.loads(l) for l in out.splitlines() if l.strip()]


class ServeCase(unittest.TestCase):
    """A private Redis and `wappa serve` on it, per test."""

    def setUp(self):
        self.redis = Redis()
        self.serve = Serve(self.redis)

    def tearDown(self):
        self.serve.stop()
        self.redis.stop()
