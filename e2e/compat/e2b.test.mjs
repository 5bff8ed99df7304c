// E2B face of Hutch (/compat/e2b, envd at /compat/e2b/envd), driven by the
// unpatched `e2b` SDK: create, isRunning, getInfo, list by metadata and state
// (with pages), commands (foreground, non-zero exit, background + wait; a
// background process listed, fed stdin and killed), a PTY (size, input,
// resize, kill), files write/read/list, metrics, set timeout, pause (and
// pause again: false), envd refused while paused, resume via connect with the
// file intact, kill, then SandboxNotFoundError.
import assert from 'node:assert/strict';
import { after, describe } from 'node:test';
import { Sandbox, SandboxNotFoundError, CommandExitError } from 'e2b';
import {
  apiKey, cleanup, eventually, explain, image, rejectsPromptly, runID, serverURL, steps, within,
} from './helpers.mjs';

// sandboxUrl is the one envd URL for every sandbox: the SDK names the sandbox
// in the E2b-Sandbox-Id header of each envd call.
const opts = {
  apiKey: apiKey(),
  apiUrl: `${serverURL()}/compat/e2b`,
  sandboxUrl: `${serverURL()}/compat/e2b/envd`,
  requestTimeoutMs: 30_000,
};
const file = '/tmp/hutch-compat-e2b.txt';
const content = `hello from ${runID}\n`;

