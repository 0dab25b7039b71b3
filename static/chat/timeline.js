// The messages of one room as a client holds them, kept by seq (PROTOCOL.md,
// "Chat"): de-duplicated, in order, and aware of holes. Pure logic, no DOM.

/**
 * Timeline: what the page has of a room's history.
 *
 * - `lastSeq` is the highest seq up to which the page holds every message
 *   from its oldest loaded one on: the resume point (`?since=lastSeq`) and
 *   the `after` of a gap request.
 * - `newestKnown` is the highest seq the page has heard of (a message, or a
 *   greeting's `last_seq`); `missing()` is true while it lies past `lastSeq`.
 * - `oldestSeq` / `hasOlder` drive "load older" (`history` with `before`).
 */
export class Timeline {
  constructor() {
    this.bySeq = new Map();
    this.seqs = []; // every held seq, ascending
    this.lastSeq = 0;
    this.newestKnown = 0;
    this.oldestSeq = null;
    this.hasOlder = false;
    this.loaded = false;
  }

  /**
   * The first page of a fresh connection: the newest messages, oldest first,
   * `hasOlder` from its `has_more`, `roomLastSeq` from the greeting. Returns
   * the messages that are new to the timeline, ascending.
   */
  load(messages, { hasOlder, roomLastSeq }) {
    const sorted = [...messages].sort((a, b) => a.seq - b.seq);
    if (!this.loaded && sorted.length) {
      // Everything before the first page is "older", not missing.
      this.lastSeq = Math.max(this.lastSeq, sorted[0].seq - 1);
    } else if (!this.loaded) {
      this.lastSeq = Math.max(this.lastSeq, roomLastSeq);
    }
    this.loaded = true;
    this.hasOlder = Boolean(hasOlder);
    this.noteNewest(roomLastSeq);
    return this.add(sorted);
  }

  /** The room's newest seq is at least `seq` (from a greeting). */
  noteNewest(seq) {
    this.newestKnown = Math.max(this.newestKnown, seq || 0);
  }

  /** Add messages from any source; returns those not held before, ascending by seq. */
  add(messages) {
    const added = [];
    for (const message of [...messages].sort((a, b) => a.seq - b.seq)) {
      if (this.bySeq.has(message.seq)) continue;
      this.bySeq.set(message.seq, message);
      this.seqs.splice(this._indexAbove(message.seq), 0, message.seq);
      if (this.oldestSeq === null || message.seq < this.oldestSeq) this.oldestSeq = message.seq;
      this.noteNewest(message.seq);
      added.push(message);
    }
    while (this.bySeq.has(this.lastSeq + 1)) this.lastSeq++;
    return added;
  }

  /** A page of older messages (`history` with `before`); returns the new ones. */
  addOlder(messages, { hasMore }) {
    this.hasOlder = Boolean(hasMore);
    return this.add(messages);
  }

  /** True while the page has heard of messages it does not hold contiguously. */
  missing() {
    return this.newestKnown > this.lastSeq;
  }

  has(seq) {
    return this.bySeq.has(seq);
  }

  get(seq) {
    return this.bySeq.get(seq);
  }

  /** The smallest held seq greater than `seq`, or null: where to insert `seq` in the page. */
  nextAfter(seq) {
    const index = this._indexAbove(seq);
    return index < this.seqs.length ? this.seqs[index] : null;
  }

  /** The largest held seq not above `seq`, or null. */
  atOrBelow(seq) {
    const index = this._indexAbove(seq) - 1;
    return index >= 0 ? this.seqs[index] : null;
  }

  /** The held message just before `seq`, or null. */
  before(seq) {
    const index = this._indexAbove(seq - 1) - 1;
    return index >= 0 ? this.bySeq.get(this.seqs[index]) : null;
  }

  get size() {
    return this.seqs.length;
  }

  /** Index of the first held seq greater than `seq` (binary search). */
  _indexAbove(seq) {
    let low = 0;
    let high = this.seqs.length;
    while (low < high) {
      const mid = (low + high) >> 1;
      if (this.seqs[mid] <= seq) low = mid + 1;
      else high = mid;
    }
    return low;
  }
}
