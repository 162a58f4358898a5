// SPDX-License-Identifier: LGPL-2.1-or-later
//
// Every command line of README.md, docs/*.md and examples/ runs as written
// (host, port and file names substituted) and does what its text says; see
// commands.mjs for the table and runner.mjs for how a line runs. Run by
// `meson test` (suite "doc"); or by hand, from the checkout's root:
//   RTCSTREAM_BUILD_ROOT=$PWD/build GST_PLUGIN_PATH=$PWD/build/plugins \
//   RTCSTREAM_SIGNALLING=$PWD/build/signalling/rtcstream-signalling node --test tests/doc/doc.test.mjs
// Logs: build/tests/doc/out/ (or RTCSTREAM_TEST_OUT).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import { documentedLines } from './extract.mjs';
import { entries, fixtures } from './commands.mjs';
import {
  ROOT, TMP, startDisplay, stopDisplay, startSignalling, startLine, stop, exitsWithin, closeBrowserOnce,
  waitOutput,
} from './runner.mjs';
import { scoped } from '../browser/harness.mjs';

const PARALLEL = 4;          // entries running at once (2 cores; fixtures do not count)

const found = documentedLines(ROOT);
const where = new Map();     // text -> ["file:line", ...]
for (const f of found) where.set(f.text, [...(where.get(f.text) ?? []), `${f.file}:${f.line}`]);

test('every documented command line has an entry in tests/doc/commands.mjs', () => {
  const known = new Set(entries.flatMap((e) => e.lines));
  const missing = found.filter((f) => !known.has(f.text)).map((f) => `${f.file}:${f.line}: ${f.text}`);
  assert.deepEqual(missing, [], 'documented lines without a test: add them to tests/doc/commands.mjs');
  const stale = [...known].filter((l) => !where.has(l));
  assert.deepEqual(stale, [], 'entries of tests/doc/commands.mjs whose line is no longer documented');
  assert.ok(found.length > 40, `the extractor finds the documented lines (${found.length})`);
});

// The bound every line runs under: a process that ignores Ctrl-C, or never
// ends by itself, is a failure whose message carries its stacks.
test('a line that hangs fails, with its stacks', { concurrency: true }, async (t) => {
  await t.test('one that ignores SIGINT', async () => {
    // (Signalled once the trap is set: a fixed wait of 300 ms was shorter
    // than bash's start on a loaded machine, and SIGINT ended it.)
    const c = startLine('hangs-on-sigint', 'trap "" INT; echo trapped; exec sleep 60');
    await waitOutput(c, /trapped/);
    await assert.rejects(stop(c, 'SIGINT'),
      /did not exit within 10 s of SIGINT: it hangs[^]*stacks of \d+ sleep[^]*#0 /);
  });
  await t.test('one that never exits by itself', async () => {
    const c = startLine('never-ends', 'exec sleep 60');
    await assert.rejects(exitsWithin(c, 1000), /did not exit by itself within 1 s: it hangs[^]*stacks of \d+ sleep/);
    assert.equal(c.signalCode, 'SIGINT', 'then stopped by SIGINT');
  });
});

// A semaphore for the entries that run processes.
function limiter (n) {
  let active = 0;
  const queue = [];
  const next = () => { if (active < n && queue.length) { active++; queue.shift()(); } };
  return async (fn) => {
    await new Promise((res) => { queue.push(res); next(); });
    try { return await fn(); } finally { active--; next(); }
  };
}

// An entry's run; when it fails, its message ends with what the shared
// producers it watched logged (rtcstreamsink at INFO: its consumers, their
// codecs, its encoders), the other side of a viewer that got nothing.
async function withFixtureLogs (ctx, e) {
  const used = new Map();
  const own = { ...ctx, fixture: (name) => { const p = ctx.fixture(name); used.set(name, p); return p; } };
  try {
    return await e.test(own, e.lines);
  } catch (err) {
    for (const [name, p] of used) {
      const child = await p;
      let text = '';
      try { text = readFileSync(child.sinksLog, 'utf8'); } catch { /* not written yet */ }
      const lines = text.split('\n').filter((l) => /rtcstreamsink|rtcstream-session/.test(l));
      err.message += `\n--- the shared producer "${name}" (its last ${Math.min(80, lines.length)} lines of ${lines.length}) ---\n${lines.slice(-80).join('\n')}`;
    }
    throw err;
  }
}

// No test timeouts: node 20 keeps the process alive until they expire; every
// wait in an entry is bounded, and RTCSTREAM_TEST_WATCHDOG_MS bounds the file.
test('documented command lines run as written', { concurrency: true }, async (t) => {
  await startDisplay();
  const server = await startSignalling('doc-server');
  let othersDone;
  const ctx = {
    port: server.port,
    fixture: (name) => started.get(name),
    others: new Promise((res) => { othersDone = res; }),
  };
  // The shared producers start first, outside any entry (their entries stop them).
  const started = new Map(Object.entries(fixtures).map(([name, f]) => [name, Promise.resolve(f.start(ctx))]));
  const limit = limiter(PARALLEL);
  const runs = [];
  const others = [];
  // RTCSTREAM_DOC_ONLY=REGEX runs only the entries whose name matches (while
  // working on one line; node's --test-name-pattern cannot reach into this test).
  const only = process.env.RTCSTREAM_DOC_ONLY ? new RegExp(process.env.RTCSTREAM_DOC_ONLY) : null;
  for (const e of entries) {
    const places = e.lines.flatMap((l) => where.get(l) ?? []);
    const name = `${places[0] ?? '?'}: ${e.lines[0]}${e.name ? ` ${e.name}` : ''}`;
    const skip = (only && !only.test(name) && !e.fixture)
      ? `not matched by RTCSTREAM_DOC_ONLY=${only.source}`
      : (typeof e.skip === 'function' ? e.skip() : e.skip);
    const run = t.test(name, { skip: skip ?? false, todo: e.todo ?? false }, () =>
      (e.fixture ? e.test(ctx, e.lines) : limit(() => scoped(() => withFixtureLogs(ctx, e)))));
    runs.push(run);
    if (!e.fixture) others.push(run);
  }
  Promise.allSettled(others).then(() => othersDone());
  await Promise.allSettled(runs);
  // Fixtures no entry stopped (their entry failed early) go now.
  for (const child of await Promise.all(started.values())) await stop(child, 'SIGINT').catch(() => {});
  await closeBrowserOnce();
  await stop(server);
  stopDisplay();
  rmSync(TMP, { recursive: true, force: true });
});
