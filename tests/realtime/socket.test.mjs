// static/realtime/socket.js: the pure rules (close codes, backoff, URLs) and
// RealtimeSocket itself against a fake WebSocket and mocked timers.
//
//   node --test tests/realtime/

import { test } from 'node:test';
import assert from 'node:assert/strict';

import {
  FINAL_CLOSE_CODES,
  RETRY_CLOSE_CODES,
  RealtimeSocket,
  backoffDelay,
  closePolicy,
  loginUrl,
  socketUrl,
  stateBadge,
  tokenExpiry,
} from '../../static/realtime/socket.js';

const PAGE = {
  protocol: 'http:',
  host: 'example.test:8000',
  pathname: '/rooms/lobby/',
  search: '',
};

// --- close-code policy ------------------------------------------------------

test('reconnects after every close code the protocol lists, and 4013', () => {
  for (const code of [1001, 1006, 1011, 1012, 4009, 4013, 4429, 4500]) {
    assert.equal(closePolicy(code), 'reconnect', `code ${code}`);
  }
  assert.deepEqual([...RETRY_CLOSE_CODES].sort(), [1001, 1006, 1011, 1012, 4009, 4013, 4429, 4500]);
});

test('reconnects after closes it did not ask for, whatever the code', () => {
  for (const code of [1000, 1005, 3000, 4000, 4999]) assert.equal(closePolicy(code), 'reconnect');
});

test('never reconnects after 4400, 4403, 4404; 4401 sends the user to log in', () => {
  assert.equal(closePolicy(4400), 'stop');
  assert.equal(closePolicy(4403), 'stop');
  assert.equal(closePolicy(4404), 'stop');
  assert.equal(closePolicy(4401), 'login');
  assert.deepEqual([...FINAL_CLOSE_CODES], [4400, 4401, 4403, 4404]);
});

// --- backoff ----------------------------------------------------------------

test('backoff ceiling doubles from the base up to the cap', () => {
  const top = () => 1 - Number.EPSILON;
  const ceilings = [0, 1, 2, 3, 4, 5, 6, 50].map((n) => backoffDelay(n, { random: top }) + 1);
  assert.deepEqual(ceilings, [500, 1000, 2000, 4000, 8000, 15000, 15000, 15000]);
});

test('backoff is full jitter: anywhere in [0, ceiling), never past the cap', () => {
  assert.equal(backoffDelay(3, { random: () => 0 }), 0);
  for (let attempt = 0; attempt < 40; attempt++) {
    for (let i = 0; i < 50; i++) {
      const delay = backoffDelay(attempt);
      assert.ok(Number.isInteger(delay) && delay >= 0, `${delay}`);
      assert.ok(delay < Math.min(15000, 500 * 2 ** attempt), `attempt ${attempt}: ${delay}`);
    }
  }
  assert.equal(backoffDelay(2, { base: 100, cap: 300, random: () => 0.5 }), 150);
  assert.equal(backoffDelay(1e6, { random: () => 0.5 }), 7500);
});

// --- URLs -------------------------------------------------------------------

test('socket URL follows the page: ws under http, wss under https, same host and port', () => {
  assert.equal(socketUrl('/ws/chat/lobby/', PAGE), 'ws://example.test:8000/ws/chat/lobby/');
  assert.equal(
    socketUrl('/ws/notifications/', { protocol: 'https:', host: 'rt.example.com' }),
    'wss://rt.example.com/ws/notifications/',
  );
});

test('socket URL adds resume parameters, encoded, skipping null ones', () => {
  assert.equal(
    socketUrl('/ws/chat/lobby/', PAGE, { since: 42, empty: null, none: undefined }),
    'ws://example.test:8000/ws/chat/lobby/?since=42',
  );
  assert.equal(
    socketUrl('/ws/x/?a=1', PAGE, { q: 'a b&c' }),
    'ws://example.test:8000/ws/x/?a=1&q=a+b%26c',
  );
  assert.equal(socketUrl('/ws/x/', PAGE, { since: 0 }), 'ws://example.test:8000/ws/x/?since=0');
});

test('login URL comes back to the current page', () => {
  assert.equal(loginUrl(PAGE), '/login/?next=%2Frooms%2Flobby%2F');
  assert.equal(
    loginUrl({ pathname: '/docs/7/', search: '?x=1&y=2' }),
    '/login/?next=%2Fdocs%2F7%2F%3Fx%3D1%26y%3D2',
  );
});

// --- the client against a fake WebSocket ------------------------------------

