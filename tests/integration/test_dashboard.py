"""GET /ui, the operations dashboard, driven in a real headless Chromium (Debian's chromium,
chromium-driver and python3-selenium): it loads with the admin token, shows a queued message
arriving live, and a failed message leaves the list once its requeue button is clicked. A
screenshot is kept in $WAPPA_ARTIFACTS (the build tree's test-artifacts directory under ctest)."""
import json
import os
import shutil
import tempfile
import unittest

from harness import Redis, Serve, run, wait_until

ADMIN = {"Authorization": "Bearer admin-secret", "Content-Type": "application/json"}
ARTIFACTS = os.environ.get("WAPPA_ARTIFACTS", tempfile.gettempdir())

import sys

if not any(p.endswith("dist-packages") for p in sys.path):   # a Python other than Debian's runs the tests
    sys.path.append("/usr/lib/python3/dist-packages")
try:
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.common.exceptions import StaleElementReferenceException
except ImportError:   # scripts/deps installs it; without it the browser test cannot run
    webdriver = None


def browser():
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver") or "/usr/bin/chromedriver"
    if webdriver is None or chromium is None or not os.path.exists(driver):
        raise unittest.SkipTest("chromium, chromium-driver or python3-selenium is missing (scripts/deps installs them)")
    options = Options()
    options.binary_location = chromium
    for argument in ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--window-size=1400,1100"]:
        options.add_argument(argument)
    return webdriver.Chrome(service=Service(driver), options=options)


class DashboardTest(unittest.TestCase):
    def setUp(self):
        self.driver = browser()
        self.redis = Redis()
        # Every send fails at once: failed messages for the list.
        self.serve = Serve(self.redis, "[graph]\nsandbox_error_rate = 1\n[outbound]\nmax_attempts = 1\n", args=["--with-worker"])

    def tearDown(self):
        self.driver.quit()
        self.serve.stop()
        self.redis.stop()

    def queue(self, tenant, to):
        status, body = self.serve.request("POST", "/api/v1/messages", json.dumps(
            {"type": "text_message", "tenant": tenant, "to_number": to, "text": "hi"}), ADMIN)
        self.assertEqual(status, 202, body)
        return json.loads(body)["message_id"]

    def status(self, message_id):
        r = run("-c", self.serve.config, "inspect", message_id, "--json")
        return json.loads(r.stdout)["status"] if r.returncode == 0 else None

    def rows(self, table):
        return self.driver.find_elements(By.CSS_SELECTOR, f"#{table} tbody tr")

    def row_values(self, table, attribute):
        """One attribute of every row, read in the page in one go: the tables redraw as events
        come in, so a row found a moment before may be gone when it is read."""
        return self.driver.execute_script(
            "return Array.from(document.querySelectorAll(arguments[0]), r => [r.getAttribute(arguments[1]), r.innerText])",
            f"#{table} tbody tr", attribute)

    def click_requeue(self, message_id):
        """Clicks the row's requeue button; found again if the table redrew under the click."""
        for _ in range(20):
            try:
                row = next(r for r in self.rows("failed") if r.get_attribute("data-message-id") == message_id)
                row.find_element(By.CSS_SELECTOR, "button.requeue").click()
                return
            except StaleElementReferenceException:
                continue
        self.fail(f"the failed list kept redrawing: no requeue button clicked for {message_id}")

    def test_dashboard_live_tail_and_requeue(self):
        failed = [self.queue("acme", "16505550001"), self.queue("beta", "16505550002")]
        wait_until(lambda: all(self.status(i) == "failed" for i in failed), timeout=15, what="two failed messages")

        status, body = self.serve.request("GET", "/ui")
        self.assertEqual(status, 200)
        self.assertIn(b"<script type=\"module\" src=\"/ui/app.js\">", body)
        self.assertEqual(self.serve.request("GET", "/ui/nothing")[0], 404)

        d = self.driver
        d.get(f"http://127.0.0.1:{self.serve.port}/ui?access_token=admin-secret")
        wait_until(lambda: len(self.rows("queues")) == 2, timeout=15, what="the queues table")
        self.assertNotIn("access_token", d.current_url, "the token is taken out of the address bar")
        self.assertEqual({tenant for tenant, _ in self.row_values("queues", "data-tenant")}, {"acme", "beta"})
        wait_until(lambda: {m for m, _ in self.row_values("failed", "data-message-id")} >= set(failed), timeout=15,
                   what="the failed messages listed")
        wait_until(lambda: d.find_element(By.ID, "tail-state").text == "live", timeout=15, what="the live tail connected")

        arriving = self.queue("acme", "16505550003")   # shows up live
        wait_until(lambda: any(event == "outgoing_message" and arriving in text for event, text in self.row_values("tail", "data-event")),
                   timeout=15, what="the queued message in the live tail")

        target = failed[0]
        self.click_requeue(target)
        wait_until(lambda: target not in [m for m, _ in self.row_values("failed", "data-message-id")], timeout=10,
                   what="the requeued message to leave the list")
        r = run("-c", self.serve.config, "inspect", target, "--json")
        self.assertIn("requeued", [h.get("event") for h in json.loads(r.stdout)["history"]])

        d.find_element(By.ID, "lookup-id").send_keys(failed[1])
        d.find_element(By.CSS_SELECTOR, "#lookup button").click()
        wait_until(lambda: failed[1] in d.find_element(By.ID, "lookup-result").text, timeout=10, what="the lookup result")

        os.makedirs(ARTIFACTS, exist_ok=True)
        shot = os.path.join(ARTIFACTS, "dashboard.png")
        self.assertTrue(d.save_screenshot(shot))
        self.assertGreater(os.path.getsize(shot), 10_000)

    def test_refuses_a_wrong_token(self):
        d = self.driver
        d.get(f"http://127.0.0.1:{self.serve.port}/ui?access_token=wrong")
        wait_until(lambda: d.find_element(By.ID, "login").is_displayed(), timeout=10, what="the login form")
        self.assertFalse(d.find_element(By.ID, "app").is_displayed())
        self.assertIn("refused", d.find_element(By.ID, "login-error").text)


if __name__ == "__main__":
    unittest.main()
