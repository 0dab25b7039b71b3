// Runs vectors.json (generated from the real ot-text-unicode) against
// static/collab/ot.js, plus the UTF-16 <-> code point helpers.
//
//   node --test tests/collab/
//   OT_VECTORS=/tmp/big.json node --test tests/collab/   (a bigger set)

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';

import {
  OpError,
  apply,
  checkOp,
  codePointLength,
  codePointToUtf16Index,
  componentsToOp,
  compose,
  composeAll,
  invert,
  isNoop,
  isWellFormedText,
  normalize,
  opBaseLength,
  opLengthChange,
  opToComponents,
  toCodePoints,
  transform,
  transformAgainst,
  transformPosition,
  utf16ToCodePointIndex,
} from '../../static/collab/ot.js';

const path = process.env.OT_VECTORS || new URL('./vectors/vectors.json', import.meta.url);
const vectors = JSON.parse(readFileSync(path, 'utf8'));

// Wire components applied one by one, on arrays of code points (reference).
function applyComponents(doc, components) {
  const text = Array.from(doc);
  for (const c of components) {
    if (c.type === 'insert') text.splice(c.position, 0, ...Array.from(c.text));
    else text.splice(c.position, c.length);
  }
  return text.join('');
}

// One test per kind, reporting the first failing vector with its index.
function each(kind, check) {
  test(`vectors: ${kind} (${vectors[kind].length})`, () => {
    assert.ok(vectors[kind].length > 0);
    vectors[kind].forEach((v, i) => {
      try {
        check(v);
      } catch (error) {
        error.message = `${kind}[${i}] ${JSON.stringify(v)}\n${error.message}`;
        throw error;
      }
    });
  });
}

each('apply', (v) => {
  assert.equal(apply(v.doc, v.op), v.result);
});

each('transform', (v) => {
  const left = transform(v.a, v.b, 'left');
  const right = transform(v.a, v.b, 'right');
  assert.deepEqual(left, v.left);
  assert.deepEqual(right, v.right);
  assert.equal(apply(apply(v.doc, v.b), left), v.result);
  assert.equal(apply(apply(v.doc, v.a), transform(v.b, v.a, 'right')), v.result);
});

each('compose', (v) => {
  const composed = compose(v.a, v.b);
  assert.deepEqual(composed, v.result);
  assert.equal(apply(v.doc, composed), v.text);
});

each('transformPosition', (v) => {
  const got = v.positions.map((_, p) => transformPosition(p, v.op));
  assert.deepEqual(got, v.positions);
});

each('components', (v) => {
  const op = componentsToOp(v.components, codePointLength(v.doc));
  assert.deepEqual(op, v.op);
  assert.equal(apply(v.doc, op), v.result);
  assert.equal(applyComponents(v.doc, v.components), v.result);
});

each('opToComponents', (v) => {
  const components = opToComponents(v.op);
  assert.deepEqual(components, v.components);
  assert.deepEqual(componentsToOp(components, opBaseLength(v.op)), v.op);
});

each('invalidComponents', (v) => {
  assert.throws(() => componentsToOp(v.components, v.doc_length), OpError, v.why);
});

test('inputs are not mutated', () => {
  const a = [1, { d: 2 }, 'x'];
  const b = [{ d: 1 }, 'yy'];
  const copyA = structuredClone(a);
  const copyB = structuredClone(b);
  compose(b, [1, { d: 1 }]);
  transform(a, b, 'left');
  compose(a, [2, { d: 1 }]);
  normalize([{ d: 1 }, { d: 1 }]);
  assert.deepEqual(a, copyA);
  assert.deepEqual(b, copyB);
});

test('code point helpers with emoji and astral characters', () => {
  const s = 'a😀b👍🏽c🇫🇷';
  // UTF-16: a(0) 😀(1,2) b(3) 👍(4,5) 🏽(6,7) c(8) 🇫(9,10) 🇷(11,12)
  assert.equal(s.length, 13);
  assert.equal(codePointLength(s), 8);
  assert.deepEqual(toCodePoints(s), ['a', '😀', 'b', '👍', '🏽', 'c', '🇫', '🇷']);
  const pairs = [[0, 0], [1, 1], [3, 2], [4, 3], [6, 4], [8, 5], [9, 6], [11, 7], [13, 8]];
  for (const [unit, cp] of pairs) {
    assert.equal(utf16ToCodePointIndex(s, unit), cp, `utf16 ${unit}`);
    assert.equal(codePointToUtf16Index(s, cp), unit, `cp ${cp}`);
  }
  // Inside a surrogate pair: the start of that character.
  assert.equal(utf16ToCodePointIndex(s, 2), 1);
  assert.equal(utf16ToCodePointIndex(s, 12), 7);
  // Clamped at both ends.
  assert.equal(utf16ToCodePointIndex(s, 99), 8);
  assert.equal(utf16ToCodePointIndex(s, -3), 0);
  assert.equal(codePointToUtf16Index(s, 99), 13);
  assert.equal(codePointToUtf16Index(s, -1), 0);
  assert.equal(codePointLength(''), 0);
  assert.equal(codePointLength('\ud83d'), 1);
  assert.ok(isWellFormedText(s));
  assert.ok(!isWellFormedText('x\ud83d'));
  assert.ok(!isWellFormedText('\ude00x'));
  assert.ok(!isWellFormedText('\ude00\ud83d'));
});

