// The textarea diff (static/collab/diff.js): the op between two values, in code points.

import { test } from 'node:test';
import assert from 'node:assert/strict';

import { diffToOp } from '../../static/collab/diff.js';
import { apply } from '../../static/collab/ot.js';

const cases = [
  ['typing at the end', 'ab', 'abc', 3, [2, 'c']],
  ['typing into a run lands at the caret', 'aa', 'aaa', 2, [1, 'a']],
  ['backspace in a run removes before the caret', 'aaa', 'aa', 1, [1, { d: 1 }]],
  ['paste over a selection', 'hello world', 'hello there', 11, [6, 'there', { d: 5 }]],
  ['emoji after emoji counts code points', 'a👍', 'a👍🎉', 5, [2, '🎉']],
  ['replacing one emoji with another', '😀', '😁', 2, ['😁', { d: 1 }]],
  ['deleting an emoji', 'x😀y', 'xy', 1, [1, { d: 1 }]],
  ['no change', 'same', 'same', 4, []],
];

for (const [name, before, after, caret, expected] of cases) {
  test(name, () => {
    const op = diffToOp(before, after, caret);
    assert.deepEqual(op, expected);
    assert.equal(apply(before, op), after);
  });
}

test('random edits: the op always turns before into after', () => {
  const alphabet = ['a', 'b', '👍', '\n', 'é', '🎉'];
  let seed = 7;
  const random = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
  for (let i = 0; i < 2000; i++) {
    const pick = (n) => Array.from({ length: n }, () => alphabet[Math.floor(random() * alphabet.length)]);
    const before = pick(Math.floor(random() * 8));
    const at = Math.floor(random() * (before.length + 1));
    const cut = Math.floor(random() * (before.length - at + 1));
    const added = pick(Math.floor(random() * 3));
    const after = [...before.slice(0, at), ...added, ...before.slice(at + cut)];
    const caret = [...before.slice(0, at), ...added].join('').length;
    const op = diffToOp(before.join(''), after.join(''), caret);
    assert.equal(apply(before.join(''), op), after.join(''));
  }
});
