// A fake of the four compat faces, in memory, for checking the harness
// itself: the suites must pass against it, and it records every request it
// gets (method, path, headers, body) so the wire the SDKs speak can be read
// instead of guessed. It is NOT Hutch and proves nothing about Hutch: its
// "sandboxes" are directories under a temp dir and its commands run on this
// host with bash. The answers it gives are the minimal ones each SDK accepts,
// as described in docs/compat-sdk-notes.md.
//
//   node fake/server.mjs [--port N] [--record FILE]
//   FAKE_E2B_PAUSED_STATUS=409 changes how paused envd calls are refused.
import http from 'node:http';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync, appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const busboy = require('busboy');

const args = process.argv.slice(2);
const arg = (name, def) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : def;
};
const port = Number(arg('--port', 0));
const recordFile = arg('--record', '');
const e2bPausedStatus = Number(process.env.FAKE_E2B_PAUSED_STATUS || 502);
const top = mkdtempSync(path.join(tmpdir(), 'hutch-compat-fake-'));
const sandboxes = new Map();

// ---------------------------------------------------------------- plumbing

function newID() {
  return randomBytes(6).toString('hex');
}

function send(res, status, body, headers = {}) {
  if (body === undefined || body === null) {
    res.writeHead(status, { 'content-length': '0', ...headers });
    res.end();
    return;
  }
  const buf = Buffer.isBuffer(body) ? body : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
  const type = Buffer.isBuffer(body) ? 'application/octet-stream' : typeof body === 'string' ? 'text/plain' : 'application/json';
  res.writeHead(status, { 'content-type': type, 'content-length': String(buf.length), ...headers });
  res.end(buf);
}

function json(buf) {
  if (!buf.length) return {};
  return JSON.parse(buf.toString());
}

function record(req, body, url) {
  if (!recordFile) return;
  const h = { ...req.headers };
  for (const k of ['x-api-key', 'open-sandbox-api-key', 'authorization', 'x-access-token']) if (h[k]) h[k] = `<${h[k].length} chars>`;
  const ct = req.headers['content-type'] || '';
  let shown;
  if (/json/.test(ct)) shown = body.toString().slice(0, 2000);
  else if (body.length) shown = `<${body.length} bytes> ${JSON.stringify(body.toString('latin1').slice(0, 400))}`;
  appendFileSync(recordFile, `${JSON.stringify({ method: req.method, path: url.pathname, query: url.search, headers: h, body: shown })}\n`);
}

function sandboxRoot(s) {
  return s.root;
}

function inRoot(s, p) {
  return path.join(sandboxRoot(s), path.resolve('/', p));
}

function create(vendor, fields) {
  const id = newID();
  const root = path.join(top, id);
  for (const d of ['workspace', 'tmp', 'home/user']) mkdirSync(path.join(root, d), { recursive: true });
  const now = new Date();
  const s = {
    id, vendor, root, state: 'running', createdAt: now,
    expiresAt: new Date(now.getTime() + (fields.timeoutSeconds ?? 600) * 1000),
    metadata: fields.metadata ?? {}, labels: fields.labels ?? {},
    authTokens: new Set(), envdToken: `envd-${newID()}`,
    autoStopInterval: fields.autoStopInterval ?? 15, lastActivityAt: now,
  };
  sandboxes.set(id, s);
  return s;
}

function runCommand(s, shell, argv, cwd) {
  return new Promise((resolve) => {
    const dir = inRoot(s, cwd || '/workspace');
    mkdirSync(dir, { recursive: true });
    const child = spawn(shell, argv, { cwd: dir });
    const out = [];
    const err = [];
    child.stdout.on('data', (c) => out.push(c));
    child.stderr.on('data', (c) => err.push(c));
    child.on('close', (code) => {
      const fix = (b) => Buffer.concat(b).toString().split(s.root).join('');
      resolve({ pid: child.pid, exitCode: code ?? 1, stdout: fix(out), stderr: fix(err) });
    });
  });
}

