// selfcheck runs the four suites against fake/server.mjs, to check the
// harness itself after editing a suite or bumping an SDK (npm run selfcheck).
// Passing here says the suites and the notes agree with the SDKs; it says
// nothing about Hutch. RECORD=file keeps the fake's request log.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const here = path.dirname(fileURLToPath(import.meta.url));
const dir = path.dirname(here);
const args = [path.join(here, 'server.mjs'), '--port', '0'];
if (process.env.RECORD) args.push('--record', process.env.RECORD);
const fake = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });

const url = await new Promise((resolve, reject) => {
  let buf = '';
  fake.stdout.on('data', (c) => {
    buf += c;
    const m = buf.match(/on (http:\/\/\S+)/);
    if (m) resolve(m[1]);
  });
  fake.on('exit', (code) => reject(new Error(`fake server exited (${code})`)));
});

const suites = process.argv.slice(2).length ? process.argv.slice(2)
  : ['hopx.test.mjs', 'opensandbox.test.mjs', 'daytona.test.mjs', 'e2b.test.mjs'];
const run = spawn(process.execPath, ['--test', '--test-force-exit', '--test-concurrency=1', ...suites], {
  cwd: dir, stdio: 'inherit', env: { ...process.env, HUTCH_COMPAT_URL: url, HUTCH_API_KEY: 'fake-key' },
});
const code = await new Promise((resolve) => run.on('exit', (c) => resolve(c ?? 1)));
fake.kill('SIGTERM');
process.exit(code);
