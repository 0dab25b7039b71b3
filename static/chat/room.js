// The room page: live messages, who is online, typing, read markers, and a
// history that stays whole across reconnects (PROTOCOL.md, "Chat").
//
// Resume: the page tracks the seq up to which it holds every message
// (Timeline.lastSeq), reconnects with `?since=` it, and asks `history` with
// `after` when a seq jumps. Messages are keyed by seq, so nothing shows twice.
// Sending: each message gets a client_id and stays "pending" until the server
// acks it. The Outbox sends them one at a time in the order written, through
// rate limiting and reconnects, so they are stored in that order; a resend
// carries the same client_id (the server stores a client_id once).

import { RealtimeSocket, stateBadge } from '../realtime/socket.js';
import { Outbox } from './outbox.js';
import {
  groupWith,
  messageElement,
  pendingElement,
  personElement,
  setPendingStatus,
  setSeen,
  typingText,
} from './render.js';
import { Timeline } from './timeline.js';

const TYPING_REFRESH_MS = 3000; // resend typing: true while still typing
const TYPING_IDLE_MS = 4000; // typing: false after this long without a key
const TYPING_EXPIRE_MS = 8000; // forget someone's "typing" if no refresh came
const READ_DEBOUNCE_MS = 400;
const OLDER_PAGE = 50;
const GAP_PAGE = 100;

const root = document.getElementById('chat');
const slug = root.dataset.room;
const meNode = document.getElementById('current-user');
const me = { id: Number(meNode.dataset.id), username: meNode.textContent.trim() };

const $ = (id) => document.getElementById(id);
const log = $('chat-log');
const list = $('messages');
const pendingList = $('pending');
const olderButton = $('load-older');
const form = $('composer');
const input = $('message-input');

const timeline = new Timeline();
const items = new Map(); // seq -> <li>
const pending = new Map(); // client_id -> {clientId, text, item}: written, not yet in the list
const online = new Map(); // user id -> user
const typers = new Map(); // user id -> {user, timer}
const readers = new Map(); // user id -> {user, last_seq}
let resumedFrom = null; // the `since` of the current connection, null on a fresh load
let fillingGap = false;

for (const marker of JSON.parse($('read-markers').textContent)) readers.set(marker.user.id, marker);

const badge = stateBadge($('conn-state'));
const socket = new RealtimeSocket(`/ws/chat/${encodeURIComponent(slug)}/`, {
  onFrame: receive,
  onState(state, info) {
    badge(state, info);
    root.dataset.state = state;
    if (state !== 'open') clearTypers();
    if (state === 'closed' && info.code) notice('This room is no longer available to you.');
  },
  resumeQuery() {
    resumedFrom = timeline.loaded ? timeline.lastSeq : null;
    return resumedFrom === null ? {} : { since: resumedFrom };
  },
  onOpen() {
    outbox.pump();
    markRead();
  },
});

// --- frames from the server ------------------------------------------------------

function receive(frame) {
  switch (frame.type) {
    case 'hello':
      timeline.noteNewest(frame.last_seq);
      online.clear();
      for (const user of frame.online) online.set(user.id, user);
      renderOnline();
      break;
    case 'history': // the greeting's; replies to requests go to their Promise
      if (frame.ref !== undefined) break;
      if (resumedFrom === null) {
        const added = timeline.load(frame.messages, {
          hasOlder: frame.has_more,
          roomLastSeq: timeline.newestKnown,
        });
        show(added);
        stickToBottom();
      } else {
        show(timeline.add(frame.messages));
      }
      showEmpty();
      afterNews();
      break;
    case 'message':
      stopTyping(frame.user.id);
      show(timeline.add([frame]));
      afterNews();
      break;
    case 'presence':
      for (const user of frame.joined || []) online.set(user.id, user);
      for (const user of frame.left || []) {
        online.delete(user.id);
        stopTyping(user.id);
      }
      renderOnline();
      break;
    case 'typing':
      if (frame.user.id !== me.id) {
        if (frame.typing) startTyping(frame.user);
        else stopTyping(frame.user.id);
      }
      break;
    case 'read':
      noteReader(frame.user, frame.last_seq);
      renderSeen();
      break;
    case 'error':
      notice(frame.message || frame.code);
      break;
    default:
      break;
  }
}