function parseMultipart(req, body) {
  return new Promise((resolve, reject) => {
    const fields = {};
    const files = [];
    const bb = busboy({ headers: req.headers, preservePath: true });
    bb.on('field', (name, val) => { fields[name] = val; });
    bb.on('file', (name, stream, info) => {
      const chunks = [];
      stream.on('data', (c) => chunks.push(c));
      stream.on('end', () => files.push({ name, filename: info.filename, mimeType: info.mimeType, data: Buffer.concat(chunks) }));
    });
    bb.on('close', () => resolve({ fields, files }));
    bb.on('error', reject);
    Readable.from([body]).pipe(bb);
  });
}

// ---------------------------------------------------------------- HopX

function hopxBody(s, host) {
  return {
    id: s.id, object: 'sandbox', status: s.state === 'running' ? 'running' : s.state,
    public_host: `http://${host}/compat/hopx/agent/${s.id}`,
    direct_url: `http://${host}/compat/hopx/agent/${s.id}`,
    template_name: 'base', template_id: 'base', region: 'local',
    resources: { vcpu: 1, memory_mb: 1024, disk_mb: 10240 },
    created_at: s.createdAt.toISOString(), expires_at: s.expiresAt.toISOString(),
    timeout_seconds: Math.round((s.expiresAt - Date.now()) / 1000),
  };
}

// hopxToken issues a new agent token. Earlier ones stay valid: the SDK's
// agent client keeps sending the token it was built with after a refresh.
function hopxToken(s) {
  const token = `hopx-${newID()}`;
  s.authTokens.add(token);
  return { auth_token: token, token_expires_at: new Date(Date.now() + 86400e3).toISOString() };
}

function hopxError(res, status, code, message) {
  send(res, status, { error: message, message, code, request_id: newID() });
}

async function hopx(req, res, rest, body, host) {
  let m;
  if (req.method === 'POST' && rest === '/v1/sandboxes') {
    const b = json(body);
    const s = create('hopx', { timeoutSeconds: b.timeout_seconds });
    return send(res, 201, { ...hopxBody(s, host), ...hopxToken(s) });
  }
  if (req.method === 'GET' && rest === '/v1/sandboxes') {
    const q = new URL(req.url, 'http://x').searchParams;
    const all = [...sandboxes.values()].filter((s) => !q.get('status') || s.state === q.get('status'));
    const start = Number(q.get('cursor') || 0);
    const limit = Number(q.get('limit') || 100);
    const page = all.slice(start, start + limit);
    const more = start + limit < all.length;
    return send(res, 200, { object: 'list', data: page.map((s) => hopxBody(s, host)), has_more: more, next_cursor: more ? String(start + limit) : null });
  }
  if ((m = rest.match(/^\/v1\/sandboxes\/([^/]+)(\/.*)?$/))) {
    const s = sandboxes.get(m[1]);
    if (!s) return hopxError(res, 404, 'SANDBOX_NOT_FOUND', `Sandbox ${m[1]} not found`);
    const op = `${req.method} ${m[2] || ''}`;
    switch (op) {
      case 'GET ': return send(res, 200, hopxBody(s, host));
      case 'DELETE ': sandboxes.delete(s.id); return send(res, 200, { id: s.id, status: 'deleted' });
      case 'POST /pause': s.state = 'paused'; return send(res, 200, { id: s.id, status: 'paused' });
      case 'POST /resume': s.state = 'running'; return send(res, 200, { id: s.id, status: 'running' });
      case 'PUT /timeout': s.expiresAt = new Date(Date.now() + json(body).timeout_seconds * 1000); return send(res, 200, hopxBody(s, host));
      case 'POST /token/refresh': return send(res, 200, hopxToken(s));
      default: return hopxError(res, 404, 'NOT_FOUND', `no route ${op}`);
    }
  }
  if ((m = rest.match(/^\/agent\/([^/]+)(\/.*)$/))) {
    const s = sandboxes.get(m[1]);
    if (!s) return hopxError(res, 404, 'SANDBOX_NOT_FOUND', 'Sandbox not found');
    if (!s.authTokens.has((req.headers.authorization || '').replace(/^Bearer /, ''))) return hopxError(res, 401, 'TOKEN_INVALID', 'invalid token');
    if (s.state !== 'running') return hopxError(res, 409, 'SANDBOX_PAUSED', `sandbox is ${s.state}`);
    const q = new URL(req.url, 'http://x').searchParams;
    const b = /json/.test(req.headers['content-type'] || '') ? json(body) : {};
    switch (`${req.method} ${m[2]}`) {
      case 'POST /commands/run': {
        const r = await runCommand(s, b.command, b.args, b.workdir);
        return send(res, 200, { stdout: r.stdout, stderr: r.stderr, exit_code: r.exitCode, success: r.exitCode === 0, execution_time: 0.01, command: b.args?.at(-1), pid: r.pid });
      }
      case 'POST /files/write':
        mkdirSync(path.dirname(inRoot(s, b.path)), { recursive: true });
        writeFileSync(inRoot(s, b.path), b.encoding === 'base64' ? Buffer.from(b.content, 'base64') : b.content);
        return send(res, 200, { success: true, path: b.path });
      case 'GET /files/read': {
        let content;
        try { content = readFileSync(inRoot(s, q.get('path')), 'utf8'); } catch { return hopxError(res, 404, 'FILE_NOT_FOUND', 'file not found'); }
        return send(res, 200, { content, path: q.get('path'), size: content.length });
      }
      case 'GET /files/list': {
        const dir = inRoot(s, q.get('path'));
        const files = readdirSync(dir).map((name) => {
          const st = statSync(path.join(dir, name));
          return { name, path: path.join(q.get('path'), name), size: st.size, is_dir: st.isDirectory(), modified: st.mtime.toISOString(), permissions: '0644' };
        });
        return send(res, 200, { files, path: q.get('path') });
      }
      default: return hopxError(res, 404, 'NOT_FOUND', `no agent route ${req.method} ${m[2]}`);
    }
  }
  return hopxError(res, 404, 'NOT_FOUND', 'no route');
}

