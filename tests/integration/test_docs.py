"""Every flag the binary accepts is in its man page and in the shell completions."""
import os
import re
import shutil
import subprocess
import unittest

from harness import run

SOURCE = os.environ.get("WAPPA_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
COMMANDS = ["serve", "worker", "enqueue", "inspect", "requeue", "stats", "subscribe", "publish", "migrate", "config"]


def flags_in_help(*command):
    text = run(*command, "--help").stdout
    return set(re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]*)", text)) - {"--help"}


def read(*parts):
    with open(os.path.join(SOURCE, *parts)) as f:
        return f.read()


class DocsTest(unittest.TestCase):
    def test_global_flags_documented_and_completed(self):
        flags = flags_in_help()
        self.assertIn("--config", flags)
        man = read("man", "wappa.1")
        for flag in flags:
            self.assertIn(flag.replace("-", r"\-"), man, f"{flag} missing from man/wappa.1")
            for completion in ("wappa.bash", "_wappa", "wappa.fish"):
                needle = flag if completion != "wappa.fish" else "-l " + flag[2:]
                self.assertIn(needle, read("completions", completion), f"{flag} missing from {completion}")

    def test_every_command_flag_documented_and_completed(self):
        subforms = [("enqueue", s) for s in ("text", "template", "media", "buttons", "list", "location", "reaction", "read")]
        for command in COMMANDS + subforms:
            flags = flags_in_help(*((command,) if isinstance(command, str) else command)) - flags_in_help()
            command = command if isinstance(command, str) else command[0]
            man = read("man", f"wappa-{command}.1")
            for flag in flags:
                self.assertIn(flag.replace("-", r"\-"), man, f"{flag} missing from man/wappa-{command}.1")
                self.assertIn(flag, read("completions", "wappa.bash"), f"{flag} missing from bash completion")
                self.assertIn(flag, read("completions", "_wappa"), f"{flag} missing from zsh completion")
                self.assertIn("-l " + flag[2:], read("completions", "wappa.fish"), f"{flag} missing from fish")

    @unittest.skipUnless(shutil.which("man"), "man is not installed")
    def test_man_pages_render_without_warnings(self):
        for page in ["wappa"] + [f"wappa-{c}" for c in COMMANDS]:
            r = subprocess.run(["man", "--warnings", "-l", os.path.join(SOURCE, "man", page + ".1")],
                               capture_output=True, text=True, env=dict(os.environ, MANWIDTH="80", MAN_KEEP_FORMATTING="0"))
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(r.stderr.strip(), "", f"{page}: {r.stderr}")


if __name__ == "__main__":
    unittest.main()


class SystemdUnitsTest(unittest.TestCase):
    """contrib/systemd: units that systemd accepts as they are, hardened, and that wait longer
    than the worker's grace before they kill."""

    def test_units_verify(self):
        analyze = shutil.which("systemd-analyze")
        if analyze is None:
            self.skipTest("systemd-analyze is not installed")
        import tempfile
        with tempfile.TemporaryDirectory() as d:
            stub = os.path.join(d, "wappa")
            with open(stub, "w") as f:
                f.write("#!/bin/sh\n")
            os.chmod(stub, 0o755)
            units = []
            for name, as_name in [("wappa-serve.service", "wappa-serve.service"),
                                  ("wappa-worker@.service", "wappa-worker@outbound.service")]:
                text = read("contrib", "systemd", name)
                for key in ["DynamicUser=yes", "NoNewPrivileges=yes", "ProtectSystem=strict", "Restart=on-failure",
                            "KillSignal=SIGTERM"]:
                    self.assertIn(key, text, f"{name} lacks {key}")
                stop = int(re.search(r"^TimeoutStopSec=(\d+)", text, re.M).group(1))
                grace = re.search(r"--grace (\d+)", text)
                self.assertGreater(stop, int(grace.group(1)) if grace else 10, name)
                path = os.path.join(d, as_name)
                with open(path, "w") as f:
                    f.write(text.replace("/usr/local/bin/wappa", stub))
                units.append(path)
            r = subprocess.run([analyze, "verify", "--man=no", *units], capture_output=True, text=True, timeout=120)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertNotIn("Unknown", r.stderr)
            self.assertNotIn("nknown key", r.stdout + r.stderr)


class OperationsDocsTest(unittest.TestCase):
    """The runbook and the alerts name only metrics the binary exports."""

    def test_alerts_and_runbook_name_real_metrics(self):
        sources = ""
        for top in ("lib", "apps"):
            for dirpath, _, files in os.walk(os.path.join(SOURCE, top)):
                for name in files:
                    if name.endswith((".cpp", ".hpp")):
                        with open(os.path.join(dirpath, name)) as f:
                            sources += f.read()
        exported = set(re.findall(r'"(wappa_[a-z_]+)"', sources))
        for doc in (("contrib", "prometheus", "alerts.yml"), ("docs", "operations.md")):
            named = set(re.findall(r"\b(wappa_[a-z_]+)", read(*doc)))
            self.assertTrue(named, doc)
            self.assertEqual(named - exported, set(), f"{'/'.join(doc)} names metrics that do not exist")
        alerts = read("contrib", "prometheus", "alerts.yml")
        for alert in re.findall(r"alert: (\w+)", alerts):
            self.assertIn(alert, read("docs", "operations.md"), f"{alert} is not explained in docs/operations.md")
