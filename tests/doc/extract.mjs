// SPDX-License-Identifier: LGPL-2.1-or-later
//
// Finds the command lines a person would copy from the documentation:
//  - README.md and docs/*.md: lines in fenced (```) and 4-space indented code
//    blocks. In a block fenced as sh/bash/shell/console every line that is not
//    a comment is a command; in other blocks (and indented ones) a line is a
//    command when its first word, after VAR=value assignments, is a program:
//    on PATH, built or kept in this checkout, or a word followed by an option.
//    Blocks fenced as json, c, cpp or js are not shell.
//  - examples/: the comment lines of the scripts and C++ sources that are
//    indented (`#   cmd`, `//   cmd`), with the same rule, and every comment
//    line with an http(s) address.
// A command continued with a trailing backslash is one command: its lines are
// joined with one space. A trailing `# comment` is not part of the command.
// Lines in those places (code blocks, the examples' comments) that tell a
// person to open an http(s) address are "open" lines: the page is a command.
//
// Each result is { kind: 'command' | 'open', text, file, line }, where text is
// the key the manifest (commands.mjs) uses.
import { readFileSync, readdirSync, existsSync, statSync } from 'node:fs';
import { join, delimiter } from 'node:path';

// Programs this project builds (under build/, not on PATH unless installed).
const PROJECT_PROGRAMS = ['rtcstream-signalling', 'rtcstream-interactive', 'rtcstream-embed'];
const BUILTINS = ['export', 'cd', '.', 'source', 'exec'];
const SHELL_FENCES = ['sh', 'bash', 'shell', 'console'];
const NOT_SHELL_FENCES = ['json', 'c', 'cpp', 'c++', 'js', 'javascript', 'python', 'py'];

function onPath (word) {
  return (process.env.PATH || '').split(delimiter).some((d) => {
    try { return statSync(join(d, word)).isFile(); } catch { return false; }
  });
}

// The program a line runs, or null: its first word after VAR=value words.
function programOf (line) {
  const words = line.trim().replace(/^\$\s+/, '').split(/\s+/);
  while (words.length && /^[A-Za-z_][A-Za-z0-9_]*=/.test(words[0])) words.shift();
  return words.length ? { program: words[0], next: words[1] ?? '' } : null;
}

function looksLikeCommand (root, line) {
  const p = programOf(line);
  if (!p) return false;
  const { program, next } = p;
  // `ip = "127.0.0.1"` in a config file is no command.
  if (!/^[a-z0-9_.\/+-]+$/.test(program) || program.endsWith(':') || next === '=') return false;
  if (BUILTINS.includes(program) || PROJECT_PROGRAMS.includes(program)) return true;
  if (program.includes('/')) {
    const rel = program.replace(/^\.\//, '');
    return existsSync(join(root, rel)) && statSync(join(root, rel)).isFile()
      || /^build\//.test(rel) || program.startsWith('./');
  }
  return onPath(program) || /^-/.test(next);
}

// Removes a trailing `# comment` outside quotes.
export function stripComment (text) {
  let quote = null;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quote) { if (c === quote) quote = null; continue; }
    if (c === '"' || c === "'") quote = c;
    else if (c === '#' && (i === 0 || /\s/.test(text[i - 1]))) return text.slice(0, i).trimEnd();
  }
  return text.trimEnd();
}

const OPEN_URL = /https?:\/\/[^\s,)'"`]+/;

