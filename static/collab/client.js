// The collab client's state, without DOM or socket: the twin of collab/client.py.
//
// Jupiter style, as PROTOCOL.md ("Collaborative editing") describes:
// - one op in flight; later edits are composed into a buffer, sent when the
//   ack comes;
// - every server op, in version order, is transformed against the op in
//   flight and the buffer (the server's op on the left), then applied;
// - frames can arrive out of version order (broadcasts from several server
//   processes, an ack before an op it was transformed past): they wait in
//   `arrived` until the versions before them are in; a gap that does not
//   fill is closed with `sync`;
// - after a reconnect the unacked op is resent as first sent (same base
//   version and op_id): the server acks it once, whether or not it landed.
// The server bounds the work of one op: an op of more than OP_MAX_COMPONENTS
// components goes out as several; one refused with `stale_version` (too far
// behind to transform) is caught up with `sync` and sent again, same op_id,
// from the version reached; a `sync` reply with `has_more` asks for the next.
// Remote cursors are kept in local coordinates and moved by every change of
// the local text; a cursor frame names the server version it is at. Undo and
// redo cover one's own edits only: their inverses are transformed past
// everyone else's ops.
//
// All positions here count code points; the editor converts at its edge.

import {
  apply,
  codePointLength,
  componentsToOp,
  compose,
  invert,
  isNoop,
  opLengthChange,
  opToComponents,
  transform,
  transformPosition,
} from './ot.js';
import { UndoHistory } from './undo.js';

const HISTORY_KEPT = 500; // server ops kept to move late cursor frames
const GAP_MS = 1000; // a version gap older than this is filled with `sync`
const CURSOR_EVERY_MS = 50; // at most this often a cursor frame
export const OP_MAX_COMPONENTS = 1000; // the most components the server takes in one op
export const MAX_REBASES = 10; // stale refusals of one op in a row before a reload
// Error codes after which the same op is sent again once `retry_after_ms` has passed.
export const RETRY_LATER = Object.freeze(['rate_limited', 'unavailable']);

function randomPrefix() {
  return Math.random().toString(36).slice(2, 10) + Date.now().toString(36).slice(-4);
}

export class CollabClient {
  /**
   * `send(frame)` writes a frame to the socket. Callbacks (all optional):
   * `onText(op)` after the text changed other than by `edit()` (a remote op,
   * undo, redo; `op` in local coordinates; null for the first greeting),
   * `onPeers()` when cursors or peers changed, `onNeedReload(reason)` when
   * the state cannot be repaired from the socket alone.
   */
  constructor({
    send,
    onText = () => {},
    onPeers = () => {},
    onNeedReload = () => {},
    now = () => Date.now(),
    setTimer = (fn, ms) => setTimeout(fn, ms),
    undoGroupMs = 800,
    maxComponents = OP_MAX_COMPONENTS,
    maxRebases = MAX_REBASES,
  } = {}) {
    Object.assign(this, { send, onText, onPeers, onNeedReload, now, setTimer });
    Object.assign(this, { maxComponents, maxRebases });
    this.text = '';
    this.version = 0;
    this.clientId = null;
    this.user = null;
    this.canEdit = false;
    this.greeted = false;
    this.online = false;
    this.inflight = null; // {op, opId, frame}
    this.buffer = [];
    this.arrived = new Map(); // version -> {ops, client, opId} or {ack: true}
    this.gapSince = null;
    this.history = []; // [{version, op, client}] in server coordinates
    this.peers = new Map(); // client -> {client, user, color, position, selectionEnd}
    this.lateCursors = new Map(); // client -> cursor frame for a version not reached yet
    this.selection = { start: 0, end: 0 };
    this.cursorDirty = false;
    this.cursorTimer = null;
    this.lastCursorAt = -Infinity;
    this.own = new UndoHistory(undoGroupMs); // one's own edits, for undo and redo
    this.prefix = randomPrefix();
    this.counter = 0;
    this.rebases = 0; // stale refusals of the op in flight since the last ack
  }

  // --- the connection ------------------------------------------------------

  /** A greeting: the document the first time; after a reconnect, who is here now. */
  hello(frame) {
    this.clientId = frame.client;
    this.user = frame.user;
    this.canEdit = frame.can_edit;
    this.peers.clear();
    this.lateCursors.clear();
    if (!this.greeted) {
      this.greeted = true;
      this.text = frame.content;
      this.version = frame.version;
      this.onText(null);
    }
    this.helloVersion = frame.version;
    for (const peer of frame.peers) this.cursorAt({ ...peer, version: frame.version });
    this.onPeers();
  }

  /** The socket is open (after `hello`): catch up, resend what was in flight, send the rest. */
  opened() {
    this.online = true;
    if (this.helloVersion > this.version || this.arrived.size) this.requestSync();
    if (this.inflight) this.send(this.inflight.frame);
    this.flush();
    this.cursorDirty = true;
    this.sendCursorSoon();
  }

