// The browser's collab state machine (static/collab/client.js) against a
// server that follows PROTOCOL.md's rule (transform the incoming op against
// every op committed since its base, the incoming op on the right).
//
//   node --test tests/collab/
//   COLLAB_SIM_RUNS=2000 node --test tests/collab/client.test.mjs   (longer)

import { test } from 'node:test';
import assert from 'node:assert/strict';

import { CollabClient } from '../../static/collab/client.js';
import {
  apply,
  codePointLength,
  componentsToOp,
  opToComponents,
  transform,
  transformAgainst,
} from '../../static/collab/ot.js';

// --- a deterministic random source (mulberry32) ------------------------------

function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// --- the server: one document, the single order ---------------------------------

class Server {
  // `bounds` (all optional), as the real server's settings: `maxWork` component
  // steps to transform an op (else `stale_version`), `syncPage` ops per `ops`
  // reply (then `has_more`), `maxComponents` per op (else `invalid`).
  constructor(content = '', bounds = {}) {
    this.bounds = bounds;
    this.refused = 0; // ops refused as too far behind
    this.pages = 0; // `ops` replies cut short
    this.text = content;
    this.log = []; // {version, ops (wire), op (internal), client, opId}
    this.sockets = new Map(); // socket id -> deliver(frame)
    this.nextSocket = 1;
  }

  get version() {
    return this.log.length;
  }

  connect(deliver) {
    const client = `s${this.nextSocket++}`;
    this.sockets.set(client, deliver);
    deliver({
      type: 'hello',
      doc: { id: 1, title: 't', access: 'public' },
      version: this.version,
      content: this.text,
      user: { id: 1, username: 'u', color: '#000' },
      client,
      can_edit: true,
      peers: [],
    });
    return client;
  }

  disconnect(client) {
    this.sockets.delete(client);
  }

  handle(client, frame) {
    const reply = (f) => this.sockets.get(client)?.({ ...f, ref: frame.ref });
    if (frame.action === 'sync') {
      const all = this.log
        .filter((e) => e.version > frame.version)
        .map(({ version, ops, client: c, opId }) => ({ version, ops, client: c, op_id: opId }));
      const ops = all.slice(0, this.bounds.syncPage ?? all.length);
      if (ops.length < all.length) this.pages += 1;
      const hasMore = ops.length < all.length;
      reply({ type: 'ops', from: frame.version, ops, version: this.version, has_more: hasMore });
      return;
    }
    if (frame.action !== 'op') return;
    const first = this.log.find((e) => e.opId === frame.op_id);
    if (first) {
      reply({ type: 'ack', version: first.version, op_id: frame.op_id });
      return;
    }
    if (frame.ops.length > (this.bounds.maxComponents ?? Infinity)) {
      reply({ type: 'error', code: 'invalid', message: 'too many components' });
      return;
    }
    const since = this.log.filter((e) => e.version > frame.version);
    let length = codePointLength(this.text);
    for (const e of since.slice().reverse()) length -= lengthChange(e.ops);
    const incoming = componentsToOp(frame.ops, length);
    if (workOf(incoming, since) > (this.bounds.maxWork ?? Infinity)) {
      this.refused += 1;
      reply({ type: 'error', code: 'stale_version', message: 'too far behind', version: this.version });
      return;
    }
    const op = transformAgainst(
      incoming,
      since.map((e) => e.op),
    );
    this.text = apply(this.text, op);
    const entry = {
      version: this.version + 1,
      ops: opToComponents(op),
      op,
      client,
      opId: frame.op_id,
    };
    this.log.push(entry);
    reply({ type: 'ack', version: entry.version, op_id: frame.op_id });
    const broadcast = {
      type: 'op',
      version: entry.version,
      ops: entry.ops,
      user: { id: 1, username: 'u' },
      client,
      op_id: frame.op_id,
    };
    for (const [other, deliver] of this.sockets) if (other !== client) deliver(broadcast);
  }
}

