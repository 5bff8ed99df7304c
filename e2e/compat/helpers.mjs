// Shared plumbing for the compat suites: where the server is, bounded waits,
// ordered steps that stop at the first failure, and cleanup bookkeeping.
// Nothing here touches an SDK: each suite drives its vendor's SDK unpatched.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { it } from 'node:test';

// serverURL is the Hutch server under test (HUTCH_COMPAT_URL), without a
// trailing slash; each suite appends its own /compat/<vendor> prefix.
export function serverURL() {
  const raw = process.env.HUTCH_COMPAT_URL;
  if (!raw) {
    throw new Error('HUTCH_COMPAT_URL is not set: point it at a running `hutch serve`, e.g. http://127.0.0.1:7420');
  }
  return raw.replace(/\/+$/, '');
}

export function apiKey() {
  const key = process.env.HUTCH_API_KEY;
  if (!key) throw new Error('HUTCH_API_KEY is not set: a Hutch API key of the server at HUTCH_COMPAT_URL');
  return key;
}

// image is the Hutch image (vendor template / snapshot / image uri) the
// suites create sandboxes from.
export const image = process.env.HUTCH_COMPAT_IMAGE || 'base';

// runID tags what one run creates (metadata, labels, file contents) so that
// list filters and reads can tell this run's sandboxes from anybody else's.
export const runID = `compat-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;

// within fails with a clear message when promise has not settled after ms,
// so that a hanging server fails the step instead of stalling the suite.
export async function within(ms, label, promise) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => {
      const err = new Error(`${label}: no answer within ${ms} ms`);
      err.hung = true;
      reject(err);
    }, ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

// rejectsPromptly asserts that fn's promise rejects within ms (a refusal, not
// a hang or a success) and returns the error for further checks.
export async function rejectsPromptly(ms, label, fn) {
  const started = Date.now();
  let outcome;
  try {
    const value = await within(ms, label, Promise.resolve().then(fn));
    outcome = { value };
  } catch (err) {
    outcome = { err };
  }
  const elapsed = Date.now() - started;
  if (!outcome.err) {
    assert.fail(`${label}: expected a refusal, got success after ${elapsed} ms: ${describe(outcome.value)}`);
  }
  if (outcome.err.hung) {
    assert.fail(`${label}: the call hung for ${ms} ms instead of being refused`);
  }
  return outcome.err;
}

// eventually polls fn until it returns a truthy value or ms pass.
export async function eventually(ms, label, fn, intervalMs = 250) {
  const deadline = Date.now() + ms;
  let last;
  for (;;) {
    try {
      last = await fn();
      if (last) return last;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      assert.fail(`${label}: not true within ${ms} ms (last: ${describe(last)})`);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

// explain is an error's message with its cause (fetch hides ECONNREFUSED
// there), for messages that must say why a call failed.
export function explain(err) {
  const cause = err?.cause;
  const why = cause ? ` (${cause.code || cause.message || cause})` : '';
  return `${err?.message ?? err}${why}`;
}

export function describe(v) {
  if (v instanceof Error) return `${v.name}: ${v.message}`;
  try {
    return JSON.stringify(v);
  } catch {
    return String(v);
  }
}

// steps registers ordered tests that share one sandbox: once a step fails,
// the later ones are skipped (naming the failed one) instead of piling up
// errors that only repeat the first.
export function steps(defaultTimeoutMs = 120_000) {
  let failed = null;
  return function step(name, fn, timeoutMs = defaultTimeoutMs) {
    it(name, { timeout: timeoutMs }, async (t) => {
      if (failed) {
        t.skip(`an earlier step failed: ${failed}`);
        return;
      }
      try {
        await fn(t);
      } catch (err) {
        failed = name;
        throw err;
      }
    });
  };
}

// cleanup runs every registered deleter, ignoring not-found, and reports the
// others without masking the test's own failure.
export async function cleanup(label, deleters) {
  for (const del of deleters.splice(0)) {
    try {
      await within(60_000, `${label} cleanup`, del());
    } catch (err) {
      if (!isNotFound(err)) console.error(`${label} cleanup: ${describe(err)}`);
    }
  }
}

export function isNotFound(err) {
  if (!err) return false;
  const status = err.statusCode ?? err.status ?? err.response?.status;
  if (status === 404 || status === 410) return true;
  return /not ?found|SandboxExpired|NotFound/i.test(`${err.name} ${err.message}`);
}