  /** The socket closed: keep everything for the next `opened()`. */
  closed() {
    this.online = false;
    this.peers.clear();
    this.lateCursors.clear();
    this.onPeers();
  }

  requestSync() {
    this.gapSince = this.now();
    this.send({ action: 'sync', version: this.version });
  }

  /** Call now and then: asks for `sync` when a version gap lasts. */
  tick() {
    if (this.online && this.arrived.size && this.now() - (this.gapSince ?? this.now()) > GAP_MS) {
      this.requestSync();
    }
  }

  /** True when nothing is in flight, buffered or waiting for an earlier version. */
  get idle() {
    return !this.inflight && !this.buffer.length && !this.arrived.size;
  }

  // --- local edits ----------------------------------------------------------

  /** A local edit: `op` (code points) on the current text. Sent now or buffered. */
  edit(op, { undoable = true } = {}) {
    if (isNoop(op)) return;
    const before = this.text;
    this.text = apply(before, op);
    this.buffer = compose(this.buffer, op);
    for (const peer of this.peers.values()) movePeer(peer, op, false);
    if (undoable) this.own.record(invert(op, before), this.now());
    this.flush();
    this.onPeers();
  }

  /** Undo one's own last edit (as moved by others' ops since); returns the op or null. */
  undo() {
    return this.replay(false);
  }

  /** Redo what undo took back; returns the op or null. */
  redo() {
    return this.replay(true);
  }

  replay(redo) {
    const op = this.own.take(redo);
    if (op === null) return null;
    const before = this.text;
    this.edit(op, { undoable: false });
    this.own.applied(invert(op, before), redo);
    this.onText(op);
    return op;
  }

  flush() {
    if (!this.online || this.inflight || !this.buffer.length) return;
    this.counter += 1;
    const opId = `${this.prefix}-${this.counter}`;
    const [op, rest] = cut(this.buffer, this.serverLength(), this.maxComponents);
    const frame = {
      action: 'op',
      version: this.version,
      ops: opToComponents(op),
      op_id: opId,
      ref: opId,
    };
    this.inflight = { op, opId, frame, staleAt: null };
    this.buffer = rest;
    this.send(frame);
  }

  /** The length of the server's text at this client's version. */
  serverLength() {
    let length = codePointLength(this.text) - opLengthChange(this.buffer);
    if (this.inflight) length -= opLengthChange(this.inflight.op);
    return length;
  }

  /** Send the op refused as too far behind again, once caught up (as it now stands). */
  rebase() {
    const inflight = this.inflight;
    if (!inflight || inflight.staleAt === null || this.version < inflight.staleAt) return;
    inflight.staleAt = null;
    const [op, rest] = cut(inflight.op, this.serverLength(), this.maxComponents);
    if (rest.length) this.buffer = compose(rest, this.buffer);
    inflight.op = op;
    inflight.frame = { ...inflight.frame, version: this.version, ops: opToComponents(op) };
    if (this.online) this.send(inflight.frame);
  }

  /** The local selection moved (code points, local text). */
  setSelection(start, end = start) {
    if (start === this.selection.start && end === this.selection.end) return;
    this.selection = { start, end };
    this.cursorDirty = true;
    this.sendCursorSoon();
  }

  /** Send the cursor once nothing of ours is unacknowledged (so the server can place it). */
  sendCursorSoon() {
    if (!this.cursorDirty || !this.online || this.inflight || this.buffer.length) return;
    if (this.cursorTimer !== null) return;
    const wait = this.lastCursorAt + CURSOR_EVERY_MS - this.now();
    if (wait > 0) {
      this.cursorTimer = this.setTimer(() => {
        this.cursorTimer = null;
        this.sendCursorSoon();
      }, wait);
      return;
    }
    this.cursorDirty = false;
    this.lastCursorAt = this.now();
    const { start, end } = this.selection;
    this.send({
      action: 'cursor',
      position: start,
      selection_end: end === start ? null : end,
      version: this.version,
    });
  }

  // --- server frames ---------------------------------------------------------

  /** Take one server frame (any type; those of no concern here are ignored). */
  receive(frame) {
    switch (frame.type) {
      case 'hello':
        this.hello(frame);
        break;
      case 'op':
        this.arrive({ version: frame.version, ops: frame.ops, client: frame.client, opId: frame.op_id });
        break;
      case 'ack':
        this.arrive({ version: frame.version, ack: true });
        break;
      case 'ops':
        for (const e of frame.ops) {
          this.arrive({ version: e.version, ops: e.ops, client: e.client, opId: e.op_id });
        }
        if (frame.has_more && this.online) this.requestSync();
        break;
      case 'cursor':
      case 'peer_joined':
        this.cursorAt(frame);
        this.onPeers();
        break;
      case 'peer_left':
        this.peers.delete(frame.client);
        this.lateCursors.delete(frame.client);
        this.onPeers();
        break;
      case 'error':
        this.failed(frame);
        break;
      default:
        break;
    }
  }