// ---------------------------------------------------------------- OpenSandbox

const osState = { running: 'Running', paused: 'Paused' };

function osBody(s) {
  return {
    id: s.id, image: { uri: 'base' }, metadata: s.metadata, entrypoint: ['tail', '-f', '/dev/null'],
    status: { state: osState[s.state] ?? 'Running', reason: '', message: '', lastTransitionAt: new Date().toISOString() },
    createdAt: s.createdAt.toISOString(), expiresAt: s.expiresAt.toISOString(),
  };
}

function osError(res, status, code, message) {
  send(res, status, { code, message });
}

async function opensandbox(req, res, rest, body, host) {
  let m;
  const q = new URL(req.url, 'http://x').searchParams;
  if (req.method === 'POST' && rest === '/v1/metrics/events') return send(res, 204);
  if (req.method === 'POST' && rest === '/v1/sandboxes') {
    const b = json(body);
    const s = create('opensandbox', { metadata: b.metadata, timeoutSeconds: b.timeout });
    return send(res, 202, osBody(s));
  }
  if (req.method === 'GET' && rest === '/v1/sandboxes') {
    const states = q.getAll('state');
    const meta = q.get('metadata') ? Object.fromEntries(q.get('metadata').split('&').map((kv) => kv.split('=').map(decodeURIComponent))) : {};
    const all = [...sandboxes.values()].filter((s) => (!states.length || states.includes(osState[s.state]))
      && Object.entries(meta).every(([k, v]) => s.metadata[k] === v));
    const page = Number(q.get('page') || 1);
    const size = Number(q.get('pageSize') || 20);
    const items = all.slice((page - 1) * size, page * size).map(osBody);
    const totalPages = Math.ceil(all.length / size);
    return send(res, 200, { items, pagination: { page, pageSize: size, totalItems: all.length, totalPages, hasNextPage: page < totalPages } });
  }
  if ((m = rest.match(/^\/v1\/sandboxes\/([^/]+)(\/.*)?$/))) {
    const s = sandboxes.get(m[1]);
    if (!s) return osError(res, 404, 'SANDBOX_NOT_FOUND', `sandbox ${m[1]} not found`);
    const op = `${req.method} ${m[2] || ''}`;
    let pm;
    if (op === 'GET ') return send(res, 200, osBody(s));
    if (op === 'DELETE ') { sandboxes.delete(s.id); return send(res, 204); }
    if (op === 'POST /pause') { s.state = 'paused'; return send(res, 202); }
    if (op === 'POST /resume') { s.state = 'running'; return send(res, 202); }
    if (op === 'POST /renew-expiration') { s.expiresAt = new Date(json(body).expiresAt); return send(res, 200, { expiresAt: s.expiresAt.toISOString() }); }
    if ((pm = op.match(/^GET \/endpoints\/(\d+)$/))) {
      const kind = pm[1] === '44772' ? 'execd' : `port/${pm[1]}`;
      return send(res, 200, { endpoint: `${host}/compat/opensandbox/${kind}/${s.id}` });
    }
    return osError(res, 404, 'NOT_FOUND', `no route ${op}`);
  }
  if ((m = rest.match(/^\/execd\/([^/]+)(\/.*)$/))) {
    const s = sandboxes.get(m[1]);
    if (!s) return osError(res, 404, 'SANDBOX_NOT_FOUND', 'sandbox not found');
    if (req.headers['open-sandbox-api-key'] === undefined) return osError(res, 401, 'UNAUTHORIZED', 'missing key');
    if (s.state !== 'running') return osError(res, 409, 'SANDBOX_PAUSED', `sandbox is ${s.state}`);
    switch (`${req.method} ${m[2]}`) {
      case 'GET /ping': return send(res, 200, 'pong');
      case 'POST /command': {
        const b = json(body);
        const r = await runCommand(s, 'bash', ['-c', b.command], b.cwd);
        const ev = [{ type: 'init', text: `cmd-${r.pid}` }];
        if (r.stdout) ev.push({ type: 'stdout', text: r.stdout });
        if (r.stderr) ev.push({ type: 'stderr', text: r.stderr });
        if (r.exitCode !== 0) ev.push({ type: 'error', error: { ename: 'CommandExecError', evalue: String(r.exitCode), traceback: [] } });
        else ev.push({ type: 'execution_complete', execution_time: 10 });
        res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
        for (const e of ev) res.write(`data: ${JSON.stringify({ ...e, timestamp: Date.now() })}\n\n`);
        return res.end();
      }
      case 'POST /files/upload': {
        const { files } = await parseMultipart(req, body);
        const meta = JSON.parse(files.find((f) => f.name === 'metadata').data.toString());
        const f = files.find((x) => x.name === 'file');
        mkdirSync(path.dirname(inRoot(s, meta.path)), { recursive: true });
        writeFileSync(inRoot(s, meta.path), f.data);
        return send(res, 200);
      }
      case 'GET /files/download': {
        let data;
        try { data = readFileSync(inRoot(s, new URL(req.url, 'http://x').searchParams.get('path'))); } catch { return osError(res, 404, 'FILE_NOT_FOUND', 'file not found'); }
        return send(res, 200, data);
      }
      default: return osError(res, 404, 'NOT_FOUND', `no execd route ${req.method} ${m[2]}`);
    }
  }
  return osError(res, 404, 'NOT_FOUND', 'no route');
}

