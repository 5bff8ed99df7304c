// Daytona face of Hutch (/compat/daytona), driven by the unpatched
// @daytonaio/sdk: create (with the SDK's own wait for `started`), get, list by
// labels and states, a command, file upload/download, auto-stop interval and
// last activity, pause, toolbox refused while paused, resume (start), stop,
// toolbox refused while stopped, start with the file intact, delete, then
// not found.
import assert from 'node:assert/strict';
import { after, describe } from 'node:test';
import { Daytona, DaytonaError, DaytonaNotFoundError } from '@daytonaio/sdk';
import {
  apiKey, cleanup, explain, image, rejectsPromptly, runID, serverURL, steps, within,
} from './helpers.mjs';

const apiUrl = `${serverURL()}/compat/daytona`;
// requestTimeoutMs bounds every HTTP call (the SDK's default is a day).
const daytona = new Daytona({ apiKey: apiKey(), apiUrl, requestTimeoutMs: 60_000 });
const file = '/tmp/hutch-compat-daytona.txt';
const content = `hello from ${runID}\n`;

describe('daytona: @daytonaio/sdk against Hutch', () => {
  const step = steps();
  const deleters = [];
  let sbx;
  let id;

  after(async () => {
    await cleanup('daytona', deleters);
    // Closes the SDK's event socket so the process can exit.
    await daytona[Symbol.asyncDispose]().catch(() => {});
  });

  async function listed(query) {
    const out = [];
    await within(60_000, 'daytona.list', (async () => {
      for await (const s of daytona.list(query)) out.push(s.id);
    })());
    return out;
  }

  // refused asserts that a toolbox call is answered at once with an error.
  async function refused(label) {
    for (const [what, call] of [
      ['executeCommand', () => sbx.process.executeCommand('echo should-not-run')],
      ['downloadFile', () => sbx.fs.downloadFile(file)],
    ]) {
      const err = await rejectsPromptly(10_000, `${what} while ${label}`, call);
      assert.ok(err instanceof DaytonaError, `${what}: a DaytonaError, got ${err}`);
      assert.ok(err.statusCode >= 400 && err.statusCode < 500, `${what}: a 4xx refusal, got ${err.statusCode}: ${err.message}`);
    }
  }

  step('create waits until started', async () => {
    const params = {
      labels: { run: runID, suite: 'hutch-compat' },
      autoStopInterval: 0,
    };
    if (process.env.HUTCH_COMPAT_IMAGE) params.snapshot = image;
    try {
      sbx = await within(150_000, 'daytona.create', daytona.create(params, { timeout: 120 }));
    } catch (err) {
      throw new Error(`daytona.create via ${apiUrl} failed: ${explain(err)}`, { cause: err });
    }
    id = sbx.id;
    deleters.push(() => sbx.delete(60));
    assert.ok(id, 'sandbox id');
    assert.equal(sbx.state, 'started');
    assert.equal(sbx.labels?.run, runID);
    assert.match(sbx.toolboxProxyUrl ?? '', /^https?:\/\//, 'toolboxProxyUrl');
  }, 180_000);

  step('get by id', async () => {
    const got = await within(30_000, 'daytona.get', daytona.get(id));
    assert.equal(got.id, id);
    assert.equal(got.state, 'started');
    assert.equal(got.labels?.['code-toolbox-language'], 'python', 'the label the SDK adds at create');
  });

  step('list by labels and states', async () => {
    const labels = { run: runID };
    assert.deepEqual(await listed({ labels, states: ['started'] }), [id]);
    assert.deepEqual(await listed({ labels: { run: runID, suite: 'hutch-compat' } }), [id], 'labels match as a subset');
    assert.deepEqual(await listed({ labels, states: ['stopped'] }), []);
    assert.deepEqual(await listed({ labels: { run: runID, suite: 'other' } }), []);
    assert.deepEqual(await listed({ labels, limit: 1 }), [id], 'cursor pages end');
  });

  step('executeCommand returns output and exit code', async () => {
    const ok = await within(60_000, 'executeCommand', sbx.process.executeCommand('echo hello-daytona'));
    assert.equal(ok.exitCode, 0);
    assert.equal(ok.result.trim(), 'hello-daytona');
    const failed = await within(60_000, 'executeCommand', sbx.process.executeCommand('sh -c "echo before; exit 3"'));
    assert.equal(failed.exitCode, 3);
    assert.equal(failed.result.trim(), 'before');
  });

  step('file upload and download', async () => {
    await within(30_000, 'uploadFile', sbx.fs.uploadFile(Buffer.from(content), file, 30));
    const got = await within(30_000, 'downloadFile', sbx.fs.downloadFile(file, 30));
    assert.equal(got.toString(), content);
  });

  step('auto-stop interval and last activity', async () => {
    await within(30_000, 'setAutostopInterval', sbx.setAutostopInterval(45));
    await within(30_000, 'refreshData', sbx.refreshData());
    assert.equal(sbx.autoStopInterval, 45);
    const before = Date.parse(sbx.lastActivityAt);
    assert.ok(before > 0, `lastActivityAt ${sbx.lastActivityAt}`);
    // Activity is recorded at most once a second.
    await new Promise((r) => setTimeout(r, 1100));
    await within(30_000, 'refreshActivity', sbx.refreshActivity());
    await within(30_000, 'refreshData', sbx.refreshData());
    assert.ok(Date.parse(sbx.lastActivityAt) > before, `lastActivityAt ${sbx.lastActivityAt} moved past ${new Date(before).toISOString()}`);
    await within(30_000, 'setAutostopInterval', sbx.setAutostopInterval(0));
  });

  step('pause, and the toolbox is refused while paused', async () => {
    await within(90_000, 'pause', sbx.pause(60));
    assert.equal(sbx.state, 'paused');
    assert.deepEqual(await listed({ labels: { run: runID }, states: ['paused'] }), [id]);
    await refused('paused');
  });

  step('resume with start, the file is still there', async () => {
    await within(90_000, 'start', sbx.start(60));
    assert.equal(sbx.state, 'started');
    assert.equal((await within(30_000, 'downloadFile', sbx.fs.downloadFile(file, 30))).toString(), content);
  });

  step('stop, and the toolbox is refused while stopped', async () => {
    await within(90_000, 'stop', sbx.stop(60));
    assert.equal(sbx.state, 'stopped');
    await refused('stopped');
  });

  step('start again, the file is still there', async () => {
    await within(90_000, 'start', sbx.start(60));
    assert.equal(sbx.state, 'started');
    assert.equal((await within(30_000, 'downloadFile', sbx.fs.downloadFile(file, 30))).toString(), content);
    const res = await within(60_000, 'executeCommand', sbx.process.executeCommand('echo back'));
    assert.equal(res.result.trim(), 'back');
  });

  step('delete, then get is not found', async () => {
    await within(90_000, 'delete', sbx.delete(60));
    const err = await rejectsPromptly(30_000, 'get after delete', () => daytona.get(id));
    assert.ok(err instanceof DaytonaNotFoundError, `DaytonaNotFoundError, got ${err.name} ${err.statusCode}: ${err.message}`);
    assert.deepEqual(await listed({ labels: { run: runID } }), []);
  });
});
