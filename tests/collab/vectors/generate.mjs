// Generates vectors.json: OT test vectors computed by the REAL npm package
// `ot-text-unicode` (the type ShareDB uses), the oracle for both
// collab/ot.py and static/collab/ot.js.
//
//   cd tests/collab/vectors && npm ci && node generate.mjs
//
// For a bigger one-off differential fuzz (not committed):
//   node generate.mjs --scale 50 --seed 7 --out /tmp/big-vectors.json
//
// Deterministic: the same seed and package version give the same file.
// Ops are in text-unicode's JSON form: retain n, insert "text", delete {d: n}.
// Positions and lengths count code points; texts include astral characters.

import { createRequire } from 'node:module';
import { writeFileSync } from 'node:fs';
import { isDeepStrictEqual } from 'node:util';

const require = createRequire(import.meta.url);
const { type, insert, remove } = require('ot-text-unicode');
const VERSION = require('ot-text-unicode/package.json').version;

const args = process.argv.slice(2);
const option = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i === -1 ? fallback : args[i + 1];
};
const SEED = Number(option('seed', 20240611));
const SCALE = Number(option('scale', 1));
const OUT = option('out', null);
const BASE_COUNTS = {
  apply: 150,
  transform: 450,
  compose: 300,
  transformPosition: 150,
  components: 300,
  opToComponents: 250,
};
const COUNTS = Object.fromEntries(
  Object.entries(BASE_COUNTS).map(([key, n]) => [key, Math.round(n * SCALE)]),
);