describe('e2b: e2b SDK against Hutch', () => {
  const step = steps();
  const deleters = [];
  let sbx;
  let id;

  after(() => cleanup('e2b', deleters));

  async function listed(query, limit) {
    const out = [];
    const pages = Sandbox.list({ ...opts, query, limit });
    await within(60_000, 'Sandbox.list', (async () => {
      while (pages.hasNext) for (const s of await pages.nextItems()) out.push(s.sandboxId);
    })());
    return out;
  }

  step('create answers a sandbox whose envd works at once', async () => {
    try {
      sbx = await within(150_000, 'Sandbox.create', Sandbox.create(image, {
        ...opts, metadata: { run: runID, suite: 'hutch-compat' }, timeoutMs: 1_800_000,
      }));
    } catch (err) {
      throw new Error(`Sandbox.create via ${opts.apiUrl} failed: ${explain(err)}`, { cause: err });
    }
    id = sbx.sandboxId;
    deleters.push(() => Sandbox.kill(id, opts));
    assert.ok(id, 'sandboxID');
    assert.ok(sbx.envdAccessToken, 'envdAccessToken issued at create');
    assert.equal(await within(30_000, 'isRunning', sbx.isRunning()), true);
    const info = await within(30_000, 'getInfo', sbx.getInfo());
    assert.equal(info.sandboxId, id);
    assert.equal(info.state, 'running');
    assert.equal(info.metadata.run, runID);
    assert.ok(!Number.isNaN(info.startedAt.getTime()) && !Number.isNaN(info.endAt.getTime()), 'startedAt/endAt');
  }, 180_000);

  step('list by metadata and state, with pages', async () => {
    const metadata = { run: runID };
    assert.deepEqual(await listed({ metadata }), [id], 'default states include running');
    assert.deepEqual(await listed({ metadata, state: ['running'] }), [id]);
    assert.deepEqual(await listed({ metadata, state: ['paused'] }), []);
    assert.deepEqual(await listed({ metadata: { run: runID, suite: 'other' } }), [], 'metadata is AND');
    assert.deepEqual(await listed({ metadata }, 1), [id], 'x-next-token pages end');
  });

  step('commands: output, exit code, background', async () => {
    const ok = await within(60_000, 'commands.run', sbx.commands.run('echo hello-e2b; echo oops >&2'));
    assert.equal(ok.exitCode, 0);
    assert.equal(ok.stdout, 'hello-e2b\n');
    assert.equal(ok.stderr, 'oops\n');
    const err = await rejectsPromptly(60_000, 'commands.run exit 3', () => sbx.commands.run('echo before; exit 3'));
    assert.ok(err instanceof CommandExitError, `CommandExitError, got ${err}`);
    assert.equal(err.exitCode, 3);
    assert.equal(err.stdout, 'before\n');
    const bg = await within(30_000, 'commands.run background', sbx.commands.run('sleep 1; echo bg', { background: true }));
    assert.ok(bg.pid > 0, 'background pid');
    const done = await within(60_000, 'wait', bg.wait());
    assert.equal(done.stdout, 'bg\n');
  });

  step('a background process: listed, fed stdin, killed', async () => {
    const h = await within(30_000, 'commands.run background', sbx.commands.run('read line; echo "got $line"; sleep 600', {
      background: true, stdin: true,
    }));
    const listed = await within(30_000, 'commands.list', sbx.commands.list());
    assert.ok(listed.some((p) => p.pid === h.pid), `pid ${h.pid} in ${JSON.stringify(listed)}`);
    await within(30_000, 'sendStdin', sbx.commands.sendStdin(h.pid, 'ping\n'));
    await eventually(10_000, 'the process echoes its stdin', () => h.stdout === 'got ping\n');
    assert.equal(await within(30_000, 'commands.kill', sbx.commands.kill(h.pid)), true);
    const err = await rejectsPromptly(10_000, 'wait on a killed process', () => h.wait());
    assert.ok(err instanceof CommandExitError, `CommandExitError, got ${err}`);
    assert.equal(err.exitCode, 137, 'SIGKILL');
    assert.equal(await within(30_000, 'kill again', sbx.commands.kill(h.pid)), false, 'an ended process is not found');
  });

  step('pty: the asked size, input, resize, kill', async () => {
    let out = '';
    const text = new TextDecoder();
    const type = (line) => sbx.pty.sendInput(term.pid, new TextEncoder().encode(line));
    const term = await within(30_000, 'pty.create', sbx.pty.create({ cols: 90, rows: 25, onData: (d) => { out += text.decode(d); } }));
    await within(10_000, 'pty.sendInput', type('stty size\n'));
    await eventually(10_000, 'the terminal is 90x25', () => out.includes('25 90'));
    await within(10_000, 'pty.resize', sbx.pty.resize(term.pid, { cols: 120, rows: 40 }));
    await within(10_000, 'pty.sendInput', type('stty size\n'));
    await eventually(10_000, 'the terminal is 120x40', () => out.includes('40 120'));
    assert.equal(await within(10_000, 'pty.kill', sbx.pty.kill(term.pid)), true);
    const err = await rejectsPromptly(10_000, 'wait on a killed pty', () => term.wait());
    assert.equal(err.exitCode, 137);
  });

  step('files write, read back and list', async () => {
    const w = await within(30_000, 'files.write', sbx.files.write(file, content));
    assert.equal(w.path, file);
    assert.equal(await within(30_000, 'files.read', sbx.files.read(file)), content);
    const names = (await within(30_000, 'files.list', sbx.files.list('/tmp'))).map((e) => e.name);
    assert.ok(names.includes('hutch-compat-e2b.txt'), `listed: ${names}`);
  });

  step('metrics: one sample of the running sandbox', async () => {
    const m = await within(30_000, 'getMetrics', sbx.getMetrics());
    assert.equal(m.length, 1, JSON.stringify(m));
    assert.ok(m[0].memUsed > 0 && m[0].memTotal >= m[0].memUsed && m[0].cpuCount >= 1, JSON.stringify(m[0]));
    assert.ok(!Number.isNaN(m[0].timestamp.getTime()));
  });

  step('setTimeout moves endAt', async () => {
    await within(30_000, 'setTimeout', sbx.setTimeout(3_600_000));
    const info = await within(30_000, 'getInfo', sbx.getInfo());
    const left = (info.endAt.getTime() - Date.now()) / 1000;
    assert.ok(left > 3000 && left <= 3700, `endAt ${info.endAt.toISOString()} is ~1h away`);
  });

  step('pause, and envd is refused while paused', async () => {
    assert.equal(await within(60_000, 'pause', sbx.pause()), true);
    assert.equal(await within(60_000, 'pause again', sbx.pause()), false, 'a second pause is a 409');
    assert.equal((await within(30_000, 'getInfo', sbx.getInfo())).state, 'paused');
    assert.deepEqual(await listed({ metadata: { run: runID }, state: ['paused'] }), [id]);
    await rejectsPromptly(10_000, 'commands.run while paused', () => sbx.commands.run('echo should-not-run'));
    await rejectsPromptly(10_000, 'files.read while paused', () => sbx.files.read(file));
    assert.equal(await within(10_000, 'isRunning while paused', sbx.isRunning()), false);
  });

  step('resume via connect keeps the token, the file is still there', async () => {
    const token = sbx.envdAccessToken;
    await within(90_000, 'connect', sbx.connect());
    assert.equal(await within(30_000, 'isRunning', sbx.isRunning()), true);
    assert.equal(await within(30_000, 'files.read', sbx.files.read(file)), content);
    const other = await within(60_000, 'Sandbox.connect', Sandbox.connect(id, opts));
    assert.equal(other.envdAccessToken, token, 'envdAccessToken is stable across pause/resume');
    assert.equal((await within(60_000, 'commands.run', other.commands.run('echo back'))).stdout, 'back\n');
  });

  step('kill, then SandboxNotFoundError', async () => {
    assert.equal(await within(60_000, 'kill', sbx.kill()), true);
    const err = await rejectsPromptly(30_000, 'getInfo after kill', () => Sandbox.getInfo(id, opts));
    assert.ok(err instanceof SandboxNotFoundError, `SandboxNotFoundError, got ${err.name}: ${err.message}`);
    assert.equal(await within(30_000, 'kill again', Sandbox.kill(id, opts)), false, 'a second kill is a 404');
    assert.deepEqual(await listed({ metadata: { run: runID } }), []);
  });
});
