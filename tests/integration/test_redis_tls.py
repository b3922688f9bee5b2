"""Redis over TLS (`rediss://`, INTERFACE.md §2): a private redis-server with TLS only, its own
CA, a client certificate, an ACL user; certificate and host name checks that refuse the wrong
server with an error that says why."""
import json
import os
import subprocess
import tempfile
import unittest

from harness import WAPPA, fixture, free_port, post_signed, run, wait_until, write_config

STREAM_A = "wappa:{acme}:inbound"


def openssl(*args):
    subprocess.run(["openssl", *args], check=True, capture_output=True)


class Authority:
    """A throw-away CA in `directory` that signs leaf certificates."""

    def __init__(self, directory, name):
        self.dir, self.name = directory, name
        self.cert, self.key = f"{directory}/{name}-ca.pem", f"{directory}/{name}-ca.key"
        openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", f"/CN={name} test CA",
                "-keyout", self.key, "-out", self.cert)

    def issue(self, leaf, names=None):
        cert, key, csr = (f"{self.dir}/{leaf}.pem", f"{self.dir}/{leaf}.key", f"{self.dir}/{leaf}.csr")
        openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={leaf}", "-keyout", key, "-out", csr)
        extensions = f"{self.dir}/{leaf}.ext"
        with open(extensions, "w") as f:
            f.write(f"subjectAltName={names}\n" if names else "extendedKeyUsage=clientAuth\n")
        openssl("x509", "-req", "-in", csr, "-CA", self.cert, "-CAkey", self.key, "-CAcreateserial", "-days", "2",
                "-out", cert, "-extfile", extensions)
        return cert, key