// ---------------------------------------------------------------- Daytona

const dtState = { running: 'started', paused: 'paused', stopped: 'stopped' };

function dtBody(s, host) {
  return {
    id: s.id, name: s.id, organizationId: 'org', snapshot: 'base', user: 'daytona', env: {},
    labels: s.labels, public: false, networkBlockAll: false, target: 'local',
    cpu: 1, gpu: 0, memory: 1, disk: 10, state: dtState[s.state], desiredState: dtState[s.state],
    autoStopInterval: s.autoStopInterval, autoArchiveInterval: 10080, autoDeleteInterval: -1,
    toolboxProxyUrl: `http://${host}/compat/daytona/toolbox`,
    createdAt: s.createdAt.toISOString(), updatedAt: new Date().toISOString(), lastActivityAt: s.lastActivityAt.toISOString(),
  };
}

function dtError(res, status, message) {
  const names = { 400: 'Bad Request', 404: 'Not Found', 409: 'Conflict' };
  send(res, status, { statusCode: status, message, error: names[status] ?? 'Error', timestamp: new Date().toISOString(), path: '' });
}

async function daytona(req, res, rest, body, host) {
  let m;
  const q = new URL(req.url, 'http://x').searchParams;
  if (req.method === 'POST' && rest === '/sandbox') {
    const b = json(body);
    const s = create('daytona', { labels: b.labels, autoStopInterval: b.autoStopInterval });
    return send(res, 200, dtBody(s, host));
  }
  if (req.method === 'GET' && rest === '/sandbox') {
    const labels = q.get('labels') ? JSON.parse(q.get('labels')) : {};
    const states = q.getAll('states');
    const all = [...sandboxes.values()].filter((s) => (!states.length || states.includes(dtState[s.state]))
      && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
    const start = Number(q.get('cursor') || 0);
    const limit = Number(q.get('limit') || 100);
    const more = start + limit < all.length;
    return send(res, 200, { items: all.slice(start, start + limit).map((s) => dtBody(s, host)), nextCursor: more ? String(start + limit) : null });
  }
  if ((m = rest.match(/^\/sandbox\/([^/]+)(\/.*)?$/))) {
    const s = sandboxes.get(m[1]);
    if (!s) return dtError(res, 404, `Sandbox with ID or name ${m[1]} not found`);
    const op = `${req.method} ${m[2] || ''}`;
    let pm;
    if (op === 'GET ') return send(res, 200, dtBody(s, host));
    if (op === 'DELETE ') { sandboxes.delete(s.id); return send(res, 200, { ...dtBody(s, host), state: 'destroyed' }); }
    if (op === 'POST /pause') { s.state = 'paused'; return send(res, 200, dtBody(s, host)); }
    if (op === 'POST /start') { s.state = 'running'; return send(res, 200, dtBody(s, host)); }
    if (op === 'POST /stop') { s.state = 'stopped'; return send(res, 200, dtBody(s, host)); }
    if (op === 'GET /toolbox-proxy-url') return send(res, 200, { url: `http://${host}/compat/daytona/toolbox` });
    if (op === 'POST /last-activity') { s.lastActivityAt = new Date(); return send(res, 201); }
    if ((pm = op.match(/^POST \/autostop\/(\d+)$/))) { s.autoStopInterval = Number(pm[1]); return send(res, 201); }
    return dtError(res, 404, `no route ${op}`);
  }
  if ((m = rest.match(/^\/toolbox\/([^/]+)(\/.*)$/))) {
    const s = sandboxes.get(m[1]);
    if (!s) return dtError(res, 404, 'sandbox not found');
    if (s.state !== 'running') return dtError(res, 409, `sandbox is ${dtState[s.state]}`);
    switch (`${req.method} ${m[2]}`) {
      case 'POST /process/execute': {
        const b = json(body);
        const r = await runCommand(s, 'sh', ['-c', b.command], b.cwd);
        return send(res, 200, { exitCode: r.exitCode, result: r.stdout + r.stderr });
      }
      case 'POST /files/bulk-upload': {
        const { fields, files } = await parseMultipart(req, body);
        for (let i = 0; fields[`files[${i}].path`] !== undefined; i++) {
          const f = files.find((x) => x.name === `files[${i}].file`);
          const p = fields[`files[${i}].path`];
          mkdirSync(path.dirname(inRoot(s, p)), { recursive: true });
          writeFileSync(inRoot(s, p), f.data);
        }
        return send(res, 200);
      }
      case 'POST /files/bulk-download': {
        const { paths } = json(body);
        const boundary = `fake${newID()}`;
        const parts = [];
        for (const p of paths) {
          let data;
          let name = 'file';
          let type = 'application/octet-stream';
          try { data = readFileSync(inRoot(s, p)); } catch {
            name = 'error'; type = 'application/json';
            data = Buffer.from(JSON.stringify({ message: `file not found: ${p}`, statusCode: 404, code: 'FILE_NOT_FOUND' }));
          }
          parts.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${name}"; filename="${p}"\r\nContent-Type: ${type}\r\n\r\n`), data, Buffer.from('\r\n'));
        }
        parts.push(Buffer.from(`--${boundary}--\r\n`));
        const out = Buffer.concat(parts);
        res.writeHead(200, { 'content-type': `multipart/form-data; boundary=${boundary}`, 'content-length': String(out.length) });
        return res.end(out);
      }
      default: return dtError(res, 404, `no toolbox route ${req.method} ${m[2]}`);
    }
  }
  return dtError(res, 404, 'no route');
}

// ---------------------------------------------------------------- E2B

const envdVersion = '0.5.7';

function e2bBody(s) {
  return {
    sandboxID: s.id, templateID: 'base', clientID: 'hutch', alias: 'base', metadata: s.metadata,
    startedAt: s.createdAt.toISOString(), endAt: s.expiresAt.toISOString(), state: s.state,
    cpuCount: 1, memoryMB: 1024, diskSizeMB: 10240, envdVersion,
  };
}

function e2bError(res, status, message) {
  send(res, status, { code: status, message });
}

function envelope(flags, obj) {
  const payload = Buffer.from(JSON.stringify(obj));
  const head = Buffer.alloc(5);
  head[0] = flags;
  head.writeUInt32BE(payload.length, 1);
  return Buffer.concat([head, payload]);
}

function unenvelope(buf) {
  const out = [];
  for (let i = 0; i + 5 <= buf.length;) {
    const len = buf.readUInt32BE(i + 1);
    out.push({ flags: buf[i], msg: JSON.parse(buf.subarray(i + 5, i + 5 + len).toString() || '{}') });
    i += 5 + len;
  }
  return out;
}

async function e2b(req, res, rest, body) {
  let m;
  const q = new URL(req.url, 'http://x').searchParams;
  if (rest.startsWith('/envd/') || rest === '/envd') return envd(req, res, rest.slice('/envd'.length), body);
  const connectAnswer = (s) => ({ sandboxID: s.id, templateID: 'base', clientID: 'hutch', envdVersion, envdAccessToken: s.envdToken, domain: null });
  if (req.method === 'POST' && rest === '/v2/sandboxes') {
    const b = json(body);
    const s = create('e2b', { metadata: b.metadata, timeoutSeconds: b.timeout });
    return send(res, 201, connectAnswer(s));
  }
  if (req.method === 'GET' && rest === '/v2/sandboxes') {
    const states = (q.get('state') || 'running,paused').split(',');
    const meta = q.get('metadata') ? Object.fromEntries([...new URLSearchParams(q.get('metadata'))].map(([k, v]) => [decodeURIComponent(k), decodeURIComponent(v)])) : {};
    const all = [...sandboxes.values()].filter((s) => states.includes(s.state) && Object.entries(meta).every(([k, v]) => s.metadata[k] === v));
    const start = Number(q.get('nextToken') || 0);
    const limit = Number(q.get('limit') || 100);
    const more = start + limit < all.length;
    return send(res, 200, all.slice(start, start + limit).map(e2bBody), more ? { 'x-next-token': String(start + limit) } : {});
  }
  if ((m = rest.match(/^(?:\/v2)?\/sandboxes\/([^/]+)(\/.*)?$/))) {
    const s = sandboxes.get(m[1]);
    if (!s) return e2bError(res, 404, `sandbox "${m[1]}" not found`);
    const op = `${req.method} ${m[2] || ''}`;
    if (op === 'GET ') return send(res, 200, e2bBody(s));
    if (op === 'DELETE ') { sandboxes.delete(s.id); return send(res, 204); }
    if (op === 'POST /pause') {
      if (s.state !== 'running') return e2bError(res, 409, `sandbox "${s.id}" is already paused`);
      s.state = 'paused';
      return send(res, 204);
    }
    if (op === 'POST /connect') { s.state = 'running'; return send(res, 200, connectAnswer(s)); }
    if (op === 'POST /timeout') { s.expiresAt = new Date(Date.now() + json(body).timeout * 1000); return send(res, 204); }
    return e2bError(res, 404, `no route ${op}`);
  }
  return e2bError(res, 404, 'no route');
}

async function envd(req, res, rest, body) {
  const s = sandboxes.get(req.headers['e2b-sandbox-id']);
  if (!s) return e2bError(res, 502, 'The sandbox was not found');
  if (req.headers['x-access-token'] !== s.envdToken) return e2bError(res, 401, 'invalid access token');
  if (s.state !== 'running') return e2bError(res, e2bPausedStatus, `sandbox "${s.id}" is ${s.state}`);
  const q = new URL(req.url, 'http://x').searchParams;
  switch (`${req.method} ${rest}`) {
    case 'GET /health': return send(res, 204);
    case 'GET /files': {
      let data;
      try { data = readFileSync(inRoot(s, q.get('path'))); } catch { return e2bError(res, 404, 'file not found'); }
      return send(res, 200, data);
    }
    case 'POST /files': {
      const { files } = await parseMultipart(req, body);
      const out = [];
      for (const f of files) {
        const p = q.get('path') || f.filename;
        mkdirSync(path.dirname(inRoot(s, p)), { recursive: true });
        writeFileSync(inRoot(s, p), f.data);
        out.push({ name: path.basename(p), type: 'file', path: p });
      }
      return send(res, 200, out);
    }
    case 'POST /filesystem.Filesystem/ListDir': {
      const { path: dir } = json(body);
      const entries = readdirSync(inRoot(s, dir)).map((name) => {
        const st = statSync(path.join(inRoot(s, dir), name));
        return { name, type: st.isDirectory() ? 'FILE_TYPE_DIRECTORY' : 'FILE_TYPE_FILE', path: path.join(dir, name), size: String(st.size), mode: st.mode & 0o777, permissions: '-rw-r--r--', owner: 'user', group: 'user' };
      });
      return send(res, 200, { entries });
    }
    case 'POST /process.Process/Start': {
      const [{ msg }] = unenvelope(body);
      const { cmd, args: argv, cwd } = msg.process;
      res.writeHead(200, { 'content-type': 'application/connect+json' });
      const r = runCommand(s, cmd, argv, cwd || '/home/user');
      res.write(envelope(0, { event: { start: { pid: 4242 } } }));
      const out = await r;
      if (out.stdout) res.write(envelope(0, { event: { data: { stdout: Buffer.from(out.stdout).toString('base64') } } }));
      if (out.stderr) res.write(envelope(0, { event: { data: { stderr: Buffer.from(out.stderr).toString('base64') } } }));
      const end = { exited: true, status: `exit status ${out.exitCode}` };
      if (out.exitCode) end.exitCode = out.exitCode;
      res.write(envelope(0, { event: { end } }));
      res.write(envelope(2, {}));
      return res.end();
    }
    default: return e2bError(res, 404, `no envd route ${req.method} ${rest}`);
  }
}

// ---------------------------------------------------------------- server

const faces = { hopx, opensandbox, daytona, e2b };

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', async () => {
    const body = Buffer.concat(chunks);
    const url = new URL(req.url, 'http://x');
    record(req, body, url);
    const m = url.pathname.match(/^\/compat\/(hopx|opensandbox|daytona|e2b)(\/.*)?$/);
    try {
      if (!m) return send(res, 404, { message: 'not a compat path' });
      await faces[m[1]](req, res, m[2] || '/', body, req.headers.host);
    } catch (err) {
      console.error(err);
      if (!res.headersSent) send(res, 500, { message: String(err) });
      else res.end();
    }
  });
});

server.listen(port, '127.0.0.1', () => {
  console.log(`fake compat server on http://127.0.0.1:${server.address().port}`);
});

for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    rmSync(top, { recursive: true, force: true });
    process.exit(0);
  });
}