/** New messages arrived: fill any hole, update markers, tell the room we read them. */
function afterNews() {
  if (timeline.missing()) fillGap();
  renderSeen();
  markRead();
}

/** Ask `history` after our last contiguous seq until nothing is missing. */
async function fillGap() {
  if (fillingGap) return;
  fillingGap = true;
  try {
    while (timeline.missing()) {
      const from = timeline.lastSeq;
      const reply = await socket.request({ action: 'history', after: from, limit: GAP_PAGE });
      show(timeline.add(reply.messages));
      if (timeline.lastSeq === from) break; // the server has nothing more: do not spin
    }
    renderSeen();
    markRead();
  } catch {
    // The link dropped: the reconnect asks `since` our last seq, which covers the hole.
  } finally {
    fillingGap = false;
  }
}

async function loadOlder() {
  if (timeline.oldestSeq === null) return;
  olderButton.disabled = true;
  try {
    const reply = await socket.request({
      action: 'history',
      before: timeline.oldestSeq,
      limit: OLDER_PAGE,
    });
    const keep = log.scrollHeight - log.scrollTop;
    show(timeline.addOlder(reply.messages, { hasMore: reply.has_more }));
    log.scrollTop = log.scrollHeight - keep;
    renderSeen();
  } catch (error) {
    notice(`Could not load older messages (${error.message}).`);
  } finally {
    olderButton.disabled = false;
  }
}

// --- the message list ------------------------------------------------------------

/** Put messages (new to the timeline) into the list at their seq. */
function show(messages) {
  if (!messages.length) return;
  const follow = nearBottom();
  // Newest first, so the item each one goes before is always in the list already.
  for (const message of [...messages].sort((a, b) => b.seq - a.seq)) {
    const item = messageElement(message, me);
    items.set(message.seq, item);
    const next = timeline.nextAfter(message.seq);
    list.insertBefore(item, next === null ? null : items.get(next));
    groupWith(item, message, timeline.before(message.seq));
    if (next !== null) groupWith(items.get(next), timeline.get(next), message);
    if (message.user.id === me.id && message.client_id) dropPending(message.client_id);
  }
  olderButton.hidden = !timeline.hasOlder;
  showEmpty();
  if (follow || messages.some((message) => message.user.id === me.id)) stickToBottom();
}

function showEmpty() {
  $('empty').hidden = timeline.size > 0 || pending.size > 0;
}

function nearBottom() {
  return log.scrollHeight - log.scrollTop - log.clientHeight < 80;
}

function stickToBottom() {
  log.scrollTop = log.scrollHeight;
}

// --- sending ------------------------------------------------------------------

function newClientId() {
  if (globalThis.crypto?.randomUUID) return crypto.randomUUID();
  // Pages served over plain http on a LAN address are not a secure context.
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, '0')).join('');
}

const STATUS = {
  waiting: () => (socket.state === 'open' ? 'Queued…' : 'Waiting for connection…'),
  sending: () => (socket.state === 'open' ? 'Sending…' : 'Waiting for connection…'),
  sent: () => 'Sent',
  slowing: () => 'Slowing down…',
  unavailable: () => 'Server unavailable, retrying…',
};

const outbox = new Outbox(
  (entry) => socket.request({ action: 'send', message: entry.text, client_id: entry.clientId }),
  {
    onStatus(entry, status, error) {
      if (!pending.has(entry.clientId)) return;
      if (status === 'failed') fail(entry, error);
      else setPendingStatus(entry.item, STATUS[status]());
    },
  },
);

function submit() {
  const text = input.value;
  if (!text.trim()) return;
  input.value = '';
  autosize();
  typingOff();
  const entry = { clientId: newClientId(), text };
  entry.item = pendingElement(text, me);
  pending.set(entry.clientId, entry);
  pendingList.append(entry.item);
  showEmpty();
  stickToBottom();
  outbox.add(entry);
}

function fail(entry, error) {
  setPendingStatus(entry.item, `Not sent: ${error.message}`, {
    failed: true,
    actions: [
      ['Retry', () => outbox.retry(entry)],
      ['Discard', () => dropPending(entry.clientId)],
    ],
  });
}

