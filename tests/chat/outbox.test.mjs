// static/chat/outbox.js: a tab's messages are stored in the order written,
// through rate limiting, lost links and failures.
//
//   node --test tests/chat/

import { test } from 'node:test';
import assert from 'node:assert/strict';

import { Outbox } from '../../static/chat/outbox.js';

const flush = () => new Promise((resolve) => setImmediate(resolve));

/**
 * A server as the chat socket is one: a token bucket (`burst`, `perSecond`)
 * refuses with `rate_limited` and the delay until a token; a client_id is
 * stored once. Time is simulated: `run()` moves it to each scheduled timer.
 */
function fakeServer({ burst = 20, perSecond = 10, drops = new Map() } = {}) {
  const server = { now: 0, stored: [], inFlight: 0, maxInFlight: 0, timers: [] };
  let tokens = burst;
  let refilledAt = 0;
  const ids = new Set();
  server.schedule = (fn, ms) => server.timers.push({ at: server.now + ms, fn });
  server.send = async (entry) => {
    server.inFlight += 1;
    server.maxInFlight = Math.max(server.maxInFlight, server.inFlight);
    await flush();
    server.inFlight -= 1;
    const drop = drops.get(entry.text);
    if (drop === 'before') {
      drops.delete(entry.text);
      throw Object.assign(new Error('link lost'), { code: 'disconnected' });
    }
    if (drop === 'invalid') throw Object.assign(new Error('too long'), { code: 'invalid' });
    if (drop === 'unavailable') {
      drops.delete(entry.text); // the database is back for the resend
      throw Object.assign(new Error('away'), { code: 'unavailable', retryAfterMs: 1000 });
    }
    tokens = Math.min(burst, tokens + ((server.now - refilledAt) / 1000) * perSecond);
    refilledAt = server.now;
    if (!ids.has(entry.clientId)) {
      if (tokens < 1) {
        const retryAfterMs = Math.ceil(((1 - tokens) / perSecond) * 1000);
        throw Object.assign(new Error('slow down'), { code: 'rate_limited', retryAfterMs });
      }
      tokens -= 1;
      ids.add(entry.clientId);
      server.stored.push(entry.text);
    }
    if (drop === 'after') {
      drops.delete(entry.text); // stored, but the ack is lost with the link
      throw Object.assign(new Error('link lost'), { code: 'disconnected' });
    }
    return { type: 'ack' };
  };
  server.run = async (onIdle = () => false) => {
    for (let turns = 0; turns < 10_000; turns += 1) {
      await flush();
      if (server.inFlight) continue;
      if (server.timers.length) {
        server.timers.sort((a, b) => a.at - b.at);
        const timer = server.timers.shift();
        server.now = Math.max(server.now, timer.at);
        timer.fn();
      } else if (!onIdle()) {
        return;
      }
    }
    throw new Error('the outbox never settled');
  };
  return server;
}

const written = (n) => Array.from({ length: n }, (_, i) => `burst ${i + 1}`);
const entries = (texts) => texts.map((text, i) => ({ clientId: `c${i}`, text }));

function outboxOn(server, statuses = []) {
  return new Outbox(server.send, {
    schedule: server.schedule,
    onStatus: (entry, status) => statuses.push([entry.text, status]),
  });
}

test('30 written at once, 10 over the rate limit: all 30 stored in the order written', async () => {
  const server = fakeServer({ burst: 20, perSecond: 10 });
  const statuses = [];
  const outbox = outboxOn(server, statuses);
  for (const entry of entries(written(30))) outbox.add(entry);
  await server.run();
  assert.deepEqual(server.stored, written(30));
  assert.equal(server.maxInFlight, 1);
  assert.ok(statuses.some(([, status]) => status === 'slowing'), 'the limit was met');
  assert.ok(server.now >= 900, `paced by the server's delays (${server.now} ms)`);
  assert.equal(outbox.queue.length, 0);
});

test('a lost link holds the queue; the resend after it stores each message once, in order', async () => {
  const drops = new Map([
    ['burst 3', 'after'],
    ['burst 6', 'before'],
  ]);
  const server = fakeServer({ drops });
  const statuses = [];
  const outbox = outboxOn(server, statuses);
  for (const entry of entries(written(8))) outbox.add(entry);
  let opens = 0;
  // The socket opens again whenever the queue waits for it.
  await server.run(() => {
    if (!outbox.queue.length) return false;
    opens += 1;
    outbox.pump();
    return true;
  });
  assert.equal(opens, 2);
  assert.deepEqual(server.stored, written(8));
  assert.ok(statuses.some(([text, status]) => text === 'burst 3' && status === 'waiting'));
});

test('a refused message fails alone; a retry goes behind the ones written since', async () => {
  const drops = new Map([['burst 2', 'invalid']]);
  const server = fakeServer({ drops });
  const statuses = [];
  const outbox = outboxOn(server, statuses);
  const all = entries(written(4));
  for (const entry of all) outbox.add(entry);
  await server.run();
  assert.deepEqual(server.stored, ['burst 1', 'burst 3', 'burst 4']);
  assert.deepEqual(
    statuses.filter(([, status]) => status === 'failed'),
    [['burst 2', 'failed']],
  );
  drops.clear();
  outbox.retry(all[1]);
  await server.run();
  assert.deepEqual(server.stored, ['burst 1', 'burst 3', 'burst 4', 'burst 2']);
});

test('a message removed while waiting is never sent', async () => {
  const server = fakeServer({ burst: 1, perSecond: 1 });
  const outbox = outboxOn(server);
  const all = entries(written(3));
  for (const entry of all) outbox.add(entry);
  outbox.remove(all[2].clientId);
  await server.run();
  assert.deepEqual(server.stored, ['burst 1', 'burst 2']);
});

test('a message refused as unavailable holds the queue and is sent again, once, in its place', async () => {
  const drops = new Map([['burst 2', 'unavailable']]);
  const server = fakeServer({ drops });
  const statuses = [];
  const outbox = outboxOn(server, statuses);
  for (const entry of entries(written(4))) outbox.add(entry);
  await server.run();
  assert.deepEqual(server.stored, written(4));
  assert.ok(statuses.some(([text, status]) => text === 'burst 2' && status === 'unavailable'));
  assert.ok(server.now >= 1000, 'waited the delay the server gave');
});
