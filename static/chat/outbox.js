// The messages a tab has written and the server has not yet acked, sent one
// at a time in the order they were written.
//
// The server stores a socket's frames in the order they arrive, but a burst
// sent all at once meets the rate limit: some are refused with
// `rate_limited`, and a refused message resent later would be stored after
// the ones written behind it. So only the oldest unacked message is ever in
// flight: the next goes once it is acked. A refusal (`rate_limited`, or
// `unavailable` while the database is away) holds the whole queue for the
// delay the server gave, a dropped link holds it until the socket is
// open again (`pump()`), and a resend carries the same `client_id`, which the
// server stores once (docs/protocol.md, "Chat").

/**
 * @typedef {{clientId: string, text: string}} Entry
 * @typedef {(entry: Entry) => Promise<unknown>} Send  resolves on the ack, rejects with a RealtimeError
 * @typedef {(entry: Entry, status: string, error?: Error) => void} OnStatus
 *   status: 'sending', 'sent', 'waiting' (for the connection), 'slowing' (rate limited),
 *   'unavailable' (the server's database or Redis is away: retried), 'failed'
 */

export class Outbox {
  /**
   * @param {Send} send
   * @param {{onStatus?: OnStatus, schedule?: (fn: () => void, ms: number) => unknown}} options
   */
  constructor(send, { onStatus = () => {}, schedule = (fn, ms) => setTimeout(fn, ms) } = {}) {
    this._send = send;
    this._onStatus = onStatus;
    this._schedule = schedule;
    /** @type {Entry[]} waiting, oldest first; the first one may be in flight */
    this.queue = [];
    this._busy = false;
    this._held = false; // rate limited: nothing goes until the delay has passed
  }

  /** Queue a new message behind the others and send it when its turn comes. */
  add(entry) {
    this.queue.push(entry);
    this._onStatus(entry, 'waiting');
    this.pump();
  }

  /** A failed message sent again: it goes behind the ones written since. */
  retry(entry) {
    if (!this.queue.includes(entry)) this.add(entry);
  }

  /** Forget a message (the user discarded it, or it arrived by another way). */
  remove(clientId) {
    const index = this.queue.findIndex((entry) => entry.clientId === clientId);
    if (index > 0 || (index === 0 && !this._busy)) this.queue.splice(index, 1);
  }

  /** Send the oldest message if none is in flight; call it when the socket opens. */
  pump() {
    if (this._busy || this._held || this.queue.length === 0) return;
    const entry = this.queue[0];
    this._busy = true;
    this._onStatus(entry, 'sending');
    this._send(entry).then(
      () => this._settled(entry, null),
      (error) => this._settled(entry, error),
    );
  }

  _settled(entry, error) {
    this._busy = false;
    const code = error?.code;
    if (code === 'disconnected') {
      this._onStatus(entry, 'waiting'); // pump() on the next open sends it again
      return;
    }
    if (code === 'rate_limited' || code === 'unavailable') {
      this._held = true;
      this._onStatus(entry, code === 'unavailable' ? 'unavailable' : 'slowing');
      this._schedule(() => {
        this._held = false;
        this.pump();
      }, error.retryAfterMs || 1000);
      return;
    }
    if (this.queue[0] === entry) this.queue.shift();
    this._onStatus(entry, error ? 'failed' : 'sent', error ?? undefined);
    this.pump();
  }
}
