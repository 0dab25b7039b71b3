// static/notifications/inbox.js: the bell's count and list through the frames a tab sees.
//
//   node --test tests/notifications/

import { test } from 'node:test';
import assert from 'node:assert/strict';

import { Inbox, linkFor } from '../../static/notifications/inbox.js';

const note = (id, extra = {}) => ({
  type: 'notification',
  id,
  kind: 'order',
  title: `Order ${id}`,
  body: '',
  data: {},
  created: 1_764_400_000_000 + id,
  read: false,
  ...extra,
});

test('the greeting count includes the backlog that follows it', () => {
  const inbox = new Inbox();
  inbox.receive({ type: 'hello', unread: 5, backlog: 2 });
  const first = inbox.receive(note(1));
  const second = inbox.receive(note(2));
  assert.equal(inbox.unread, 5);
  assert.ok(first.backlog && second.backlog);
  assert.deepEqual([...first.ack, ...second.ack], [1, 2]);
  const live = inbox.receive(note(3));
  assert.equal(live.backlog, false);
  assert.deepEqual(live.fresh.map((item) => item.id), [3]);
  assert.equal(inbox.unread, 6);
});

test('a redelivery is acked again but counted and toasted once', () => {
  const inbox = new Inbox();
  inbox.receive({ type: 'hello', unread: 0, backlog: 0 });
  inbox.receive(note(7));
  const again = inbox.receive(note(7));
  assert.deepEqual(again.ack, [7]);
  assert.deepEqual(again.fresh, []);
  assert.equal(inbox.unread, 1);
});

test('after a reconnect the new greeting sets the count', () => {
  const inbox = new Inbox();
  inbox.receive({ type: 'hello', unread: 0, backlog: 0 });
  inbox.receive(note(1));
  inbox.receive({ type: 'hello', unread: 1, backlog: 1 });
  const replay = inbox.receive(note(1));
  assert.equal(inbox.unread, 1);
  assert.deepEqual(replay.fresh, []);
});

test('another tab reading some or all clears them here', () => {
  const inbox = new Inbox();
  inbox.receive({ type: 'hello', unread: 0, backlog: 0 });
  for (const id of [1, 2, 3]) inbox.receive(note(id));
  inbox.receive({ type: 'unread', unread: 2, ids: [2] });
  assert.equal(inbox.unread, 2);
  assert.deepEqual(inbox.recent().map((item) => [item.id, item.read]), [
    [3, false],
    [2, true],
    [1, false],
  ]);
  inbox.receive({ type: 'unread', unread: 0, all: true });
  assert.ok(inbox.recent().every((item) => item.read));
  assert.equal(inbox.unread, 0);
});

test('items fetched over REST join the list without changing the count', () => {
  const inbox = new Inbox();
  inbox.receive({ type: 'hello', unread: 2, backlog: 0 });
  inbox.merge([note(10, { read: true }), note(11)]);
  assert.equal(inbox.unread, 2);
  assert.deepEqual(inbox.recent(1).map((item) => item.id), [11]);
  // A live push of an item the list already holds is still news to the count.
  inbox.merge([note(12)]);
  const live = inbox.receive(note(12));
  assert.equal(inbox.unread, 3);
  assert.deepEqual(live.fresh.map((item) => item.id), [12]);
});

test('notifications link to the page of their kind', () => {
  assert.equal(linkFor(note(1)), '/notifications/shop/');
  assert.equal(linkFor(note(1, { kind: 'friend_request' })), '/notifications/friends/');
  assert.equal(linkFor(note(1, { kind: 'system_alert' })), '/notifications/alerts/');
  assert.equal(linkFor(note(1, { kind: 'custom' })), null);
});