// Component steps the server's transform takes: len(op) + len(other) for each op passed.
function workOf(op, since) {
  let steps = 0;
  for (const e of since) {
    steps += op.length + e.op.length;
    op = transform(op, e.op, 'right');
  }
  return steps;
}

function lengthChange(components) {
  let change = 0;
  for (const c of components) change += c.type === 'insert' ? codePointLength(c.text) : -c.length;
  return change;
}

// --- the network: in order up, any order down, drops lose both ---------------------

class Peer {
  constructor(server, options = {}) {
    this.server = server;
    this.up = [];
    this.down = [];
    this.reloads = [];
    this.client = new CollabClient({
      send: (frame) => this.up.push(frame),
      setTimer: () => {}, // cursor throttling and retries are not part of this simulation
      onNeedReload: (reason) => this.reloads.push(reason),
      ...options,
    });
    this.connect();
  }

  connect() {
    this.socket = this.server.connect((frame) => this.down.push(frame));
    this.client.receive(this.down.shift()); // the hello
    this.client.opened();
  }

  drop() {
    this.server.disconnect(this.socket);
    this.client.closed();
    this.up = [];
    this.down = [];
    this.connect();
  }

  serve() {
    const frame = this.up.shift();
    if (frame) this.server.handle(this.socket, frame);
  }

  deliver(pick) {
    if (!this.down.length) return;
    const [frame] = this.down.splice(Math.floor(pick * this.down.length), 1);
    this.client.receive(frame);
  }
}

let nextChar = 0;
function freshText(size) {
  let text = '';
  for (let i = 0; i < size; i++) {
    const n = nextChar++;
    // Every other one outside the BMP: two UTF-16 units, one code point.
    text += String.fromCodePoint(n % 2 ? 0x20000 + n : 0x4e00 + (n % 20000));
  }
  return text;
}

function simulate(seed, bounds = {}, options = {}) {
  const random = rng(seed);
  nextChar = 0;
  const server = new Server('', bounds);
  const count = 2 + Math.floor(random() * 3);
  const peers = Array.from({ length: count }, () => new Peer(server, options));
  for (let step = 0; step < 60; step++) {
    const peer = peers[Math.floor(random() * peers.length)];
    const roll = random();
    const { client } = peer;
    const length = codePointLength(client.text);
    if (roll < 0.3) {
      const text = freshText(1 + Math.floor(random() * 3));
      const position = Math.floor(random() * (length + 1));
      client.edit(componentsToOp([{ type: 'insert', position, text }], length));
    } else if (roll < 0.4 && length) {
      const position = Math.floor(random() * length);
      const count = 1 + Math.floor(random() * Math.min(3, length - position));
      client.edit(componentsToOp([{ type: 'delete', position, length: count }], length));
    } else if (roll < 0.45) {
      if (random() < 0.5) client.undo();
      else client.redo();
    } else if (roll < 0.7) {
      peer.serve();
    } else if (roll < 0.97) {
      peer.deliver(random());
    } else {
      peer.drop();
    }
  }
  // Settle: deliver everything; a client missing a version asks for sync.
  for (let round = 0; round < 10_000; round++) {
    let busy = false;
    for (const peer of peers) {
      if (peer.up.length) {
        peer.serve();
        busy = true;
      } else if (peer.down.length) {
        peer.deliver(0);
        busy = true;
      } else if (peer.client.arrived.size) {
        peer.client.requestSync();
        busy = true;
      }
    }
    if (!busy) break;
  }
  return { server, peers };
}

const runs = Number(process.env.COLLAB_SIM_RUNS || 300);

// With undo and redo in the mix (two users undoing the same concurrent delete
// both bring the text back), only convergence is asserted here; the next test
// checks exactly which characters survive.
test(`${runs} random sessions converge to the server text`, () => {
  for (let seed = 1; seed <= runs; seed++) {
    const { server, peers } = simulate(seed);
    for (const peer of peers) {
      assert.ok(peer.client.idle, `seed ${seed}: client not idle`);
      assert.equal(peer.client.version, server.version, `seed ${seed}: version`);
      assert.equal(peer.client.text, server.text, `seed ${seed}: text`);
    }
  }
});

