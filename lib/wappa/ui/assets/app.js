// The operations dashboard: plain JavaScript, no build step, no CDN. Every figure comes from the
// admin API (the same JSON as `wappa stats --json`), the live tail from GET /api/v1/events.
const $ = (selector) => document.querySelector(selector);
const TOKEN_KEY = "wappa.admin_token";
const state = { token: null, previous: null, source: null, tailRows: 0 };

function takeTokenFromUrl() {
  const url = new URL(location.href);
  const fromQuery = url.searchParams.get("access_token");
  if (fromQuery) {
    sessionStorage.setItem(TOKEN_KEY, fromQuery);
    url.searchParams.delete("access_token");
    history.replaceState(null, "", url.pathname + url.search + url.hash);   // not left in the history
  }
  return sessionStorage.getItem(TOKEN_KEY);
}

async function api(method, path, body) {
  const response = await fetch(path, {
    method,
    headers: { Authorization: `Bearer ${state.token}`, ...(body ? { "Content-Type": "application/json" } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await response.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = { error: text }; }
  if (response.status === 401) { logout("the token was refused"); throw new Error("unauthorized"); }
  return { status: response.status, data };
}

function cell(row, value, numeric) {
  const td = row.insertCell();
  td.textContent = value;
  if (numeric) td.className = "num";
  return td;
}

function renderQueues(stats, seconds) {
  const body = $("#queues tbody");
  body.replaceChildren();
  const inbound = (stats.inbound && stats.inbound.tenants) || {};
  const paused = new Set((stats.paused || []).map((p) => p.tenant || p));
  for (const [tenant, q] of Object.entries(stats.tenants || {})) {
    const counters = (stats.by_tenant || {})[tenant] || {};
    const before = state.previous && ((state.previous.by_tenant || {})[tenant] || {});
    let rate = "–", latency = "–";
    if (before && seconds > 0) {
      const sent = (counters.sent || 0) - (before.sent || 0);
      rate = (sent / seconds).toFixed(1);
      const spent = (counters.sent_latency_ms || 0) - (before.sent_latency_ms || 0);
      if (sent > 0) latency = `${Math.round(spent / sent)} ms`;
    }
    const row = body.insertRow();
    row.dataset.tenant = tenant;
    cell(row, tenant);
    for (const key of ["queued", "in_flight", "delayed", "unknown", "failed"]) {
      cell(row, q[key] ?? 0, true).dataset.field = key;
    }
    cell(row, rate, true);
    cell(row, latency, true);
    cell(row, q.paused || paused.has(tenant) ? "PAUSED" : "no").className = q.paused ? "bad" : "";
    const inb = inbound[tenant] || {};
    const waiting = Object.values(inb.lag || {}).reduce((a, b) => a + b, 0) + Object.values(inb.pending || {}).reduce((a, b) => a + b, 0);
    cell(row, waiting, true);
    cell(row, inb.failed ?? 0, true);
  }
}

async function refreshStats() {
  const now = performance.now();
  const { status, data } = await api("GET", "/api/admin/queues/stats");
  if (status !== 200) return;
  const seconds = state.previousAt ? (now - state.previousAt) / 1000 : 0;
  renderQueues(data, seconds);
  state.previous = data;
  state.previousAt = now;
  $("#updated").textContent = `updated ${new Date().toLocaleTimeString()}`;
}

async function refreshHealth() {
  const response = await fetch("/api/admin/health");
  const health = await response.json().catch(() => ({}));
  const badge = $("#health");
  badge.textContent = health.status || `HTTP ${response.status}`;
  badge.className = `badge ${response.ok ? "ok" : "bad"}`;
}

async function refreshFailed() {
  const { status, data } = await api("POST", "/api/admin/messages/requeue", { all: true, dry_run: true, include_unknown: true });
  if (status !== 200) return;
  const body = $("#failed tbody");
  body.replaceChildren();
  const messages = data.messages || [];
  $("#failed-count").textContent = `${messages.length} failed message(s)` + (messages.length > 200 ? ", the first 200 shown" : "");
  for (const m of messages.slice(0, 200)) {
    const row = body.insertRow();
    row.dataset.messageId = m.message_id;
    cell(row, m.tenant);
    const id = cell(row, m.message_id);
    id.className = "id";
    const button = document.createElement("button");
    button.textContent = "Requeue";
    button.className = "requeue";
    button.addEventListener("click", async () => {
      button.disabled = true;
      const result = await api("POST", "/api/admin/messages/requeue", { ids: [m.message_id], tenant: m.tenant, include_unknown: true });
      if (result.status === 200 && result.data.requeued >= 1) row.remove();
      else { button.disabled = false; button.textContent = `Requeue (${result.data && result.data.error || result.status})`; }
      refreshStats();
    });
    row.insertCell().append(button);
  }
}

function startTail() {
  if (state.source) state.source.close();
  const params = new URLSearchParams({ access_token: state.token });
  for (const name of ["tenant", "user", "event"]) {
    const value = $(`#tail-${name}`).value.trim();
    if (value) params.set(name, value);
  }
  const source = new EventSource(`/api/v1/events?${params}`);
  state.source = source;
  const badge = $("#tail-state");
  source.onopen = () => { badge.textContent = "live"; badge.className = "badge ok"; };
  source.onerror = () => { badge.textContent = "reconnecting"; badge.className = "badge bad"; };
  const show = (event) => {
    let payload = {};
    try { payload = JSON.parse(event.data); } catch { payload = { data: event.data }; }
    const data = payload.data || {};
    const row = $("#tail tbody").insertRow(0);
    row.className = "fresh";
    row.dataset.event = event.type;
    cell(row, new Date().toLocaleTimeString());
    cell(row, event.type);
    cell(row, payload.tenant || "");
    cell(row, payload.user_id || "");
    cell(row, data.message_id || "").className = "id";
    cell(row, data.status || data.message_type || (typeof data === "string" ? data : ""));
    while ($("#tail tbody").rows.length > 200) $("#tail tbody").deleteRow(-1);
  };
  for (const name of ["incoming_message", "status_change", "outgoing_message", "bot_reply", "message"]) {
    source.addEventListener(name, show);
  }
}

async function lookup(event) {
  event.preventDefault();
  const id = $("#lookup-id").value.trim();
  const tenant = $("#lookup-tenant").value.trim();
  const path = `/api/admin/messages/${encodeURIComponent(id)}` + (tenant ? `?tenant=${encodeURIComponent(tenant)}` : "");
  const { status, data } = await api("GET", path);
  $("#lookup-result").textContent = status === 200 ? JSON.stringify(data, null, 2) : `${status}: ${(data && data.error) || ""}`;
}

function logout(reason) {
  sessionStorage.removeItem(TOKEN_KEY);
  state.token = null;
  if (state.source) state.source.close();
  for (const timer of state.timers || []) clearInterval(timer);
  state.timers = [];
  $("#app").hidden = true;
  $("#logout").hidden = true;
  $("#login").hidden = false;
  $("#login-error").textContent = reason || "";
}

async function open() {
  const { status } = await api("GET", "/api/admin/queues/stats").catch(() => ({ status: 401 }));
  if (status !== 200) return;
  $("#login").hidden = true;
  $("#app").hidden = false;
  $("#logout").hidden = false;
  startTail();
  await Promise.all([refreshStats(), refreshHealth(), refreshFailed()]);
  state.timers = [setInterval(refreshStats, 2000), setInterval(refreshHealth, 5000), setInterval(refreshFailed, 5000)];
}

$("#login").addEventListener("submit", (event) => {
  event.preventDefault();
  state.token = $("#token").value;
  sessionStorage.setItem(TOKEN_KEY, state.token);
  open();
});
$("#logout").addEventListener("click", () => logout());
$("#lookup").addEventListener("submit", lookup);
$("#tail-filter").addEventListener("submit", (event) => { event.preventDefault(); startTail(); });

state.token = takeTokenFromUrl();
if (state.token) open(); else logout();