class FakeWebSocket {
  static all = [];
  constructor(url) {
    this.url = url;
    this.sent = [];
    this.closedByClient = null;
    FakeWebSocket.all.push(this);
  }
  send(text) {
    this.sent.push(JSON.parse(text));
  }
  close(code) {
    this.closedByClient = code ?? 1005;
  }
  // What the server does:
  frame(frame) {
    this.onmessage?.({ data: JSON.stringify(frame) });
  }
  serverClose(code) {
    this.onclose?.({ code });
  }
}

function client(t, options = {}) {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  FakeWebSocket.all = [];
  const log = { frames: [], states: [], opens: 0, navigated: [] };
  const socket = new RealtimeSocket('/ws/chat/lobby/', {
    WebSocket: FakeWebSocket,
    location: PAGE,
    navigate: (url) => log.navigated.push(url),
    random: () => 0.5,
    onFrame: (frame) => log.frames.push(frame),
    onState: (state) => log.states.push(state),
    onOpen: () => log.opens++,
    ...options,
  });
  const last = () => FakeWebSocket.all.at(-1);
  return { socket, log, last };
}

test('open only after the greeting; queued frames go out then, in order', (t) => {
  const { socket, log, last } = client(t);
  assert.equal(socket.state, 'connecting');
  assert.equal(socket.send({ action: 'a' }), false);
  socket.send({ action: 'b' });
  assert.deepEqual(last().sent, []);
  last().frame({ type: 'hello' });
  assert.equal(socket.state, 'open');
  assert.deepEqual(log.frames, [{ type: 'hello' }]);
  assert.deepEqual(last().sent, [{ action: 'a' }, { action: 'b' }]);
  assert.equal(socket.send({ action: 'c' }), true);
  assert.deepEqual(last().sent.at(-1), { action: 'c' });
  assert.equal(log.opens, 1);
});

test('a refusal closes before any greeting: nothing queued is spent on it', (t) => {
  const { socket, log, last } = client(t);
  socket.send({ action: 'send', message: 'hi' });
  last().serverClose(4403);
  assert.equal(socket.state, 'closed');
  assert.deepEqual(log.states, ['connecting', 'closed']);
  assert.deepEqual(last().sent, []);
  t.mock.timers.tick(60_000);
  assert.equal(FakeWebSocket.all.length, 1, 'no reconnect after 4403');
});

test('4401 stops and sends the user to log in', (t) => {
  const { socket, log, last } = client(t);
  last().serverClose(4401);
  assert.equal(socket.state, 'closed');
  assert.deepEqual(log.navigated, ['/login/?next=%2Frooms%2Flobby%2F']);
  t.mock.timers.tick(60_000);
  assert.equal(FakeWebSocket.all.length, 1);
});

test('reconnects with backoff after 1006, asking resumeQuery each time', (t) => {
  let since = 0;
  const { socket, log, last } = client(t, { resumeQuery: () => ({ since }) });
  assert.equal(last().url, 'ws://example.test:8000/ws/chat/lobby/?since=0');
  last().frame({ type: 'hello' });
  since = 7;
  last().serverClose(1006);
  assert.equal(socket.state, 'reconnecting');
  t.mock.timers.tick(249); // attempt 0: 0.5 * 500 ms
  assert.equal(FakeWebSocket.all.length, 1);
  t.mock.timers.tick(1);
  assert.equal(FakeWebSocket.all.length, 2);
  assert.equal(last().url, 'ws://example.test:8000/ws/chat/lobby/?since=7');
  last().serverClose(1006); // server still down: the next wait doubles
  t.mock.timers.tick(499);
  assert.equal(FakeWebSocket.all.length, 2);
  t.mock.timers.tick(1);
  assert.equal(FakeWebSocket.all.length, 3);
  last().frame({ type: 'hello' });
  assert.equal(log.opens, 2);
  const waitAndDial = ['reconnecting', 'reconnecting'];
  assert.deepEqual(log.states, ['connecting', 'open', ...waitAndDial, ...waitAndDial, 'open']);
  last().serverClose(4500); // a fresh open starts the backoff again
  t.mock.timers.tick(250);
  assert.equal(FakeWebSocket.all.length, 4);
});

test('request resolves with the reply carrying its ref; errors reject', async (t) => {
  const { socket, log, last } = client(t);
  last().frame({ type: 'hello' });
  const first = socket.request({ action: 'history', before: 10 });
  const second = socket.request({ action: 'send', message: '' });
  const [sentFirst, sentSecond] = last().sent;
  assert.notEqual(sentFirst.ref, sentSecond.ref);
  last().frame({ type: 'error', code: 'invalid', message: '`message` ...', ref: sentSecond.ref });
  last().frame({ type: 'history', messages: [], has_more: false, ref: sentFirst.ref });
  const history = { type: 'history', messages: [], has_more: false, ref: sentFirst.ref };
  assert.deepEqual(await first, history);
  await assert.rejects(second, { name: 'RealtimeError', code: 'invalid' });
  assert.deepEqual(log.frames, [{ type: 'hello' }], 'replies are not passed to onFrame');
});