test(`${runs} random sessions converge when the server's bounds are tiny`, () => {
  // Ops of at most two components, refused as stale past 3 steps, `sync` two ops a page.
  const bounds = { maxWork: 3, syncPage: 2, maxComponents: 2 };
  const totals = { refused: 0, pages: 0 };
  for (let seed = 1; seed <= runs; seed++) {
    const { server, peers } = simulate(seed, bounds, { maxComponents: 2, maxRebases: 10_000 });
    totals.refused += server.refused;
    totals.pages += server.pages;
    for (const peer of peers) {
      assert.deepEqual(peer.reloads, [], `seed ${seed}: reload`);
      assert.ok(peer.client.idle, `seed ${seed}: client not idle`);
      assert.equal(peer.client.version, server.version, `seed ${seed}: version`);
      assert.equal(peer.client.text, server.text, `seed ${seed}: text`);
    }
  }
  assert.ok(totals.refused > 0 && totals.pages > 0, JSON.stringify(totals));
});

test('an op of more components than the server takes goes out as several', () => {
  const sent = [];
  const client = new CollabClient({ send: (f) => sent.push(f) });
  client.receive({ type: 'hello', client: 'c', version: 0, content: 'a'.repeat(3000), can_edit: true, peers: [] });
  client.opened();
  const spread = Array.from({ length: 1500 }, (_, j) => ({ type: 'insert', position: 2 * j, text: 'z' }));
  client.edit(componentsToOp(spread, 3000));
  const ops = () => sent.filter((f) => f.action === 'op');
  assert.equal(ops().length, 1);
  assert.equal(ops()[0].ops.length, 1000);
  client.receive({ type: 'ack', version: 1, op_id: ops()[0].op_id });
  assert.equal(ops().length, 2);
  assert.equal(ops()[1].ops.length, 500);
  assert.equal(ops()[1].version, 1);
  let text = 'a'.repeat(3000);
  for (const frame of ops()) text = apply(text, componentsToOp(frame.ops, codePointLength(text)));
  assert.equal(text, client.text);
});

test('an op refused as too far behind is sent again once caught up, same op_id', () => {
  const sent = [];
  const reloads = [];
  const client = new CollabClient({ send: (f) => sent.push(f), onNeedReload: (r) => reloads.push(r) });
  client.receive({ type: 'hello', client: 'c', version: 0, content: 'abc', can_edit: true, peers: [] });
  client.opened();
  sent.length = 0;
  insertAt(client, 3, '!');
  const [op] = sent.splice(0);
  client.receive({ type: 'error', code: 'stale_version', message: 'far', ref: op.ref, version: 2 });
  assert.deepEqual(sent.splice(0), [{ action: 'sync', version: 0 }]);
  const entry = (version, text) => ({ version, ops: [{ type: 'insert', position: 0, text }], client: 'o', op_id: null });
  client.receive({ type: 'ops', from: 0, ops: [entry(1, 'x'), entry(2, 'y')], version: 2, has_more: false });
  assert.deepEqual(sent.splice(0), [{ ...op, version: 2, ops: [{ type: 'insert', position: 5, text: '!' }] }]);
  client.receive({ type: 'ack', version: 3, op_id: op.op_id });
  assert.ok(client.idle);
  assert.equal(client.text, 'yxabc!');
  assert.deepEqual(reloads, []);
});

test('a sync reply with has_more asks for the next page', () => {
  const sent = [];
  const client = new CollabClient({ send: (f) => sent.push(f) });
  client.receive({ type: 'hello', client: 'c', version: 0, content: '', can_edit: true, peers: [] });
  client.opened();
  sent.length = 0;
  const entry = (version) => ({ version, ops: [{ type: 'insert', position: 0, text: 'v' }], client: 'o', op_id: null });
  client.receive({ type: 'ops', from: 0, ops: [entry(1), entry(2)], version: 9, has_more: true });
  assert.deepEqual(sent, [{ action: 'sync', version: 2 }]);
});