  failed(frame) {
    const mine = this.inflight && frame.ref === this.inflight.opId;
    if (RETRY_LATER.includes(frame.code)) {
      if (mine) {
        const sent = this.inflight;
        this.setTimer(() => {
          if (this.online && this.inflight === sent) this.send(sent.frame);
        }, frame.retry_after_ms || 100);
      }
      return;
    }
    if (frame.code === 'stale_version' && mine && this.mayRebase(frame)) {
      this.inflight.staleAt = frame.version;
      this.rebases += 1;
      if (this.version < frame.version) this.requestSync();
      this.rebase();
      return;
    }
    if (frame.code === 'forbidden') this.canEdit = false;
    if (mine || frame.code === 'stale_version') this.onNeedReload(`${frame.code}: ${frame.message}`);
  }

  /** True when a `stale_version` for the op in flight can be repaired by catching up. */
  mayRebase(frame) {
    return (
      Number.isInteger(frame.version) &&
      frame.version >= this.inflight.frame.version &&
      this.rebases < this.maxRebases
    );
  }

  arrive(event) {
    if (event.version <= this.version || this.arrived.has(event.version)) return;
    this.arrived.set(event.version, event);
    this.drain();
  }

  drain() {
    let changed = false;
    for (;;) {
      const event = this.arrived.get(this.version + 1);
      if (!event) break;
      this.arrived.delete(this.version + 1);
      const inflight = this.inflight;
      if (inflight && (event.ack || (event.opId != null && event.opId === inflight.opId))) {
        this.inflight = null;
        this.rebases = 0;
        this.version += 1;
        this.remember(inflight.op, this.clientId);
        this.flush();
      } else if (event.ack) {
        this.onNeedReload(`an ack for version ${this.version + 1} with no op in flight`);
        return;
      } else {
        this.applyRemote(event);
        changed = true;
      }
    }
    this.gapSince = this.arrived.size ? (this.gapSince ?? this.now()) : null;
    this.rebase();
    this.placeLateCursors();
    this.sendCursorSoon();
    if (changed) this.onPeers();
  }

  applyRemote(event) {
    const serverOp = componentsToOp(event.ops, this.serverLength());
    let op = serverOp;
    if (this.inflight) {
      const mine = this.inflight.op;
      this.inflight.op = transform(mine, op, 'right');
      op = transform(op, mine, 'left');
    }
    if (this.buffer.length) {
      const buffered = this.buffer;
      this.buffer = transform(buffered, op, 'right');
      op = transform(op, buffered, 'left');
    }
    this.text = apply(this.text, op);
    this.version += 1;
    this.remember(serverOp, event.client);
    for (const peer of this.peers.values()) movePeer(peer, op, peer.client === event.client);
    this.selection = {
      start: transformPosition(this.selection.start, op),
      end: transformPosition(this.selection.end, op),
    };
    this.own.transform(op);
    this.onText(op);
  }

  remember(op, client) {
    this.history.push({ version: this.version, op, client });
    if (this.history.length > HISTORY_KEPT) this.history.splice(0, this.history.length - HISTORY_KEPT);
  }

  // --- cursors ----------------------------------------------------------------

  /** A peer's cursor at server version `frame.version` (now, or once that version is in). */
  cursorAt(frame) {
    if (frame.client === this.clientId) return;
    if (frame.version > this.version) {
      this.lateCursors.set(frame.client, frame);
      return;
    }
    const toLocal = (pos) => (pos == null ? null : this.localPosition(pos, frame));
    this.peers.set(frame.client, {
      client: frame.client,
      user: frame.user,
      color: frame.color,
      position: toLocal(frame.position),
      selectionEnd: toLocal(frame.selection_end),
    });
  }

  localPosition(pos, frame) {
    for (const entry of this.history) {
      if (entry.version > frame.version) {
        pos = transformPosition(pos, entry.op, entry.client === frame.client);
      }
    }
    if (this.inflight) pos = transformPosition(pos, this.inflight.op);
    if (this.buffer.length) pos = transformPosition(pos, this.buffer);
    return Math.min(pos, codePointLength(this.text));
  }

  placeLateCursors() {
    for (const [client, frame] of this.lateCursors) {
      if (frame.version <= this.version) {
        this.lateCursors.delete(client);
        this.cursorAt(frame);
      }
    }
  }
}

/** `op` (on a text of `length` code points): its first `max` components, and the rest. */
function cut(op, length, max) {
  const wire = opToComponents(op);
  if (wire.length <= max) return [op, []];
  const first = componentsToOp(wire.slice(0, max), length);
  const rest = componentsToOp(wire.slice(max), length + opLengthChange(first));
  return [first, rest];
}

function movePeer(peer, op, own) {
  peer.position = transformPosition(peer.position, op, own);
  if (peer.selectionEnd != null) peer.selectionEnd = transformPosition(peer.selectionEnd, op, own);
}