// Joins backslash continuations of a block's lines ([{ text, line }]) and
// returns the commands and open lines among them.
function scanBlock (root, file, lines, allCommands) {
  const out = [];
  for (let i = 0; i < lines.length; i++) {
    const { text, line } = lines[i];
    const trimmed = text.trim();
    if (!trimmed) continue;
    if (trimmed.startsWith('#')) {
      if (OPEN_URL.test(trimmed) && !/^#\s*shellcheck/.test(trimmed)) {
        out.push({ kind: 'open', text: trimmed.replace(/^#\s*/, ''), file, line });
      }
      continue;
    }
    let joined = stripComment(trimmed);
    let j = i;
    while (joined.endsWith('\\') && j + 1 < lines.length) {
      j++;
      joined = `${joined.slice(0, -1).trimEnd()} ${stripComment(lines[j].text.trim())}`;
    }
    // A comment after the command may say what to open ("# then open http://...").
    const comment = trimmed.slice(stripComment(trimmed).length);
    if (allCommands || looksLikeCommand(root, joined)) {
      out.push({ kind: 'command', text: joined, file, line });
    } else if (OPEN_URL.test(comment)) {
      out.push({ kind: 'open', text: comment.replace(/^\s*#\s*/, ''), file, line });
    }
    i = j;
  }
  return out;
}

const LIST_ITEM = /^(\s*)([-*+]|\d+[.)])(\s+)/;

// Code blocks of a Markdown file: [{ fence, lines: [{ text, line }] }].
export function markdownBlocks (source) {
  const lines = source.split('\n');
  const blocks = [];
  let fence = null;          // the open fence: { marker, info, indent, lines }
  let indented = null;       // the open indented block
  let listIndent = -1;       // content column of the list item we are in, or -1
  let prevBlank = true;
  let inParagraph = false;
  lines.forEach((raw, n) => {
    const text = raw.replace(/\t/g, '    ');
    const lineNo = n + 1;
    if (fence) {
      if (text.trim().startsWith(fence.marker) && text.trim().replace(/[`~]/g, '') === '') {
        blocks.push(fence);
        fence = null;
      } else {
        fence.lines.push({ text: text.slice(Math.min(fence.indent, text.search(/\S|$/))), line: lineNo });
      }
      return;
    }
    const blank = text.trim() === '';
    const indent = text.search(/\S|$/);
    const base = listIndent >= 0 ? listIndent : 0;
    const m = /^(\s*)(```+|~~~+)\s*([^\s`]*)/.exec(text);
    if (m && !indented) {
      fence = { marker: m[2], info: m[3].toLowerCase(), indent: m[1].length, lines: [] };
      prevBlank = false;
      inParagraph = false;
      return;
    }
    if (indented) {
      if (blank || indent >= base + 4) {
        indented.lines.push({ text: blank ? '' : text.slice(base + 4), line: lineNo });
        prevBlank = blank;
        return;
      }
      blocks.push(indented);
      indented = null;
    }
    if (blank) {
      prevBlank = true;
      inParagraph = false;
      return;
    }
    if (indent >= base + 4 && prevBlank && !inParagraph) {
      indented = { fence: null, info: '', lines: [{ text: text.slice(base + 4), line: lineNo }] };
      prevBlank = false;
      return;
    }
    const item = LIST_ITEM.exec(text);
    if (item && item[1].length < base + 4) {
      listIndent = item[1].length + item[2].length + item[3].length;
    } else if (listIndent >= 0 && prevBlank && indent < listIndent) {
      listIndent = -1;     // a paragraph after the list ends it
    }
    inParagraph = true;
    prevBlank = false;
  });
  if (indented) blocks.push(indented);
  return blocks;
}

function markdownCommands (root, file) {
  const out = [];
  for (const b of markdownBlocks(readFileSync(join(root, file), 'utf8'))) {
    const info = b.info ?? '';
    if (NOT_SHELL_FENCES.includes(info)) continue;
    // The lines of a block end where a blank line is; trailing blanks are dropped.
    const lines = b.lines.filter((l) => l.text.trim() !== '' || true);
    out.push(...scanBlock(root, file, lines, SHELL_FENCES.includes(info)));
  }
  return out;
}

// Indented comment lines of an example: `#   cmd` in scripts, `//   cmd` in C++.
function exampleCommands (root, file) {
  const marker = file.endsWith('.sh') ? '#' : '//';
  const lines = [];
  readFileSync(join(root, file), 'utf8').split('\n').forEach((text, n) => {
    const t = text.trimStart();
    if (!t.startsWith(marker) || t.startsWith('#!')) { lines.push({ text: '', line: n + 1 }); return; }
    const body = t.slice(marker.length);
    // Commands are indented in comments; prose starts right after "# ".
    if (/^\s{2,}\S/.test(body)) lines.push({ text: body, line: n + 1 });
    else if (OPEN_URL.test(body)) lines.push({ text: `# ${body.trim()}`, line: n + 1 });
    else lines.push({ text: '', line: n + 1 });
  });
  return scanBlock(root, file, lines, false);
}

// Every documented command and open line of the checkout at root.
export function documentedLines (root) {
  const files = ['README.md',
    ...readdirSync(join(root, 'docs')).filter((f) => f.endsWith('.md')).sort().map((f) => `docs/${f}`)];
  const examples = readdirSync(join(root, 'examples'))
    .filter((f) => /\.(sh|cpp)$/.test(f)).sort().map((f) => `examples/${f}`);
  return [
    ...files.flatMap((f) => markdownCommands(root, f)),
    ...examples.flatMap((f) => exampleCommands(root, f)),
  ];
}

// node tests/doc/extract.mjs [ROOT]: prints what it finds, one per line.
if (import.meta.url === `file://${process.argv[1]}`) {
  const root = process.argv[2] || new URL('../..', import.meta.url).pathname;
  for (const c of documentedLines(root)) console.log(`${c.file}:${c.line}: [${c.kind}] ${c.text}`);
}