class TlsRedis:
    """redis-server with TLS only (no plain port), on 127.0.0.1 and 127.0.0.2, requiring a
    client certificate signed by its CA, with an ACL user `gateway` and the default user off."""

    def __init__(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.ca = Authority(self.tmp.name, "wappa")
        self.server_cert, self.server_key = self.ca.issue("redis", "IP:127.0.0.1,DNS:localhost")
        self.client_cert, self.client_key = self.ca.issue("client")
        self.port = free_port()
        self.proc = subprocess.Popen(
            ["redis-server", "--port", "0", "--tls-port", str(self.port), "--bind", "127.0.0.1", "127.0.0.2",
             "--tls-cert-file", self.server_cert, "--tls-key-file", self.server_key,
             "--tls-ca-cert-file", self.ca.cert, "--tls-auth-clients", "yes", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_until(lambda: self.cli("PING") == "PONG", what="redis-server (TLS) to start")
        self.cli("ACL", "SETUSER", "gateway", "on", ">tls-s3cret", "~*", "&*", "+@all")
        self.cli("ACL", "SETUSER", "default", "off")

    def cli(self, *args):
        login = ["--user", "gateway", "--pass", "tls-s3cret", "--no-auth-warning"] if args[:1] != ("PING",) else []
        r = subprocess.run(["redis-cli", "--tls", "--cacert", self.ca.cert, "--cert", self.client_cert,
                            "--key", self.client_key, "-p", str(self.port), *login, *args],
                           capture_output=True, text=True)
        if "NOAUTH" in r.stdout + r.stderr and args[:1] == ("PING",):
            return "PONG"   # up, and already asking for a login
        return r.stdout.strip()

    def url(self, host="127.0.0.1", password="tls-s3cret"):
        return f"rediss://gateway:{password}@{host}:{self.port}"

    def tls_config(self, ca=None, client=True):
        lines = [f'tls_ca_file = "{ca or self.ca.cert}"']
        if client:
            lines += [f'tls_cert_file = "{self.client_cert}"', f'tls_key_file = "{self.client_key}"']
        return "\n".join(lines)

    def stop(self):
        self.proc.kill()
        self.proc.wait()
        self.tmp.cleanup()


def with_redis_keys(config_path, keys):
    """Adds keys to the [redis] table of a harness-written config."""
    with open(config_path) as f:
        text = f.read()
    with open(config_path, "w") as f:
        f.write(text.replace("[redis]\n", "[redis]\n" + keys + "\n", 1))


class RedisTlsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.redis = TlsRedis()

    @classmethod
    def tearDownClass(cls):
        cls.redis.stop()

    def setUp(self):
        self.redis.cli("FLUSHALL")
        self.dir = tempfile.TemporaryDirectory()

    def tearDown(self):
        self.dir.cleanup()

    def config(self, url, keys, name="wappa.toml"):
        path = write_config(self.dir.name, url, free_port())
        with_redis_keys(path, keys)
        final = os.path.join(self.dir.name, name)
        os.replace(path, final)
        return final

    def test_serve_enqueue_and_worker_over_tls_with_a_client_certificate(self):
        config = self.config(self.redis.url(), self.redis.tls_config())
        serve_log = open(os.path.join(self.dir.name, "serve.log"), "w+")
        port = self.listen_port(config)
        proc = subprocess.Popen([WAPPA, "-c", config, "serve"], stdout=serve_log, stderr=subprocess.STDOUT)
        try:
            wait_until(lambda: post_signed(port, fixture("text.json")) == 200, timeout=20, what="serve over TLS")
            self.assertEqual(self.redis.cli("XLEN", STREAM_A), "1")

            r = run("-c", config, "enqueue", "text", "--tenant", "acme", "--to", "15551234567", "--text", "over TLS")
            self.assertEqual(r.returncode, 0, r.stderr)
            message_id = r.stdout.strip()
            worker = subprocess.Popen([WAPPA, "-c", config, "worker", "--role", "outbound"],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                def sent():
                    shown = run("-c", config, "inspect", message_id, "--json")
                    return shown.returncode == 0 and json.loads(shown.stdout)["status"] in ("sent", "delivered", "read")
                wait_until(sent, timeout=20, what="the worker to send over TLS")
            finally:
                worker.terminate()
                worker.wait(timeout=15)
            stats = run("-c", config, "stats", "--json")
            self.assertEqual(stats.returncode, 0, stats.stderr)
            self.assertEqual(json.loads(stats.stdout)["outbound"]["queued"], 0)
        finally:
            proc.terminate()
            proc.wait(timeout=15)
            serve_log.close()
        with open(serve_log.name) as f:
            self.assertNotIn("tls-s3cret", f.read())

    @staticmethod
    def listen_port(config):
        with open(config) as f:
            return int(f.read().split('listen = "127.0.0.1:')[1].split('"')[0])

    def assert_refused(self, config, *why):
        r = run("-c", config, "stats", timeout=30)
        self.assertEqual(r.returncode, 69, r.stderr)
        for reason in why:
            self.assertIn(reason, r.stderr)
        self.assertNotIn("tls-s3cret", r.stderr)
        return r.stderr

    def test_a_server_signed_by_another_ca_is_refused(self):
        other = Authority(self.dir.name, "other")
        config = self.config(self.redis.url(), self.redis.tls_config(ca=other.cert))
        self.assert_refused(config, "TLS handshake failed", "certificate verify failed")

    def test_a_certificate_for_another_host_is_refused(self):
        # 127.0.0.2 reaches the same server, whose certificate names only 127.0.0.1 and localhost.
        config = self.config(self.redis.url(host="127.0.0.2"), self.redis.tls_config())
        self.assert_refused(config, "TLS handshake failed", "127.0.0.2")
        by_name = self.config(self.redis.url(host="localhost"), self.redis.tls_config(), name="by-name.toml")
        self.assertEqual(run("-c", by_name, "stats").returncode, 0)

    def test_no_client_certificate_or_a_wrong_password_is_refused(self):
        self.assert_refused(self.config(self.redis.url(), self.redis.tls_config(client=False)), "redis at 127.0.0.1")
        wrong = self.config(self.redis.url(password="wrong-pass"), self.redis.tls_config(), name="wrong.toml")
        stderr = self.assert_refused(wrong, "refused the connection setup")
        self.assertNotIn("wrong-pass", stderr)

    def test_plain_redis_url_on_a_tls_port_fails_fast_with_a_clear_error(self):
        config = self.config(f"redis://gateway:tls-s3cret@127.0.0.1:{self.redis.port}", "")
        self.assert_refused(config, "redis")

    def test_bad_tls_settings_are_config_errors(self):
        config = self.config(self.redis.url(), 'tls_ca_file = "/nonexistent/ca.pem"\ntls_cert_file = "' +
                             self.redis.client_cert + '"')
        r = run("-c", config, "config", "check")
        self.assertEqual(r.returncode, 78, r.stderr)
        self.assertIn("redis.tls_ca_file", r.stdout + r.stderr)
        self.assertIn("redis.tls_key_file", r.stdout + r.stderr)
        # A cluster over TLS takes the same files; a malformed seed list is a config error.
        cluster = self.config("rediss+cluster://127.0.0.1:7000,127.0.0.1:7001", "", name="cluster.toml")
        self.assertEqual(run("-c", cluster, "config", "check").returncode, 0)
        cluster = self.config("rediss+cluster://127.0.0.1:7000,:7001", "", name="bad-cluster.toml")
        r = run("-c", cluster, "config", "check")
        self.assertEqual(r.returncode, 78, r.stderr)
        self.assertIn("redis.url", r.stdout + r.stderr)
        self.assertIn("seed node 2", r.stdout + r.stderr)


if __name__ == "__main__":
    unittest.main()