/** Forget a pending message: it is in the list now (or the user discarded it). */
function dropPending(clientId) {
  const entry = pending.get(clientId);
  if (!entry) return;
  pending.delete(clientId);
  outbox.remove(clientId);
  entry.item.remove();
  showEmpty();
}

// --- typing ---------------------------------------------------------------------

let typingSentAt = 0;
let typingOn = false;
let typingIdle = null;

function typingSend(on) {
  const sent = socket.send({ action: 'typing', typing: on }, { queue: false });
  typingOn = on && sent;
  typingSentAt = sent ? Date.now() : 0;
}

function typingOff() {
  clearTimeout(typingIdle);
  if (typingOn) typingSend(false);
}

function onInput() {
  autosize();
  if (!input.value.trim()) {
    typingOff();
    return;
  }
  if (!typingOn || Date.now() - typingSentAt > TYPING_REFRESH_MS) typingSend(true);
  clearTimeout(typingIdle);
  typingIdle = setTimeout(typingOff, TYPING_IDLE_MS);
}

function startTyping(user) {
  clearTimeout(typers.get(user.id)?.timer);
  const timer = setTimeout(() => stopTyping(user.id), TYPING_EXPIRE_MS);
  typers.set(user.id, { user, timer });
  renderTyping();
}

function stopTyping(userId) {
  const typer = typers.get(userId);
  if (!typer) return;
  clearTimeout(typer.timer);
  typers.delete(userId);
  renderTyping();
}

function clearTypers() {
  for (const userId of [...typers.keys()]) stopTyping(userId);
}

function renderTyping() {
  $('typing').textContent = typingText([...typers.values()].map((typer) => typer.user.username));
}

// --- presence and read markers ------------------------------------------------------

function renderOnline() {
  const people = [...online.values()].sort((a, b) => a.username.localeCompare(b.username));
  $('online').replaceChildren(...people.map((user) => personElement(user, me)));
  $('online-count').textContent = String(people.length);
}

function noteReader(user, lastSeq) {
  const known = readers.get(user.id);
  if (!known || lastSeq > known.last_seq) readers.set(user.id, { user, last_seq: lastSeq });
}

/** "Seen by …" under the newest message each other reader has read (not under their own). */
function renderSeen() {
  const names = new Map(); // seq -> [username]
  for (const { user, last_seq: lastSeq } of readers.values()) {
    const seq = timeline.atOrBelow(lastSeq);
    if (user.id === me.id || seq === null || timeline.get(seq).user.id === user.id) continue;
    if (!names.has(seq)) names.set(seq, []);
    names.get(seq).push(user.username);
  }
  for (const [seq, item] of items) setSeen(item, (names.get(seq) || []).sort());
}

let readSent = 0;
let readTimer = null;

/** Tell the room how far we have read, when the page is in view (debounced). */
function markRead() {
  if (readTimer !== null || timeline.lastSeq <= readSent) return;
  readTimer = setTimeout(() => {
    readTimer = null;
    const upto = timeline.lastSeq;
    if (document.visibilityState !== 'visible' || upto <= readSent) return;
    if (socket.send({ action: 'read', last_seq: upto }, { queue: false })) readSent = upto;
  }, READ_DEBOUNCE_MS);
}

// --- the page -------------------------------------------------------------------

let noticeTimer = null;

function notice(text) {
  const line = $('notice');
  line.textContent = text;
  line.hidden = false;
  clearTimeout(noticeTimer);
  noticeTimer = setTimeout(() => {
    line.hidden = true;
  }, 6000);
}

function autosize() {
  input.style.height = 'auto';
  input.style.height = `${Math.min(input.scrollHeight, 160)}px`;
}

form.addEventListener('submit', (event) => {
  event.preventDefault();
  submit();
  input.focus();
});
input.addEventListener('keydown', (event) => {
  if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    submit();
  }
});
input.addEventListener('input', onInput);
input.addEventListener('blur', typingOff);
olderButton.addEventListener('click', loadOlder);
document.addEventListener('visibilitychange', markRead);
