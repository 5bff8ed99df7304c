// OpenSandbox face of Hutch (/compat/opensandbox), driven by the unpatched
// @alibaba-group/opensandbox SDK: create (with the SDK's own endpoint lookup
// and execd readiness wait), get, list by state and metadata with pages, a
// streamed command, file upload/download, renew expiration, pause, execd
// refused while paused, resume with the file intact, delete, then not found.
// OpenSandbox has no stop/start, so neither does this suite.
import assert from 'node:assert/strict';
import { after, describe } from 'node:test';
import { Sandbox, SandboxManager, SandboxApiException } from '@alibaba-group/opensandbox';
import {
  apiKey, cleanup, explain, eventually, image, rejectsPromptly, runID, serverURL, steps, within,
} from './helpers.mjs';

// The SDK takes the server as `domain` and appends /v1 itself.
const connectionConfig = {
  domain: `${serverURL()}/compat/opensandbox`,
  apiKey: apiKey(),
  requestTimeoutSeconds: 30,
};
const file = '/tmp/hutch-compat-opensandbox.txt';
const content = `hello from ${runID}\n`;

const joined = (msgs) => msgs.map((m) => m.text).join('');

describe('opensandbox: @alibaba-group/opensandbox against Hutch', () => {
  const step = steps();
  const deleters = [];
  const manager = SandboxManager.create({ connectionConfig });
  let sbx;
  let id;

  after(async () => {
    await cleanup('opensandbox', deleters);
    await sbx?.close().catch(() => {});
    await manager.close().catch(() => {});
  });

  async function listed(filter) {
    const page = await within(30_000, 'listSandboxInfos', manager.listSandboxInfos(filter));
    assert.ok(Array.isArray(page.items), 'items');
    return page.items.map((s) => s.id);
  }

  // run streams a command and waits for its end, bounded by an abort signal
  // (the SDK's stream has no timeout of its own).
  function run(s, command, ms = 60_000) {
    return within(ms + 5_000, `commands.run ${command}`,
      s.commands.run(command, undefined, undefined, AbortSignal.timeout(ms)));
  }

  step('create waits for execd and answers a running sandbox', async () => {
    try {
      sbx = await within(150_000, 'Sandbox.create', Sandbox.create({
        connectionConfig,
        image,
        metadata: { run: runID, suite: 'hutch-compat' },
        timeoutSeconds: 1800,
        readyTimeoutSeconds: 60,
      }));
    } catch (err) {
      throw new Error(`Sandbox.create via ${connectionConfig.domain} failed: ${explain(err)}`, { cause: err });
    }
    id = sbx.id;
    deleters.push(() => manager.killSandbox(id));
    const info = await within(30_000, 'getInfo', sbx.getInfo());
    assert.equal(info.id, id);
    assert.equal(info.status.state, 'Running');
    assert.ok(info.createdAt instanceof Date && !Number.isNaN(info.createdAt.getTime()), 'createdAt');
    assert.equal(info.metadata?.run, runID);
    const ep = await within(30_000, 'getEndpoint', sbx.getEndpoint(44772));
    assert.doesNotMatch(ep.endpoint, /^[a-z]+:\/\//, 'endpoint has no scheme');
    assert.equal(await within(30_000, 'ping', sbx.health.ping()), true);
  }, 180_000);

  step('list by state and metadata, with pages', async () => {
    const metadata = { run: runID };
    assert.ok((await listed({ states: ['Running'], metadata })).includes(id), 'listed as Running');
    assert.ok((await listed({ states: ['Paused', 'Running'], metadata })).includes(id), 'state is OR');
    assert.ok(!(await listed({ states: ['Paused'], metadata })).includes(id), 'not listed as Paused');
    assert.ok(!(await listed({ metadata: { run: runID, suite: 'other' } })).includes(id), 'metadata is AND');
    assert.deepEqual(await listed({ metadata, page: 1, pageSize: 1 }), [id], 'first page of one');
    assert.deepEqual(await listed({ metadata, page: 2, pageSize: 1 }), [], 'second page is empty');
  });

  step('a command streams its output and exit code', async () => {
    const ok = await run(sbx, 'echo hello-opensandbox; echo oops >&2');
    assert.equal(joined(ok.logs.stdout), 'hello-opensandbox\n');
    assert.equal(joined(ok.logs.stderr), 'oops\n');
    assert.equal(ok.exitCode, 0);
    const failed = await run(sbx, 'echo before; exit 3');
    assert.equal(joined(failed.logs.stdout), 'before\n');
    assert.equal(failed.exitCode, 3, `exit code from the error event (${JSON.stringify(failed.error)})`);
  });

  step('files upload and download', async () => {
    await within(30_000, 'writeFiles', sbx.files.writeFiles([{ path: file, data: content }]));
    assert.equal(await within(30_000, 'readFile', sbx.files.readFile(file)), content);
  });

  step('renew moves expiresAt', async () => {
    const res = await within(30_000, 'renew', sbx.renew(3600));
    if (res.expiresAt) assert.ok(res.expiresAt instanceof Date);
    const info = await within(30_000, 'getInfo', sbx.getInfo());
    const left = (info.expiresAt.getTime() - Date.now()) / 1000;
    assert.ok(left > 3000 && left <= 3700, `expiresAt ${info.expiresAt.toISOString()} is ~1h away`);
  });

  step('pause, and execd is refused while paused', async () => {
    await within(60_000, 'pause', sbx.pause());
    await eventually(30_000, 'state Paused', async () => (await sbx.getInfo()).status.state === 'Paused');
    assert.ok((await listed({ states: ['Paused'], metadata: { run: runID } })).includes(id), 'listed as Paused');
    for (const [label, call] of [
      ['commands.run', () => sbx.commands.run('echo should-not-run', undefined, undefined, AbortSignal.timeout(15_000))],
      ['readFile', () => sbx.files.readFile(file)],
      ['ping', () => sbx.health.ping()],
    ]) {
      const err = await rejectsPromptly(10_000, `${label} while paused`, call);
      assert.ok(err instanceof SandboxApiException, `${label}: SandboxApiException, got ${err}`);
      assert.ok(err.statusCode >= 400 && err.statusCode < 500, `${label}: a 4xx refusal, got ${err.statusCode}`);
    }
  });

  step('resume, the file is still there', async () => {
    sbx = await within(90_000, 'resume', sbx.resume({ readyTimeoutSeconds: 60 }));
    await eventually(30_000, 'state Running', async () => (await sbx.getInfo()).status.state === 'Running');
    assert.equal(await within(30_000, 'readFile', sbx.files.readFile(file)), content);
    const res = await run(sbx, 'echo back');
    assert.equal(joined(res.logs.stdout), 'back\n');
  });

  step('delete, then get is not found', async () => {
    await within(60_000, 'kill', sbx.kill());
    const err = await rejectsPromptly(30_000, 'getSandboxInfo after delete', () => manager.getSandboxInfo(id));
    assert.ok(err instanceof SandboxApiException, `SandboxApiException, got ${err}`);
    assert.equal(err.statusCode, 404);
    assert.ok(!(await listed({ metadata: { run: runID } })).includes(id), 'no longer listed');
  });
});