test('rate_limited carries retryAfterMs', async (t) => {
  const { socket, last } = client(t);
  last().frame({ type: 'hello' });
  const reply = socket.request({ action: 'send', message: 'x' });
  const { ref } = last().sent[0];
  last().frame({ type: 'error', code: 'rate_limited', message: 'slow', retry_after_ms: 120, ref });
  await assert.rejects(reply, { code: 'rate_limited', retryAfterMs: 120 });
});

test('a request sent before a drop rejects; a queued one goes out after reconnect', async (t) => {
  const { socket, last } = client(t);
  last().frame({ type: 'hello' });
  const inFlight = socket.request({ action: 'send', message: 'one' });
  last().serverClose(1012);
  const queued = socket.request({ action: 'send', message: 'two' });
  await assert.rejects(inFlight, { code: 'disconnected' });
  t.mock.timers.tick(250);
  last().frame({ type: 'hello' });
  const [frame] = last().sent;
  assert.equal(frame.message, 'two');
  last().frame({ type: 'ack', id: 2, ref: frame.ref });
  assert.equal((await queued).id, 2);
});

test('pings after 20 s of silence and drops a link that stays silent 10 s more', (t) => {
  const { socket, last } = client(t);
  last().frame({ type: 'hello' });
  t.mock.timers.tick(19_999);
  assert.deepEqual(last().sent, []);
  t.mock.timers.tick(1);
  assert.deepEqual(last().sent, [{ action: 'ping' }]);
  last().frame({ type: 'pong' }); // answered: the link lives
  t.mock.timers.tick(20_000);
  assert.equal(last().sent.length, 2);
  t.mock.timers.tick(10_000); // no answer this time
  const dead = FakeWebSocket.all[0];
  assert.notEqual(dead.closedByClient, null);
  assert.equal(socket.state, 'reconnecting');
  t.mock.timers.tick(250);
  assert.equal(FakeWebSocket.all.length, 2);
  dead.frame({ type: 'message' }); // late frames of the dropped socket are ignored
  assert.equal(socket.state, 'reconnecting');
});

test('no greeting within 10 s of dialling: try again', (t) => {
  const { last } = client(t);
  t.mock.timers.tick(10_000);
  assert.notEqual(last().closedByClient, null);
  t.mock.timers.tick(250);
  assert.equal(FakeWebSocket.all.length, 2);
});

test('send with queue: false drops the frame while not open', (t) => {
  const { socket, last } = client(t);
  assert.equal(socket.send({ action: 'typing', typing: true }, { queue: false }), false);
  last().frame({ type: 'hello' });
  assert.deepEqual(last().sent, []);
});

test('close() is final: no reconnect, pending requests reject', async (t) => {
  const { socket, log, last } = client(t);
  last().frame({ type: 'hello' });
  const reply = socket.request({ action: 'history' });
  socket.close();
  await assert.rejects(reply, { code: 'closed' });
  assert.equal(last().closedByClient, 1000);
  assert.equal(log.states.at(-1), 'closed');
  t.mock.timers.tick(60_000);
  assert.equal(FakeWebSocket.all.length, 1);
  await assert.rejects(socket.request({ action: 'x' }), { code: 'closed' });
});

test('stateBadge shows the state as text, class and data-state', () => {
  const classes = new Set(['extra']);
  const element = {
    dataset: {},
    classList: {
      add: (...names) => names.forEach((name) => classes.add(name)),
      remove: (name) => classes.delete(name),
    },
  };
  const show = stateBadge(element);
  assert.equal(element.dataset.state, 'connecting');
  show('open');
  assert.equal(element.textContent, 'Live');
  assert.deepEqual([...classes].sort(), ['conn', 'conn-open', 'extra']);
  show('reconnecting', { code: 1006 });
  assert.equal(element.dataset.state, 'reconnecting');
  assert.ok(!classes.has('conn-open') && classes.has('conn-reconnecting'));
  assert.match(element.title, /1006/);
});

test('a request can time out; its late reply is dropped, not passed to onFrame', async (t) => {
  const { socket, log, last } = client(t);
  last().frame({ type: 'hello' });
  const reply = socket.request({ action: 'history' }, { timeout: 5000 });
  const { ref } = last().sent[0];
  t.mock.timers.tick(5000);
  await assert.rejects(reply, { code: 'timeout' });
  last().frame({ type: 'history', messages: [], has_more: false, ref });
  assert.deepEqual(log.frames, [{ type: 'hello' }]);
});