test('without undo, exactly the inserted and not deleted characters remain', () => {
  for (let seed = 1; seed <= runs; seed++) {
    const random = rng(seed);
    nextChar = 0;
    const server = new Server('');
    const a = new Peer(server);
    const b = new Peer(server);
    const kept = new Set();
    const gone = new Set();
    for (let step = 0; step < 40; step++) {
      const peer = random() < 0.5 ? a : b;
      const length = codePointLength(peer.client.text);
      const roll = random();
      if (roll < 0.3) {
        const text = freshText(2);
        for (const ch of text) kept.add(ch);
        const position = Math.floor(random() * (length + 1));
        peer.client.edit(componentsToOp([{ type: 'insert', position, text }], length));
      } else if (roll < 0.45 && length) {
        const position = Math.floor(random() * length);
        for (const ch of Array.from(peer.client.text).slice(position, position + 1)) gone.add(ch);
        peer.client.edit(componentsToOp([{ type: 'delete', position, length: 1 }], length));
      } else if (roll < 0.7) peer.serve();
      else peer.deliver(random());
    }
    for (let i = 0; i < 1000 && [a, b].some((p) => p.up.length || p.down.length); i++) {
      a.serve();
      b.serve();
      a.deliver(0);
      b.deliver(0);
    }
    const expected = [...kept].filter((ch) => !gone.has(ch)).sort();
    assert.deepEqual(Array.from(server.text).sort(), expected, `seed ${seed}`);
    assert.equal(a.client.text, server.text);
    assert.equal(b.client.text, server.text);
  }
});

// --- focused cases -------------------------------------------------------------------

function settle(...peers) {
  for (let i = 0; i < 1000 && peers.some((p) => p.up.length || p.down.length); i++) {
    for (const p of peers) p.serve();
    for (const p of peers) p.deliver(0);
  }
}

function insertAt(client, position, text) {
  client.edit(componentsToOp([{ type: 'insert', position, text }], codePointLength(client.text)));
}

test('undo takes back only one own typing, moved past the others', () => {
  const server = new Server('--');
  const alice = new Peer(server);
  const bob = new Peer(server);
  insertAt(alice.client, 1, 'abc');
  insertAt(bob.client, 1, 'xyz');
  settle(alice, bob);
  assert.equal(server.text, '-abcxyz-');
  alice.client.undo();
  settle(alice, bob);
  assert.equal(server.text, '-xyz-');
  assert.equal(bob.client.text, '-xyz-');
  alice.client.redo();
  settle(alice, bob);
  assert.equal(server.text, '-abcxyz-');
  assert.equal(bob.client.undo() !== null, true);
  settle(alice, bob);
  assert.equal(alice.client.text, '-abc-');
});

test('edits in quick succession undo together; a pause starts a new step', () => {
  let clock = 0;
  const server = new Server('');
  const peer = new Peer(server);
  peer.client.now = () => clock;
  for (const ch of 'hi') {
    insertAt(peer.client, codePointLength(peer.client.text), ch);
    clock += 100;
  }
  clock += 5000;
  insertAt(peer.client, 2, '!');
  peer.client.undo();
  assert.equal(peer.client.text, 'hi');
  peer.client.undo();
  assert.equal(peer.client.text, '');
  assert.equal(peer.client.undo(), null);
});

test('emoji count as one code point on the wire', () => {
  const server = new Server('a👍b');
  const alice = new Peer(server);
  const bob = new Peer(server);
  insertAt(alice.client, 2, '🎉');
  alice.client.edit(componentsToOp([{ type: 'delete', position: 1, length: 1 }], 4));
  settle(alice, bob);
  assert.equal(server.text, 'a🎉b');
  assert.equal(bob.client.text, 'a🎉b');
  assert.deepEqual(
    server.log.map((e) => e.ops),
    [[{ type: 'insert', position: 2, text: '🎉' }], [{ type: 'delete', position: 1, length: 1 }]],
  );
});

