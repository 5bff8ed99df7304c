// HopX face of Hutch (/compat/hopx), driven by the unpatched @hopx-ai/sdk:
// create, get, list by status (plain and cursor pages), a command, files,
// token refresh, set timeout, pause, the agent refused while paused, resume
// with the file intact, delete, then the SDK's not-found error.
// The SDK has no stop/start calls, so neither does this suite.
import assert from 'node:assert/strict';
import { after, describe } from 'node:test';
import { Sandbox, SandboxExpiredError, HopxError } from '@hopx-ai/sdk';
import {
  apiKey, cleanup, explain, eventually, image, rejectsPromptly, runID, serverURL, steps, within,
} from './helpers.mjs';

const baseURL = `${serverURL()}/compat/hopx`;
const key = apiKey();
const opts = { apiKey: key, baseURL };
const file = '/workspace/hutch-compat-hopx.txt';
const content = `hello from ${runID}\n`;

describe('hopx: @hopx-ai/sdk against Hutch', () => {
  const step = steps();
  const deleters = [];
  let sbx;
  let id;

  after(() => cleanup('hopx', deleters));

  async function ids(filter) {
    const list = await within(30_000, 'Sandbox.list', Sandbox.list({ ...opts, ...filter }));
    return list.map((s) => s.sandboxId);
  }

  step('create answers a running sandbox with its agent host', async () => {
    try {
      sbx = await within(150_000, 'Sandbox.create', Sandbox.create({
        // code-interpreter is the python image: bash for commands, python3
        // for code.
        ...opts, template: 'code-interpreter', timeoutSeconds: 1800, timeout: 120,
      }));
    } catch (err) {
      throw new Error(`Sandbox.create via ${baseURL} failed: ${explain(err)}`, { cause: err });
    }
    id = sbx.sandboxId;
    deleters.push(() => sbx.kill());
    assert.ok(id, 'sandbox id');
    const info = await within(30_000, 'getInfo', sbx.getInfo());
    assert.equal(info.sandboxId, id);
    assert.equal(info.status, 'running');
    assert.match(info.publicHost, /^https?:\/\//, 'public_host is an absolute URL');
    assert.ok(info.createdAt, 'created_at');
  }, 180_000);

  step('list by status, plain and by cursor pages', async () => {
    assert.ok((await ids({ status: 'running' })).includes(id), 'listed as running');
    assert.ok(!(await ids({ status: 'paused' })).includes(id), 'not listed as paused');
    const seen = [];
    await within(60_000, 'Sandbox.iter', (async () => {
      for await (const s of Sandbox.iter({ ...opts, status: 'running' })) seen.push(s.sandboxId);
    })());
    assert.ok(seen.includes(id), 'iter (cursor pages) reaches the sandbox');
  });

  step('commands.run returns output and exit code', async () => {
    const res = await within(60_000, 'commands.run', sbx.commands.run('echo hello-hopx; echo oops >&2; exit 3'));
    assert.equal(res.stdout, 'hello-hopx\n');
    assert.equal(res.stderr, 'oops\n');
    assert.equal(res.exit_code, 3);
    const ok = await within(60_000, 'commands.run', sbx.commands.run('pwd'));
    assert.equal(ok.exit_code, 0);
    assert.equal(ok.stdout.trim(), '/workspace', 'default workdir is /workspace');
  });

  step('runCode keeps state between calls and shows results', async () => {
    const first = await within(60_000, 'runCode', sbx.runCode('x = 41\nprint("set")'));
    assert.equal(first.success, true, `runCode: ${first.stderr}`);
    assert.equal(first.stdout, 'set\n');
    const second = await within(60_000, 'runCode', sbx.runCode('print(x + 1)\nx * 2'));
    assert.equal(second.stdout, '42\n', 'a variable of the earlier call is still there');
    assert.equal(second.result, '82', 'the last expression is the result');
    const failed = await within(60_000, 'runCode', sbx.runCode('1/0'));
    assert.equal(failed.success, false);
    assert.match(failed.stderr, /ZeroDivisionError/);
  });

  step('files write, read back and list', async () => {
    await within(30_000, 'files.write', sbx.files.write(file, content));
    assert.equal(await within(30_000, 'files.read', sbx.files.read(file)), content);
    const names = (await within(30_000, 'files.list', sbx.files.list('/workspace'))).map((f) => f.name);
    assert.ok(names.includes('hutch-compat-hopx.txt'), `listed: ${names}`);
  });

  // The SDK's agent client keeps sending the token it was built with after a
  // refresh (see docs/compat-sdk-notes.md), so this also checks that a
  // refresh leaves the earlier token valid.
  step('token refresh keeps the agent reachable', async () => {
    await within(30_000, 'refreshToken', sbx.refreshToken());
    const token = await within(30_000, 'getToken', sbx.getToken());
    assert.ok(typeof token === 'string' && token.length > 0, 'auth_token');
    const res = await within(60_000, 'commands.run', sbx.commands.run('true'));
    assert.equal(res.exit_code, 0);
  });

  step('setTimeout moves expires_at', async () => {
    await within(30_000, 'setTimeout', sbx.setTimeout(3600));
    const info = await within(30_000, 'getInfo', sbx.getInfo());
    const left = (new Date(info.expiresAt).getTime() - Date.now()) / 1000;
    assert.ok(left > 3000 && left <= 3700, `expires_at ${info.expiresAt} is ~1h away (${left}s)`);
  });

  let counterPID;
  step('a background process runs', async () => {
    const bg = await within(30_000, 'commands.run background',
      sbx.commands.run('i=0; while true; do i=$((i+1)); echo $i > /workspace/counter; sleep 0.1; done', { background: true }));
    counterPID = bg.pid;
    assert.ok(counterPID > 0, `background pid: ${JSON.stringify(bg)}`);
    await eventually(10_000, 'counter written', async () =>
      Number((await sbx.files.read('/workspace/counter')).trim()) > 2);
  });

  let frozenAt;
  step('pause, and the agent is refused while paused', async () => {
    await within(60_000, 'pause', sbx.pause());
    frozenAt = Date.now();
    await eventually(30_000, 'status paused', async () => (await sbx.getInfo()).status === 'paused');
    assert.ok((await ids({ status: 'paused' })).includes(id), 'listed as paused');
    // A 5xx would be retried by the SDK (and read as an outage); a 4xx is
    // the refusal the SDK passes straight to the caller.
    for (const [label, call] of [
      ['commands.run', () => sbx.commands.run('echo should-not-run')],
      ['files.read', () => sbx.files.read(file)],
    ]) {
      const err = await rejectsPromptly(10_000, `${label} while paused`, call);
      assert.ok(err instanceof HopxError, `${label}: a HopX error, got ${err}`);
      assert.ok(!(err instanceof SandboxExpiredError), `${label}: paused is not expired/not found: ${err.message}`);
      assert.ok(err.statusCode >= 400 && err.statusCode < 500, `${label}: a 4xx refusal, got ${err.statusCode}: ${err.message}`);
    }
  });

  step('resume, the file is still there and the process goes on', async () => {
    await new Promise((r) => setTimeout(r, Math.max(0, 1000 - (Date.now() - frozenAt))));
    await within(60_000, 'resume', sbx.resume());
    await eventually(30_000, 'status running', async () => (await sbx.getInfo()).status === 'running');
    assert.equal(await within(30_000, 'files.read', sbx.files.read(file)), content);
    const before = Number((await sbx.files.read('/workspace/counter')).trim());
    const procs = await within(30_000, 'listProcesses', sbx.listProcesses());
    const counter = procs.find((p) => p.pid === counterPID);
    assert.ok(counter && counter.status === 'running', `the process survived pause: ${JSON.stringify(procs)}`);
    await eventually(10_000, 'counter advances after resume', async () =>
      Number((await sbx.files.read('/workspace/counter')).trim()) > before);
    const res = await within(60_000, 'commands.run', sbx.commands.run('echo back'));
    assert.equal(res.stdout, 'back\n');
  });

  step('delete, then the SDK reports the sandbox gone', async () => {
    await within(60_000, 'kill', sbx.kill());
    const err = await rejectsPromptly(30_000, 'connect after delete', () => Sandbox.connect(id, key, baseURL));
    assert.ok(err instanceof SandboxExpiredError || err.statusCode === 404,
      `not-found (SandboxExpiredError or 404), got ${err.name} ${err.statusCode}: ${err.message}`);
    assert.ok(!(await ids({ status: 'running' })).includes(id), 'no longer listed as running');
  });
});
