// Baseline for bench/webhook_ingest.sh: the same inbound work as `wappa serve` (HMAC check,
// JSON parse, per-message dedup + XADD + PUBLISH in one Lua script, 200 only after Redis
// answered) written the way a Node user would: node:http + ioredis, one process.
'use strict';
const http = require('node:http');
const crypto = require('node:crypto');
const Redis = require('ioredis');

const [port, redisPort, secret] = process.argv.slice(2);
const redis = new Redis({ port: Number(redisPort), enableAutoPipelining: true });
redis.defineCommand('ingest', {
  numberOfKeys: 2,
  lua: `if redis.call('SET', KEYS[2], '1', 'NX', 'EX', 691200) then
          redis.call('XADD', KEYS[1], '*', 'event', ARGV[1])
          redis.call('PUBLISH', ARGV[2], ARGV[3])
          return 1
        end
        return 0`,
});

function verify(header, body) {
  if (!header || !header.startsWith('sha256=')) return false;
  const expected = Buffer.from(header.slice(7), 'hex');
  const actual = crypto.createHmac('sha256', secret).update(body).digest();
  return expected.length === actual.length && crypto.timingSafeEqual(expected, actual);
}

http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', async () => {
    const body = Buffer.concat(chunks);
    if (!verify(req.headers['x-hub-signature-256'], body)) {
      res.writeHead(401, { 'Content-Length': 0 }).end();
      return;
    }
    let hook;
    try { hook = JSON.parse(body); } catch { res.writeHead(400, { 'Content-Length': 0 }).end(); return; }
    const jobs = [];
    for (const entry of hook.entry || []) {
      for (const change of entry.changes || []) {
        const value = change.value || {};
        for (const m of value.messages || []) {
          const note = JSON.stringify({ event: 'incoming_message', tenant: 'bench', inbox: 'bench', user_id: m.from,
            platform: 'whatsapp', data: { message_id: m.id, message_type: m.type },
            timestamp: new Date(Number(m.timestamp) * 1000).toISOString(), v: '1' });
          jobs.push(redis.ingest('node:{bench}:inbound', `node:{bench}:seen:msg:${m.id}`,
            JSON.stringify({ kind: 'message', tenant: 'bench', message: m }),
            `node:notify:bench:${m.from}:incoming_message`, note));
        }
      }
    }
    try {
      await Promise.all(jobs);
      res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': 15 }).end('{"status":"ok"}');
    } catch {
      res.writeHead(503, { 'Content-Length': 0 }).end();
    }
  });
}).listen(Number(port), '127.0.0.1');