test('a remote cursor follows the text, its own inserts carrying it along', () => {
  const server = new Server('hello');
  const alice = new Peer(server);
  const bob = new Peer(server);
  const bobId = bob.socket;
  alice.client.receive({
    type: 'cursor',
    client: bobId,
    user: { id: 2, username: 'bob' },
    color: '#f00',
    position: 2,
    selection_end: null,
    version: 0,
  });
  insertAt(alice.client, 0, '>>'); // before bob's cursor: moves it
  assert.equal(alice.client.peers.get(bobId).position, 4);
  insertAt(alice.client, 4, 'A'); // exactly at it, by someone else: stays before
  assert.equal(alice.client.peers.get(bobId).position, 4);
  insertAt(bob.client, 2, 'B'); // bob types at his cursor: it ends after his text
  settle(alice, bob);
  // Both inserted at one point: bob's, committed first, stays on the left.
  assert.equal(alice.client.text, '>>heBAllo');
  assert.equal(alice.client.peers.get(bobId).position, 5);
});

test('a cursor frame for a version not reached yet waits for it', () => {
  const server = new Server('abc');
  const alice = new Peer(server);
  const bob = new Peer(server);
  insertAt(bob.client, 0, 'xx');
  bob.serve(); // committed as version 1; alice has not heard
  alice.client.receive({
    type: 'cursor',
    client: bob.socket,
    user: { id: 2, username: 'bob' },
    color: '#f00',
    position: 4,
    selection_end: 5,
    version: 1,
  });
  assert.equal(alice.client.peers.has(bob.socket), false);
  settle(alice, bob);
  assert.deepEqual(
    [alice.client.peers.get(bob.socket).position, alice.client.peers.get(bob.socket).selectionEnd],
    [4, 5],
  );
});

test('an op lost with the connection is resent once, and not doubled', () => {
  const server = new Server('');
  const alice = new Peer(server);
  insertAt(alice.client, 0, 'typed');
  alice.serve(); // it landed, but the ack never arrives
  const first = alice.client.inflight.frame;
  alice.drop();
  assert.deepEqual(alice.up.filter((f) => f.action === 'op'), [first]);
  insertAt(alice.client, 5, ' more');
  settle(alice);
  assert.equal(server.text, 'typed more');
  assert.equal(alice.client.text, 'typed more');
  assert.equal(server.version, 2);
});

for (const code of ['rate_limited', 'unavailable']) {
  test(`an op refused with ${code} is resent after the delay, the same op`, () => {
    const timers = [];
    const sent = [];
    const client = new CollabClient({ send: (f) => sent.push(f), setTimer: (fn, ms) => timers.push([fn, ms]) });
    client.receive({ type: 'hello', client: 'c', version: 0, content: '', can_edit: true, peers: [] });
    client.opened();
    insertAt(client, 0, 'x');
    const op = sent.find((f) => f.action === 'op');
    client.receive({ type: 'error', code, message: 'later', ref: op.ref, retry_after_ms: 30 });
    assert.ok(!client.broken);
    const retry = timers.find(([, ms]) => ms === 30);
    assert.ok(retry);
    retry[0]();
    const ops = sent.filter((f) => f.action === 'op');
    assert.equal(ops.length, 2);
    assert.equal(ops[1].op_id, op.op_id);
  });
}

test('cursor frames go out only when nothing of ours is unacknowledged', () => {
  const sent = [];
  let clock = 1000;
  const client = new CollabClient({ send: (f) => sent.push(f), now: () => clock, setTimer: () => {} });
  client.receive({ type: 'hello', client: 'c', version: 3, content: 'abc', can_edit: true, peers: [] });
  client.opened();
  sent.length = 0;
  clock += 100;
  insertAt(client, 3, 'd');
  client.setSelection(4);
  assert.deepEqual(sent.map((f) => f.action), ['op']);
  client.receive({ type: 'ack', version: 4, op_id: sent[0].op_id });
  assert.deepEqual(sent[1], { action: 'cursor', position: 4, selection_end: null, version: 4 });
});
