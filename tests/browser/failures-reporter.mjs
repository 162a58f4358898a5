// SPDX-License-Identifier: LGPL-2.1-or-later
//
// A node --test reporter that prints nothing while tests run and, at the
// end, names every failed test with the first lines of its error: meson and
// CI show only the last lines of a long log, which the TAP stream of the
// other reporter fills with passing tests.
export default async function * failures (source) {
  const failed = [];
  for await (const event of source) {
    if (event.type === 'test:fail' && event.data.details?.error?.failureType !== 'subtestsFailed')
      failed.push(event.data);
  }
  if (failed.length === 0) return;
  let out = `\n# ${failed.length} failed (repeated here so that the end of a log names them):\n`;
  for (const t of failed) {
    const e = t.details?.error;
    const msg = String(e?.cause?.message ?? e?.message ?? e).split('\n').slice(0, 6).join('\n#   ');
    out += `# not ok - ${t.name} (${t.file ?? ''}:${t.line ?? ''})\n#   ${msg}\n`;
  }
  yield out;
}
