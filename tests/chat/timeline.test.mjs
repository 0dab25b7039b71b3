// static/chat/timeline.js: how the room page keeps its history by seq.
//
//   node --test tests/chat/

import { test } from 'node:test';
import assert from 'node:assert/strict';

import { Timeline } from '../../static/chat/timeline.js';

const msg = (seq) => ({ type: 'message', seq, message: `m${seq}`, user: { id: 1, username: 'a' } });
const range = (from, to) => Array.from({ length: to - from + 1 }, (_, i) => msg(from + i));

test('a first page of the newest messages: resume point is its last seq', () => {
  const timeline = new Timeline();
  const added = timeline.load(range(51, 100), { hasOlder: true, roomLastSeq: 100 });
  assert.equal(added.length, 50);
  assert.equal(timeline.lastSeq, 100);
  assert.equal(timeline.oldestSeq, 51);
  assert.equal(timeline.hasOlder, true);
  assert.equal(timeline.missing(), false);
});

test('an empty room resumes from the greeting last_seq (0)', () => {
  const timeline = new Timeline();
  timeline.load([], { hasOlder: false, roomLastSeq: 0 });
  assert.equal(timeline.lastSeq, 0);
  timeline.add([msg(1)]);
  assert.equal(timeline.lastSeq, 1);
  assert.equal(timeline.missing(), false);
});

test('duplicates are dropped, whatever their source', () => {
  const timeline = new Timeline();
  timeline.load(range(1, 3), { hasOlder: false, roomLastSeq: 3 });
  assert.deepEqual(timeline.add([msg(3), msg(4), msg(4)]).map((m) => m.seq), [4]);
  assert.deepEqual(timeline.add(range(1, 5)).map((m) => m.seq), [5]);
  assert.deepEqual(timeline.seqs, [1, 2, 3, 4, 5]);
});

test('a seq jump is missing until the hole is filled; lastSeq stays below it', () => {
  const timeline = new Timeline();
  timeline.load(range(1, 2), { hasOlder: false, roomLastSeq: 2 });
  timeline.add([msg(5)]);
  assert.equal(timeline.missing(), true);
  assert.equal(timeline.lastSeq, 2);
  assert.equal(timeline.nextAfter(2), 5, 'seq 3 goes before 5 in the page');
  timeline.add([msg(4), msg(3)]);
  assert.equal(timeline.missing(), false);
  assert.equal(timeline.lastSeq, 5);
});

test('a greeting naming a newer last_seq than the page holds is missing too', () => {
  const timeline = new Timeline();
  timeline.load(range(1, 4), { hasOlder: false, roomLastSeq: 4 });
  timeline.noteNewest(1500); // a resume whose history was cut at 1,000
  timeline.add(range(5, 1004));
  assert.equal(timeline.missing(), true);
  timeline.add(range(1005, 1500));
  assert.equal(timeline.missing(), false);
});

test('older pages extend the start without moving the resume point', () => {
  const timeline = new Timeline();
  timeline.load(range(51, 100), { hasOlder: true, roomLastSeq: 100 });
  timeline.addOlder(range(1, 50), { hasMore: false });
  assert.equal(timeline.oldestSeq, 1);
  assert.equal(timeline.hasOlder, false);
  assert.equal(timeline.lastSeq, 100);
  assert.equal(timeline.size, 100);
});

test('neighbours: the held message before a seq, and the newest at or below one', () => {
  const timeline = new Timeline();
  timeline.load([msg(2), msg(4), msg(7)], { hasOlder: false, roomLastSeq: 7 });
  assert.equal(timeline.before(4).seq, 2);
  assert.equal(timeline.before(2), null);
  assert.equal(timeline.atOrBelow(6), 4);
  assert.equal(timeline.atOrBelow(7), 7);
  assert.equal(timeline.atOrBelow(1), null);
  assert.equal(timeline.nextAfter(7), null);
});
