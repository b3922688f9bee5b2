"""Exit codes, global options and `wappa config` (INTERFACE.md §1, §2)."""
import os
import tempfile
import unittest

from harness import Redis, free_port, run, write_config


class CliTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()

    def tearDown(self):
        self.dir.cleanup()

    def write(self, text):
        path = os.path.join(self.dir.name, "w.toml")
        with open(path, "w") as f:
            f.write(text)
        return path

    def test_version_and_help(self):
        r = run("--version")
        self.assertEqual(r.returncode, 0)
        self.assertRegex(r.stdout, r"^wappa \d+\.\d+\.\d+")
        self.assertEqual(run("-V").returncode, 0)
        r = run("--help")
        self.assertEqual(r.returncode, 0)
        for command in ("serve", "subscribe", "publish", "config"):
            self.assertIn(command, r.stdout)

    def test_usage_errors_exit_64(self):
        self.assertEqual(run().returncode, 64)
        self.assertEqual(run("no-such-command").returncode, 64)
        self.assertEqual(run("subscribe", "--no-such-flag").returncode, 64)
        self.assertEqual(run("--log-level", "loud", "config", "check").returncode, 64)

    def test_config_check_reports_each_problem_with_file_line_and_key(self):
        path = self.write('[server]\nlisten = "127.0.0.1:1"\nbody_limt = 5\n[outbound]\non_ambiguous = "maybe"\n')
        r = run("-c", path, "config", "check")
        self.assertEqual(r.returncode, 78)
        self.assertIn(f"{path}:3:1: server.body_limt: unknown key (did you mean 'body_limit'?)", r.stderr)
        self.assertIn("outbound.on_ambiguous", r.stderr)

    def test_missing_explicit_config_is_78(self):
        r = run("-c", os.path.join(self.dir.name, "absent.toml"), "config", "check")
        self.assertEqual(r.returncode, 78)
        self.assertIn("absent.toml", r.stderr)

    def test_global_options_before_or_after_the_command(self):
        path = write_config(self.dir.name, "redis://127.0.0.1:1", free_port())
        self.assertEqual(run("-c", path, "config", "check").returncode, 0)
        self.assertEqual(run("config", "check", "-c", path).returncode, 0)
        self.assertEqual(run("config", "check", "--config", path, "--log-format", "json").returncode, 0)

    def test_config_show_masks_secrets_and_applies_environment(self):
        path = write_config(self.dir.name, "redis://:hunter2@127.0.0.1:6379", free_port())
        env = dict(os.environ, WAPPA_SERVER_LISTEN="127.0.0.1:9999")
        r = run("-c", path, "config", "show", env=env)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn('listen = "127.0.0.1:9999"', r.stdout)
        for secret in ("hunter2", "admin-secret", "wappa-test-app-secret", "verify-acme", "api-acme"):
            self.assertNotIn(secret, r.stdout)
        self.assertIn('id = "acme"', r.stdout)

    def test_example_config_is_valid_and_documents_every_key(self):
        source = os.environ.get("WAPPA_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
        example = os.path.join(source, "wappa.toml.example")
        env = dict(os.environ, ACME_ACCESS_TOKEN="a", ACME_APP_SECRET="b", ACME_VERIFY_TOKEN="c", ACME_API_TOKEN="d")
        self.assertEqual(run("-c", example, "config", "check", env=env).returncode, 0)
        shown = run("-c", self.write(""), "config", "show").stdout
        with open(example) as f:
            documented = f.read()
        for line in shown.splitlines():
            if " = " in line:
                key = line.split(" = ")[0]
                self.assertRegex(documented, rf"(?m)^#? ?{key} = ", f"{key} is not in wappa.toml.example")

    def test_serve_without_redis_exits_69(self):
        port = free_port()
        path = write_config(self.dir.name, f"redis://127.0.0.1:{free_port()}", port)
        r = run("-c", path, "serve", timeout=20)
        self.assertEqual(r.returncode, 69)
        self.assertIn("redis", r.stderr)

    def test_serve_warns_unless_noeviction(self):
        import subprocess
        from harness import WAPPA, wait_until
        redis = Redis()
        log_path = os.path.join(self.dir.name, "serve.log")
        try:
            redis.cli("CONFIG", "SET", "maxmemory-policy", "allkeys-lru")
            path = write_config(self.dir.name, redis.url, free_port())
            with open(log_path, "w") as log:
                proc = subprocess.Popen([WAPPA, "-c", path, "serve"], stderr=log)
                try:
                    def warned():
                        with open(log_path) as f:
                            return "allkeys-lru" in f.read()
                    wait_until(warned, timeout=20, what="the maxmemory-policy warning")
                finally:
                    proc.terminate()
                    proc.wait(timeout=15)
            with open(log_path) as f:
                self.assertIn("maxmemory-policy", f.read())
        finally:
            redis.stop()

    def test_json_logs_are_one_object_per_line(self):
        import json
        path = write_config(self.dir.name, f"redis://127.0.0.1:{free_port()}", free_port())
        r = run("-c", path, "--log-format", "json", "serve", timeout=20)
        lines = [l for l in r.stderr.splitlines() if l.startswith("{")]
        self.assertTrue(lines, r.stderr)
        for line in lines:
            record = json.loads(line)
            self.assertTrue({"timestamp", "level", "logger", "message", "fields"} <= record.keys())


if __name__ == "__main__":
    unittest.main()
