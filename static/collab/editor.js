// The editor page: one shared document in a textarea (PROTOCOL.md,
// "Collaborative editing").
//
// The textarea always shows CollabClient's text. A local change is read back
// as a diff of the textarea's value (typing, paste, IME and autocorrect
// alike), converted to code points, and handed to the client, which sends or
// buffers it. A remote op rewrites the value and puts the selection back
// where the op moved it. Others' cursors are drawn by CursorOverlay. The
// socket (RealtimeSocket) reconnects by itself; the client then catches up
// with `sync` and resends what was unacknowledged, so nothing typed while the
// link was down is lost or doubled.

import { RealtimeSocket, stateBadge } from '../realtime/socket.js';
import { CollabClient } from './client.js';
import { diffToOp } from './diff.js';
import { codePointToUtf16Index, utf16ToCodePointIndex } from './ot.js';
import { CursorOverlay } from './overlay.js';

const TICK_MS = 500;

const $ = (id) => document.getElementById(id);
const root = $('collab');
const textarea = $('editor');
const badge = stateBadge($('conn-state'));
const overlay = new CursorOverlay($('overlay'), textarea);
let shown = ''; // what the textarea showed after the last sync with the client
// While an IME composes, rewriting the textarea would break the composition:
// server frames wait until it ends (the composition's own input comes first).
let composing = false;
const deferred = [];

const client = new CollabClient({
  send: (frame) => socket.send(frame, { queue: false }),
  onText: showText,
  onPeers: showPeers,
  onNeedReload(reason) {
    notice(`This page is out of step with the server (${reason}); reloading.`);
    setTimeout(() => location.reload(), 1500);
  },
});

const socket = new RealtimeSocket(`/ws/collab/${root.dataset.doc}/`, {
  onFrame(frame) {
    if (composing && frame.type !== 'hello') deferred.push(frame);
    else receive(frame);
  },
  onState(state, info) {
    badge(state, info);
    root.dataset.state = state;
    if (state !== 'open') client.closed();
  },
  onOpen() {
    client.opened();
    status();
  },
});

function receive(frame) {
  try {
    client.receive(frame);
  } catch (error) {
    client.onNeedReload(String(error));
  }
  if (frame.type === 'hello') greeted(frame);
  status();
}

textarea.addEventListener('compositionstart', () => {
  composing = true;
});
textarea.addEventListener('compositionend', () => {
  composing = false;
  setTimeout(() => {
    for (const frame of deferred.splice(0)) receive(frame);
  });
});

function greeted(hello) {
  $('doc-title').textContent = hello.doc.title;
  textarea.readOnly = !client.canEdit;
  textarea.placeholder = client.canEdit ? 'Start typing…' : '';
  $('read-only').hidden = client.canEdit;
}

// --- the text --------------------------------------------------------------------

/** Put the client's text in the textarea; keep the selection where the change moved it. */
function showText(op) {
  const { scrollTop } = textarea;
  const focused = document.activeElement === textarea;
  textarea.value = shown = client.text;
  const { start, end } = client.selection;
  if (focused || op === null) {
    textarea.setSelectionRange(
      codePointToUtf16Index(shown, start),
      codePointToUtf16Index(shown, end),
    );
  }
  textarea.scrollTop = scrollTop;
  showPeers();
}

/** Read the textarea's change into an op for the client. */
textarea.addEventListener('input', () => {
  const value = textarea.value;
  if (value === shown) return;
  const op = diffToOp(shown, value, textarea.selectionEnd);
  shown = value;
  client.edit(op);
  readSelection();
  status();
});

function readSelection() {
  const value = textarea.value;
  client.setSelection(
    utf16ToCodePointIndex(value, textarea.selectionStart),
    utf16ToCodePointIndex(value, textarea.selectionEnd),
  );
}

document.addEventListener('selectionchange', () => {
  if (document.activeElement === textarea) readSelection();
});
for (const type of ['select', 'keyup', 'mouseup', 'focus']) {
  textarea.addEventListener(type, readSelection);
}

// --- undo and redo of one's own edits ----------------------------------------------

function undoOrRedo(redo) {
  if (!client.canEdit) return;
  const op = redo ? client.redo() : client.undo();
  if (op === null) return;
  // The caret goes where the undone change was.
  const caret = caretAfter(op);
  client.setSelection(caret, caret);
  textarea.setSelectionRange(
    codePointToUtf16Index(shown, caret),
    codePointToUtf16Index(shown, caret),
  );
  status();
}

/** Where an op's last change ends (code points in the text after it). */
function caretAfter(op) {
  let position = 0;
  let last = 0;
  for (const c of op) {
    if (typeof c === 'number') position += c;
    else if (typeof c === 'string') last = position += Array.from(c).length;
    else last = position;
  }
  return last;
}

textarea.addEventListener('keydown', (event) => {
  if (!(event.ctrlKey || event.metaKey) || event.altKey) return;
  const key = event.key.toLowerCase();
  if (key === 'z' || key === 'y') {
    event.preventDefault();
    undoOrRedo(key === 'y' || event.shiftKey);
  }
});
textarea.addEventListener('beforeinput', (event) => {
  // The browser's own history (menus, gestures) knows nothing of the others' edits.
  if (event.inputType === 'historyUndo' || event.inputType === 'historyRedo') {
    event.preventDefault();
    undoOrRedo(event.inputType === 'historyRedo');
  }
});

// --- who is here ---------------------------------------------------------------------

function showPeers() {
  const peers = [...client.peers.values()];
  overlay.update(peers);
  const people = new Map();
  if (client.user) people.set(client.user.id, { ...client.user, you: true });
  for (const peer of peers) {
    if (!people.has(peer.user.id)) people.set(peer.user.id, { ...peer.user, color: peer.color });
  }
  const list = $('peers');
  list.replaceChildren(
    ...[...people.values()].map((person) => {
      const item = document.createElement('li');
      item.className = 'person';
      item.dataset.user = person.username;
      const swatch = document.createElement('span');
      swatch.className = 'swatch';
      swatch.style.background = person.color;
      const name = document.createElement('span');
      name.textContent = person.username;
      item.append(swatch, name);
      if (person.you) {
        const you = document.createElement('span');
        you.className = 'you';
        you.textContent = '(you)';
        item.append(you);
      }
      return item;
    }),
  );
  $('peer-count').textContent = String(people.size);
}

// --- status for people and tests ---------------------------------------------------------

function status() {
  root.dataset.version = String(client.version);
  root.dataset.idle = String(client.idle);
}

function notice(text) {
  const node = $('notice');
  node.textContent = text;
  node.hidden = false;
}

setInterval(() => {
  client.tick();
  status();
}, TICK_MS);

window.addEventListener('beforeunload', (event) => {
  // Unsent edits would be lost: ask before leaving.
  if (!client.idle) event.preventDefault();
});