test('a request that timed out while queued is never sent', async (t) => {
  const { socket, last } = client(t);
  const reply = socket.request({ action: 'history' }, { timeout: 1000 });
  t.mock.timers.tick(1000);
  await assert.rejects(reply, { code: 'timeout' });
  last().frame({ type: 'hello' });
  assert.deepEqual(last().sent, []);
});

test('frames of other sorts and unmatched refs reach onFrame', (t) => {
  const { log, last } = client(t);
  last().frame({ type: 'hello' });
  last().frame({ type: 'presence', joined: [] });
  last().frame({ type: 'error', code: 'bad_json', message: 'x' });
  last().frame({ type: 'ack', ref: 'someone-else' });
  assert.deepEqual(
    log.frames.map((frame) => frame.type),
    ['hello', 'presence', 'error', 'ack'],
  );
});

test('a final close rejects what was still queued: it can never go out', async (t) => {
  const { socket, last } = client(t);
  const reply = socket.request({ action: 'send', message: 'hi' });
  last().serverClose(4404);
  await assert.rejects(reply, { code: 'closed' });
  assert.equal(socket.send({ action: 'x' }), false);
});

// --- token hosts: fresh tokens, refresh before expiry, one retry after 4401 ---

function jwt(expSeconds, tag = 'x') {
  const part = (value) => Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${part({ alg: 'HS256' })}.${part({ sub: '1', exp: expSeconds, tag })}.sig`;
}

const flush = () => new Promise((resolve) => setImmediate(resolve));

test('tokenExpiry reads exp from a JWT, null from anything else', () => {
  assert.equal(tokenExpiry(jwt(1_700_000_000)), 1_700_000_000_000);
  for (const junk of ['', 'a.b.c', 'x', null, undefined, 'a.' + btoa('[1]') + '.c']) {
    assert.equal(tokenExpiry(junk), null);
  }
});

test('a token host connects with a fresh token each time', async (t) => {
  const tokens = [jwt(2_000), jwt(3_000)];
  const { last } = client(t, { token: () => tokens.shift(), now: () => 1_000_000 });
  await flush();
  assert.match(last().url, /\?token=/);
  const first = last().url;
  last().frame({ type: 'hello' });
  last().serverClose(1006);
  t.mock.timers.tick(250);
  await flush();
  assert.notEqual(last().url, first);
});

test('before the token expires the socket refreshes it in place', async (t) => {
  let now = 1_000_000; // ms; the first token expires at 1,000 s + 300 s
  const fresh = jwt(1_600, 'fresh');
  const tokens = [jwt(1_300), fresh];
  const { socket, last } = client(t, {
    token: () => tokens.shift(),
    now: () => now,
    refreshAhead: 60_000,
    pingEvery: 10_000_000, // no pings in the way
  });
  await flush();
  last().frame({ type: 'hello' });
  now += 239_999;
  t.mock.timers.tick(239_999);
  await flush();
  assert.deepEqual(last().sent, [], 'not yet: 60 s before expiry');
  now += 1;
  t.mock.timers.tick(1);
  await flush();
  const refresh = last().sent.at(-1);
  assert.equal(refresh.action, 'refresh');
  assert.equal(refresh.token, fresh);
  last().frame({ type: 'refreshed', ref: refresh.ref, expires_in: 360 });
  await flush();
  assert.equal(socket.state, 'open');
  assert.equal(FakeWebSocket.all.length, 1, 'no reconnect');
});

test('4401 on a token host reconnects at once with a fresh token; twice in a row, log in', async (t) => {
  const { socket, log, last } = client(t, { token: () => jwt(9_999_999_999) });
  await flush();
  last().frame({ type: 'hello' });
  last().serverClose(4401); // the token expired
  assert.equal(socket.state, 'reconnecting');
  t.mock.timers.tick(0);
  await flush();
  assert.equal(FakeWebSocket.all.length, 2);
  last().serverClose(4401); // refused again before any greeting: the user must log in
  assert.equal(socket.state, 'closed');
  assert.equal(log.navigated.length, 1);
});

test('a token host whose token cannot be had now retries with backoff', async (t) => {
  let fail = true;
  const { socket } = client(t, {
    token: () => {
      if (fail) throw new Error('offline');
      return jwt(9_999_999_999);
    },
  });
  await flush();
  assert.equal(socket.state, 'reconnecting');
  assert.equal(FakeWebSocket.all.length, 0);
  fail = false;
  t.mock.timers.tick(250);
  await flush();
  assert.equal(FakeWebSocket.all.length, 1);
});