// mulberry32: small, seedable, good enough for test data.
function makeRandom(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const random = makeRandom(SEED);
const int = (lo, hi) => lo + Math.floor(random() * (hi - lo + 1)); // inclusive
const pick = (items) => items[Math.floor(random() * items.length)];
const chance = (p) => random() < p;

// Single code points: ASCII, Latin-1, CJK, astral (emoji, music, math),
// regional indicators and skin-tone modifiers (astral), ZWJ, newline.
const ALPHABET = [
  ...'abcdefghij',
  ...'ABC',
  ' ', '\n', 'é', 'ß', 'Ω', '中', '文', '\u200d',
  '😀', '👍', '🏽', '𝄞', '𝕏', '🇫', '🇷', '💩', '🚀',
];
const cpLen = (s) => Array.from(s).length;

function randomText(min, max) {
  let s = '';
  for (let n = int(min, max); n > 0; n--) s += pick(ALPHABET);
  return s;
}

function randomDoc() {
  return randomText(0, chance(0.2) ? 60 : 16);
}

// A random op straight in internal form (one sweep over the doc).
function randomSweepOp(doc) {
  const size = cpLen(doc);
  const op = [];
  let pos = 0;
  for (;;) {
    const r = random();
    if (r < 0.3 && pos < size) {
      const n = int(1, Math.min(size - pos, 6));
      op.push(n);
      pos += n;
    } else if (r < 0.55) {
      op.push(randomText(1, 4));
    } else if (r < 0.8 && pos < size) {
      const n = int(1, Math.min(size - pos, 5));
      op.push({ d: n });
      pos += n;
    } else if (chance(0.5) || pos >= size) {
      break;
    }
  }
  return type.normalize(op);
}

// Random wire components on a doc, each on the result of the previous one.
function randomComponents(doc) {
  let text = Array.from(doc);
  const components = [];
  for (let n = int(1, 5); n > 0; n--) {
    if (text.length > 0 && chance(0.45)) {
      const position = int(0, text.length - 1);
      const length = int(1, Math.min(text.length - position, 5));
      components.push({ type: 'delete', position, length });
      text.splice(position, length);
    } else {
      const position = int(0, text.length);
      const inserted = randomText(1, 4);
      components.push({ type: 'insert', position, text: inserted });
      text.splice(position, 0, ...Array.from(inserted));
    }
  }
  return { components, result: text.join('') };
}

// The PROTOCOL's definition: the op is the text-unicode composition of the
// single-component ops, left to right.
function composeComponents(components) {
  let op = [];
  for (const c of components) {
    const single = c.type === 'insert' ? insert(c.position, c.text) : remove(c.position, c.length);
    op = type.compose(op, single);
  }
  return op;
}

// A random op in either form, so both plain sweeps and the shapes that
// composing edits produces (a delete next to an insert, either order) occur.
function randomOp(doc) {
  return chance(0.5) ? randomSweepOp(doc) : composeComponents(randomComponents(doc).components);
}

// Our documented wire form of an op: all inserts, then all deletes, each left
// to right in the progressively edited text. Checked below to compose back to
// the same op with the real package.
function wireForm(op) {
  const inserts = [];
  const deletes = [];
  let post = 0;
  let removed = 0;
  for (const c of op) {
    if (typeof c === 'string') {
      inserts.push({ type: 'insert', position: post, text: c });
      post += cpLen(c);
    } else if (typeof c === 'object') {
      deletes.push({ type: 'delete', position: post - removed, length: c.d });
      post += c.d;
      removed += c.d;
    } else {
      post += c;
    }
  }
  return inserts.concat(deletes);
}

function applyComponents(doc, components) {
  let text = Array.from(doc);
  for (const c of components) {
    if (c.type === 'insert') text.splice(c.position, 0, ...Array.from(c.text));
    else text.splice(c.position, c.length);
  }
  return text.join('');
}

function assert(condition, message) {
  if (!condition) throw new Error(`generator self-check failed: ${message}`);
}

const vectors = {
  meta: {
    generator: 'tests/collab/vectors/generate.mjs',
    package: `ot-text-unicode@${VERSION}`,
    seed: SEED,
    note: 'ops are text-unicode JSON: retain n, insert "text", delete {"d": n}; positions in code points',
  },
  apply: [],
  transform: [],
  compose: [],
  transformPosition: [],
  components: [],
  opToComponents: [],
  invalidComponents: [],
};

for (let i = 0; i < COUNTS.apply; i++) {
  const doc = randomDoc();
  const op = randomOp(doc);
  vectors.apply.push({ doc, op, result: type.apply(doc, op) });
}

for (let i = 0; i < COUNTS.transform; i++) {
  // Short docs make ties (inserts at one point, overlapping deletes) common.
  const doc = chance(0.5) ? randomText(0, 4) : randomDoc();
  const a = randomOp(doc);
  const b = randomOp(doc);
  const left = type.transform(a, b, 'left');
  const right = type.transform(a, b, 'right');
  // The converged text: b then a' (a on the left), equal to a then b'.
  const result = type.apply(type.apply(doc, b), left);
  assert(result === type.apply(type.apply(doc, a), type.transform(b, a, 'right')), 'TP1');
  vectors.transform.push({ doc, a, b, left, right, result });
}

for (let i = 0; i < COUNTS.compose; i++) {
  const doc = randomDoc();
  const a = randomOp(doc);
  const b = randomOp(type.apply(doc, a));
  const composed = type.compose(a, b);
  const result = type.apply(doc, composed);
  assert(result === type.apply(type.apply(doc, a), b), 'compose');
  vectors.compose.push({ doc, a, b, result: composed, text: result });
}

for (let i = 0; i < COUNTS.transformPosition; i++) {
  const doc = randomDoc();
  const op = randomOp(doc);
  const positions = [];
  for (let p = 0; p <= cpLen(doc); p++) positions.push(type.transformPosition(p, op));
  vectors.transformPosition.push({ doc, op, positions });
}

for (let i = 0; i < COUNTS.components; i++) {
  const doc = randomDoc();
  const { components, result } = randomComponents(doc);
  const op = composeComponents(components);
  assert(type.apply(doc, op) === result, 'components apply');
  vectors.components.push({ doc, components, op, result });
}

for (let i = 0; i < COUNTS.opToComponents; i++) {
  const doc = chance(0.5) ? randomText(0, 4) : randomDoc();
  // Transform results are the ops the server broadcasts: include them.
  const op = chance(0.5) ? randomOp(doc) : type.transform(randomOp(doc), randomOp(doc), pick(['left', 'right']));
  const components = wireForm(op);
  const back = composeComponents(components);
  assert(isDeepStrictEqual(back, op), `wire form round trip ${JSON.stringify(op)}`);
  vectors.opToComponents.push({ op, components });
}

// Wire inputs that must be rejected (OpError); the same in Python and JS.
const ins = (position, text) => ({ type: 'insert', position, text });
const del = (position, length) => ({ type: 'delete', position, length });
vectors.invalidComponents = [
  { why: 'insert past end', doc_length: 3, components: [ins(4, 'x')] },
  { why: 'negative position', doc_length: 3, components: [ins(-1, 'x')] },
  { why: 'delete past end', doc_length: 3, components: [del(2, 2)] },
  { why: 'delete at end', doc_length: 3, components: [del(3, 1)] },
  { why: 'second component past end', doc_length: 3, components: [del(0, 2), ins(2, 'x')] },
  { why: 'zero length', doc_length: 3, components: [del(0, 0)] },
  { why: 'negative length', doc_length: 3, components: [del(1, -1)] },
  { why: 'empty insert', doc_length: 3, components: [ins(0, '')] },
  { why: 'lone high surrogate', doc_length: 0, components: [ins(0, 'a\ud83d')] },
  { why: 'lone low surrogate', doc_length: 0, components: [ins(0, '\ude00b')] },
  { why: 'reversed pair', doc_length: 0, components: [ins(0, '\ude00\ud83d')] },
  { why: 'bool position', doc_length: 3, components: [{ type: 'insert', position: true, text: 'x' }] },
  { why: 'bool length', doc_length: 3, components: [{ type: 'delete', position: 0, length: true }] },
  { why: 'string position', doc_length: 3, components: [{ type: 'insert', position: '1', text: 'x' }] },
  { why: 'fractional position', doc_length: 3, components: [{ type: 'insert', position: 1.5, text: 'x' }] },
  { why: 'null position', doc_length: 3, components: [{ type: 'insert', position: null, text: 'x' }] },
  { why: 'missing position', doc_length: 3, components: [{ type: 'insert', text: 'x' }] },
  { why: 'missing length', doc_length: 3, components: [{ type: 'delete', position: 0 }] },
  { why: 'text not a string', doc_length: 3, components: [{ type: 'insert', position: 0, text: 5 }] },
  { why: 'text missing', doc_length: 3, components: [{ type: 'insert', position: 0 }] },
  { why: 'unknown type', doc_length: 3, components: [{ type: 'retain', position: 0, length: 1 }] },
  { why: 'component not an object', doc_length: 3, components: [[0, 'x']] },
  { why: 'component null', doc_length: 3, components: [null] },
  { why: 'components not a list', doc_length: 3, components: { type: 'insert', position: 0, text: 'x' } },
  { why: 'astral counts as one', doc_length: 2, components: [del(0, 3)] },
];

// One vector per line: reviewable diffs, small file.
const lines = ['{'];
const keys = Object.keys(vectors);
keys.forEach((key, k) => {
  const end = k === keys.length - 1 ? '' : ',';
  if (!Array.isArray(vectors[key])) {
    lines.push(`"${key}": ${JSON.stringify(vectors[key])}${end}`);
    return;
  }
  lines.push(`"${key}": [`);
  vectors[key].forEach((v, i) => lines.push(JSON.stringify(v) + (i === vectors[key].length - 1 ? '' : ',')));
  lines.push(`]${end}`);
});
lines.push('}');
const out = OUT ?? new URL('./vectors.json', import.meta.url).pathname;
writeFileSync(out, lines.join('\n') + '\n');
const total = keys.reduce((n, key) => n + (Array.isArray(vectors[key]) ? vectors[key].length : 0), 0);
console.log(`wrote ${total} vectors to ${out}`);
