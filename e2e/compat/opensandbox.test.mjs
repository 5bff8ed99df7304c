// OpenSandbox face of Hutch (/compat/opensandbox), driven by the unpatched
// @alibaba-group/opensandbox SDK: create (with the SDK's own endpoint lookup
// and execd readiness wait), get, list by state and metadata with pages, a
// streamed command, file upload/download, renew expiration, pause, execd
// refused while paused, resume with the file intact, delete, then not found;
// on the way, background commands with status and logs, the rest of the
// file API, metrics, and another port's endpoint reaching a server in the
// sandbox. OpenSandbox has no stop/start, so neither does this suite.
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
  function run(s, command, ms = 60_000, opts = undefined) {
    return within(ms + 5_000, `commands.run ${command}`,
      s.commands.run(command, opts, undefined, AbortSignal.timeout(ms)));
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

  step('background commands: status, logs by cursor; interrupts', async () => {
    const script = 'echo one; echo two; sleep 1; echo three';
    const bg = await run(sbx, script, 30_000, { background: true });
    assert.match(bg.id ?? '', /^\d+$/, `background command id ${bg.id}`);
    let status;
    await eventually(30_000, 'background command ends', async () => {
      status = await sbx.commands.getCommandStatus(bg.id);
      return status.running === false;
    });
    assert.equal(status.exitCode, 0);
    assert.equal(status.content, script);
    assert.ok(status.startedAt instanceof Date && status.finishedAt instanceof Date, 'started/finished dates');
    const all = await sbx.commands.getBackgroundCommandLogs(bg.id);
    assert.equal(all.content, 'one\ntwo\nthree\n');
    assert.equal(all.cursor, 3);
    const rest = await sbx.commands.getBackgroundCommandLogs(bg.id, 2);
    assert.equal(rest.content, 'three\n');
    // A foreground command is interrupted by the id of its init event.
    const stopped = await within(60_000, 'interrupted foreground command', sbx.commands.run('sleep 300', undefined,
      { onInit: async (init) => { await sbx.commands.interrupt(init.id); } }, AbortSignal.timeout(60_000)));
    assert.equal(stopped.error?.name, 'CommandInterrupted', JSON.stringify(stopped.error));
    const sleeper = await run(sbx, 'sleep 300', 30_000, { background: true });
    await within(30_000, 'interrupt', sbx.commands.interrupt(sleeper.id));
    await eventually(30_000, 'interrupted command ends',
      async () => (await sbx.commands.getCommandStatus(sleeper.id)).running === false);
  });

  step('files: directories, info, list, search, move, replace, range, delete', async () => {
    const dir = `/tmp/hutch-osb-${runID}`;
    await sbx.files.createDirectories([{ path: `${dir}/sub`, mode: 755 }]);
    await sbx.files.writeFiles([{ path: `${dir}/sub/a.txt`, data: 'alpha beta\n', mode: 600 }]);
    const info = (await sbx.files.getFileInfo([`${dir}/sub/a.txt`]))[`${dir}/sub/a.txt`];
    assert.equal(info.type, 'file');
    assert.equal(info.size, 11);
    assert.equal(info.mode, 600);
    assert.ok(info.modifiedAt instanceof Date, 'modifiedAt');
    const listed = await sbx.files.listDirectory({ path: dir, depth: 2 });
    assert.deepEqual(listed.map((f) => `${f.path}:${f.type}`), [`${dir}/sub:directory`, `${dir}/sub/a.txt:file`]);
    const found = await sbx.files.search({ path: dir, pattern: '*.txt' });
    assert.deepEqual(found.map((f) => f.path), [`${dir}/sub/a.txt`]);
    await sbx.files.moveFiles([{ src: `${dir}/sub/a.txt`, dest: `${dir}/b.txt` }]);
    const [replaced] = await sbx.files.replaceContentsDetailed([{ path: `${dir}/b.txt`, oldContent: 'beta', newContent: 'gamma' }]);
    assert.equal(replaced.replacedCount, 1);
    assert.equal(await sbx.files.readFile(`${dir}/b.txt`), 'alpha gamma\n');
    assert.equal(await sbx.files.readFile(`${dir}/b.txt`, { range: 'bytes=6-10' }), 'gamma');
    await sbx.files.deleteFiles([`${dir}/b.txt`]);
    const gone = await rejectsPromptly(10_000, 'readFile of a deleted file', () => sbx.files.readFile(`${dir}/b.txt`));
    assert.equal(gone.statusCode, 404);
    await sbx.files.deleteDirectories([dir]);
    const noDir = await rejectsPromptly(10_000, 'listDirectory of a deleted directory', () => sbx.files.listDirectory({ path: dir }));
    assert.equal(noDir.statusCode, 404);
  });

  step('metrics and another port\'s endpoint', async () => {
    const m = await within(30_000, 'getMetrics', sbx.getMetrics());
    assert.ok(m.cpuCount > 0 && m.memoryTotalMiB > 0 && m.memoryUsedMiB > 0 && m.timestamp > 0, JSON.stringify(m));
    // A server of the sandbox's own on 8080 (perl is in every Debian base).
    const server = 'perl -MIO::Socket::INET -e \'$s = IO::Socket::INET->new(LocalAddr => "127.0.0.1", LocalPort => 8080, Listen => 5, ReuseAddr => 1) or die $!; '
      + 'while ($c = $s->accept) { while (<$c>) { last if /^\\r?$/ } print $c "HTTP/1.0 200 OK\\r\\nContent-Type: text/plain\\r\\n\\r\\nhello from 8080\\n"; close $c }\'';
    await run(sbx, server, 30_000, { background: true });
    const url = await within(30_000, 'getEndpointUrl', sbx.getEndpointUrl(8080));
    const body = await eventually(30_000, 'the port answers through its endpoint', async () => {
      const res = await fetch(`${url}/anything`, { headers: { 'OPEN-SANDBOX-API-KEY': apiKey() } });
      return res.ok && (await res.text());
    });
    assert.equal(body, 'hello from 8080\n');
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