test('editor edge: a UTF-16 edit converts to code point components', () => {
  const before = 'hi 😀 there 👍🏽!';
  const unitStart = before.indexOf('there');
  const unitEnd = unitStart + 'there'.length;
  const position = utf16ToCodePointIndex(before, unitStart);
  const length = utf16ToCodePointIndex(before, unitEnd) - position;
  const op = componentsToOp(
    [
      { type: 'delete', position, length },
      { type: 'insert', position, text: '🚀' },
    ],
    codePointLength(before),
  );
  assert.equal(apply(before, op), 'hi 😀 🚀 👍🏽!');
  // Composed, the insert comes before the deleted range: a peer's cursor
  // at the end of "there" ends after the rocket, one at its start before it.
  assert.deepEqual(op, [position, '🚀', { d: 5 }]);
  assert.equal(transformPosition(position + 5, op), position + 1);
  assert.equal(transformPosition(position, op), position);
  assert.equal(transformPosition(position, op, true), position + 1);
});

test('cursor rules', () => {
  assert.equal(transformPosition(4, [2, { d: 5 }]), 2);
  assert.equal(transformPosition(3, [3, 'xy']), 3);
  assert.equal(transformPosition(3, [3, 'xy'], true), 5);
  assert.equal(transformPosition(5, [3, { d: 2 }, 'z'], true), 4);
  assert.equal(transformPosition(5, [3, { d: 2 }, 'z']), 3);
  assert.equal(transformPosition(1, ['😀👍']), 3);
  assert.equal(transformPosition(0, ['😀'], true), 1);
});

test('server and client rebase rule: the committed insert stays first', () => {
  const incoming = [1, 'A'];
  const committed = [1, 'B'];
  assert.equal(apply(apply('xy', committed), transformAgainst(incoming, [committed])), 'xBAy');
});

test('wire form keeps delete/insert order', () => {
  const delIns = [{ d: 1 }, 'x'];
  const insDel = ['x', { d: 1 }];
  assert.notDeepEqual(transform(['y'], delIns, 'right'), transform(['y'], insDel, 'right'));
  assert.deepEqual(componentsToOp(opToComponents(delIns), 1), delIns);
  assert.deepEqual(componentsToOp(opToComponents(insDel), 1), insDel);
  assert.deepEqual(opToComponents([]), []);
});

test('helpers', () => {
  const op = [2, { d: 1 }, 'ab', 3, '😀', { d: 2 }];
  assert.equal(opLengthChange(op), 0);
  assert.equal(opBaseLength(op), 8);
  assert.deepEqual(normalize([1, 2, 'a', '', 'b', { d: 1 }, { d: 'xy' }, 4]), [3, 'ab', { d: 3 }]);
  assert.ok(isNoop([3]));
  assert.ok(!isNoop(['a']));
  assert.deepEqual(composeAll([[1, 'a'], [{ d: 1 }]]), [{ d: 1 }, 'a']);
  for (const bad of [[true], [0], ['', 1], [{ d: 0 }], [1.5], [-1], [null], 'x']) {
    assert.throws(() => checkOp(bad), OpError, JSON.stringify(bad));
  }
  assert.throws(() => transform([1], [], 'middle'), OpError);
  assert.throws(() => apply('abc', [4]), OpError);
  assert.throws(() => apply('😀', [{ d: 2 }]), OpError);
  assert.equal(apply('😀x', [{ d: 1 }]), 'x');
  assert.throws(() => componentsToOp([], -1), OpError);
  assert.throws(() => componentsToOp([], 1.5), OpError);
  assert.deepEqual(componentsToOp([], 4), []);
  const error = (() => {
    try {
      componentsToOp([{ type: 'insert', position: 5, text: 'x' }], 3);
    } catch (e) {
      return e;
    }
  })();
  assert.ok(error instanceof OpError && error instanceof Error);
  assert.match(error.message, /position 5 outside/);
});

test('invert undoes', () => {
  const doc = 'héllo 😀 world';
  const op = componentsToOp(
    [
      { type: 'delete', position: 0, length: 2 },
      { type: 'insert', position: 5, text: '👍🏽!' },
      { type: 'delete', position: 6, length: 3 },
    ],
    codePointLength(doc),
  );
  assert.equal(apply(apply(doc, op), invert(op, doc)), doc);
  assert.throws(() => invert([20], doc), OpError);
});

test('a 1,000,000 code point document stays fast', () => {
  const doc = 'abc😀 '.repeat(200_000);
  assert.equal(codePointLength(doc), 1_000_000);
  const components = [];
  for (let p = 0; p < 1_000_000; p += 500) components.push({ type: 'insert', position: p, text: 'Z' });
  for (let p = 998_000; p > 0; p -= 1_000) components.push({ type: 'delete', position: p, length: 3 });
  const started = Date.now();
  const op = componentsToOp(components, 1_000_000);
  const text = apply(doc, op);
  const others = [];
  for (let p = 0; p < 1_000_000; p += 700) others.push({ type: 'insert', position: p, text: 'q' });
  const other = componentsToOp(others, 1_000_000);
  const moved = transform(op, other, 'right');
  assert.equal(apply(apply(doc, other), moved), apply(text, transform(other, op, 'left')));
  assert.deepEqual(componentsToOp(opToComponents(op), 1_000_000), op);
  assert.equal(codePointLength(text), 1_000_000 + 2000 - 3 * 998);
  assert.ok(Date.now() - started < 5000, `took ${Date.now() - started} ms`);
});
