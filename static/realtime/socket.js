// The WebSocket client every page uses (PROTOCOL.md, "Transport" and
// "Frames"). An ES module with no dependencies and no build step:
// `<script type="module">` in the browser, `import` in Node >= 20 for tests.

/**
 * RealtimeSocket: one endpoint, kept connected for the life of the page.
 *
 *   import { RealtimeSocket, stateBadge } from '/static/realtime/socket.js';
 *
 *   const socket = new RealtimeSocket('/ws/chat/lobby/', {
 *     onFrame(frame) { ... },              // every server frame request() did not take
 *     onState: stateBadge(badgeElement),   // 'connecting' | 'open' | 'reconnecting' | 'closed'
 *     resumeQuery: () => ({ since: lastSeq }), // extra query params, asked before each (re)connect
 *     onOpen() { ... },                    // after each (re)connect, before queued frames go out
 *   });
 *   socket.send({ action: 'typing', typing: true }, { queue: false });
 *   const ack = await socket.request({ action: 'send', message: 'hi' });
 *   socket.close();
 *
 * Connection. The URL is ws:// or wss:// on the page's own host; the browser
 * sends the session cookie (no token). A connection counts as open once the
 * server's first frame (the greeting: `hello` or `snapshot`) arrives, so a
 * handshake the server accepts only to refuse (4401, 4403, ...) never looks
 * open and never swallows queued frames. The greeting is passed to onFrame
 * before onState('open') and onOpen() run.
 *
 * Reconnection. After a close the server did not ask to be final, the client
 * reconnects with exponential backoff and full jitter (a random wait in
 * [0, min(15 s, 500 ms * 2^attempt))), the attempt count starting again after
 * each successful open. It never reconnects after 4400, 4401, 4403 or 4404,
 * and after 4401 it sends the user to `/login/?next=<this page>`. Coming back
 * online or to a visible tab retries at once.
 *
 * Dead links. Every 20 s of silence it sends `{"action": "ping"}`; when no
 * frame at all arrives within 10 s of that (or no greeting within 10 s of
 * dialling) it drops the socket and reconnects.
 *
 * Sending. `send(frame)` writes now when open, else queues (in order) until
 * the next open; `{queue: false}` drops it instead (for frames only worth
 * sending now, like `typing`). `request(frame)` also gives the frame a `ref`
 * (unless it has one) and returns a Promise of the reply with that ref; the
 * Promise rejects with a RealtimeError: the server's error frame (`code`,
 * `message`, `retryAfterMs`), or code `disconnected` when the link dropped
 * after the frame went out (the reply may be lost: resend it if it is
 * idempotent), `timeout` (option `timeout` in ms), or `closed` after close()
 * or a final close code. A frame given to send() on a link that is dying
 * unnoticed may be lost: whatever must arrive goes through request().
 *
 * State. `socket.state` and onState(state, info) on every transition; info
 * carries `code` (the close code) and `delay` (ms until the next attempt)
 * when there are any. stateBadge(element) keeps an element's text, its
 * `conn-<state>` class and its `data-state` attribute in step.
 *
 * Tokens. A host that signs in with a JWT rather than the session cookie
 * (another origin, Node) gives `token: () => string | Promise<string>`: it is
 * asked before each connect and the token goes in `?token=`. Before the
 * token expires (`refreshAhead` ms before, or half its life if that is
 * shorter) the client asks for a fresh one and sends `{"action": "refresh"}`
 * with it, so the socket lives on without a reconnect; if that fails, the
 * server's 4401 at expiry makes the client reconnect at once with a fresh
 * token, and only a second 4401 in a row counts as "log in again".
 *
 * Options for tests and other hosts: `WebSocket`, `location`, `navigate(url)`,
 * `random()`, `now()`, and the timings `backoffBase`, `backoffCap`,
 * `pingEvery`, `pongWithin`, `refreshAhead` (ms).
 */

/** Close codes after which the client must not reconnect (PROTOCOL.md). */
export const FINAL_CLOSE_CODES = Object.freeze([4400, 4401, 4403, 4404]);

/** Close codes PROTOCOL.md names for reconnecting (any other unasked close reconnects too). */
export const RETRY_CLOSE_CODES = Object.freeze([1001, 1006, 1011, 1012, 4009, 4013, 4429, 4500]);

const DEFAULTS = {
  backoffBase: 500,
  backoffCap: 15_000,
  pingEvery: 20_000,
  pongWithin: 10_000,
  refreshAhead: 60_000,
  now: () => Date.now(),
};

const LABELS = {
  connecting: 'Connecting…',
  open: 'Live',
  reconnecting: 'Reconnecting…',
  closed: 'Disconnected',
};

/** An error reply, or a request that could not get one. */
export class RealtimeError extends Error {
  constructor(code, message, frame = null) {
    super(message || code);
    this.name = 'RealtimeError';
    this.code = code;
    this.frame = frame;
    this.retryAfterMs = frame?.retry_after_ms ?? null;
  }
}

/**
 * What to do after the server closed with `code`: 'reconnect', 'stop', or
 * 'login' (stop and send the user to log in). A close the client asked for
 * itself is not a server close; the caller handles that before asking.
 */
export function closePolicy(code) {
  if (code === 4401) return 'login';
  if (FINAL_CLOSE_CODES.includes(code)) return 'stop';
  return 'reconnect';
}

/** Milliseconds to wait before reconnect attempt `attempt` (0-based): full jitter. */
export function backoffDelay(
  attempt,
  { base = DEFAULTS.backoffBase, cap = DEFAULTS.backoffCap, random = Math.random } = {},
) {
  const ceiling = Math.min(cap, base * 2 ** Math.max(0, attempt));
  return Math.floor(random() * ceiling);
}

/**
 * The WebSocket URL of `path` on the page's host: wss:// under https, else
 * ws://. `params` are added to the query; null and undefined ones are left out.
 */
export function socketUrl(path, location, params = {}) {
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  const url = new URL(path, `${scheme}//${location.host}`);
  for (const [name, value] of Object.entries(params || {})) {
    if (value !== null && value !== undefined) url.searchParams.set(name, String(value));
  }
  return url.href;
}

/** The `exp` of a JWT in ms since the epoch, or null if it has none (or is no JWT). */
export function tokenExpiry(token) {
  try {
    const payload = String(token).split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
    const exp = JSON.parse(atob(payload)).exp;
    return typeof exp === 'number' ? exp * 1000 : null;
  } catch {
    return null;
  }
}

/** The login page, coming back to the current page afterwards. */
export function loginUrl(location) {
  return `/login/?next=${encodeURIComponent(location.pathname + location.search)}`;
}

/**
 * A function for the onState option that shows the state in `element`: its
 * text (from `labels`), the class `conn conn-<state>` and `data-state`.
 */
export function stateBadge(element, labels = LABELS) {
  const show = (state, info = {}) => {
    for (const name of Object.keys(LABELS)) element.classList.remove(`conn-${name}`);
    element.classList.add('conn', `conn-${state}`);
    element.dataset.state = state;
    element.textContent = labels[state] ?? state;
    element.title = info.code ? `Last close code: ${info.code}` : '';
  };
  show('connecting');
  return show;
}

export class RealtimeSocket {
  /** Connects at once; see the module comment for `options`. */
  constructor(path, options = {}) {
    this.path = path;
    this.options = { ...DEFAULTS, ...options };
    this.state = null;
    this._WebSocket = options.WebSocket ?? globalThis.WebSocket;
    this._location = options.location ?? globalThis.location;
    this._navigate = options.navigate ?? ((url) => globalThis.location.assign(url));
    this._ws = null;
    this._greeted = false;
    this._attempt = 0;
    this._stopped = false;
    this._queue = []; // frames waiting for the next open, in order
    this._requests = new Map(); // String(ref) -> {resolve, reject, sent, timer, frame}
    this._abandoned = new Set(); // refs of timed-out requests: a late reply is dropped
    this._nextRef = 1;
    this._retryTimer = null;
    this._pingTimer = null;
    this._deadTimer = null;
    this._refreshTimer = null;
    this._token = null; // the token of the current connection (token hosts only)
    this._freshTokenTried = false; // a 4401 was answered with a fresh token since the last open
    this._dialling = null; // the pending token request of this connect
    this._listen();
    this._connect();
  }

  /** Send `frame` now if open, else queue it (or drop it: `queue: false`). True if sent now. */
  send(frame, { queue = true } = {}) {
    if (this.state === 'open') {
      this._write(frame);
      return true;
    }
    if (queue && !this._stopped) this._queue.push(frame);
    return false;
  }

  /** Send `frame` with a `ref`; resolves with the reply carrying that ref (see above). */
  request(frame, { timeout = 0 } = {}) {
    const ref = frame.ref ?? `r${this._nextRef++}`;
    const withRef = { ...frame, ref };
    return new Promise((resolve, reject) => {
      if (this._stopped) {
        reject(new RealtimeError('closed', 'the socket is closed'));
        return;
      }
      const entry = { resolve, reject, sent: false, timer: null, frame: withRef };
      this._requests.set(String(ref), entry);
      if (timeout > 0) {
        entry.timer = setTimeout(() => {
          this._queue = this._queue.filter((queued) => queued !== withRef);
          if (entry.sent) this._abandoned.add(String(ref));
          this._settle(ref, new RealtimeError('timeout', `no reply within ${timeout} ms`));
        }, timeout);
      }
      this.send(withRef);
    });
  }

  /** Close for good: no reconnect; pending requests reject with `closed`. */
  close() {
    if (this._stopped) return;
    this._stopped = true;
    this._unlisten();
    this._queue = [];
    clearTimeout(this._retryTimer);
    const ws = this._ws;
    this._teardown('closed');
    if (ws) {
      this._detach(ws);
      try {
        ws.close(1000);
      } catch {
        // Already closing: nothing to do.
      }
    }
    this._setState('closed');
  }

  /** When waiting to reconnect, try now instead (back online, tab visible again). */
  retryNow() {
    if (this._stopped || this._retryTimer === null) return;
    clearTimeout(this._retryTimer);
    this._retryTimer = null;
    this._connect();
  }

  // --- connection ----------------------------------------------------------

  _connect() {
    this._retryTimer = null;
    const params = this.options.resumeQuery ? this.options.resumeQuery() : {};
    this._setState(this.state === null ? 'connecting' : 'reconnecting');
    if (!this.options.token) {
      this._dial(params);
      return;
    }
    const dialling = (this._dialling = {});
    const current = () => this._dialling === dialling && !this._stopped;
    Promise.resolve()
      .then(() => this.options.token())
      .then(
        (token) => {
          if (!current()) return;
          this._token = token;
          this._dial({ ...params, token });
        },
        () => {
          if (current()) this._scheduleRetry(null); // no token now: try again later
        },
      );
  }

  _dial(params) {
    this._dialling = null;
    let ws;
    try {
      ws = new this._WebSocket(socketUrl(this.path, this._location, params));
    } catch {
      this._scheduleRetry(null); // e.g. the browser refused the URL: try again later
      return;
    }
    this._ws = ws;
    this._greeted = false;
    ws.onmessage = (event) => this._receive(ws, event.data);
    ws.onclose = (event) => this._closed(ws, event.code);
    ws.onerror = () => {}; // a close event always follows
    this._expectFrameWithin(this.options.pongWithin);
  }

  _receive(ws, data) {
    if (ws !== this._ws) return;
    let frame;
    try {
      frame = JSON.parse(data);
    } catch {
      return;
    }
    if (frame === null || typeof frame !== 'object') return;
    this._heardFrom();
    if (!this._greeted) {
      this._greeted = true;
      this._deliver(frame);
      this._opened();
      return;
    }
    const entry = frame.ref !== undefined ? this._requests.get(String(frame.ref)) : undefined;
    if (entry) {
      const failure =
        frame.type === 'error' ? new RealtimeError(frame.code, frame.message, frame) : null;
      this._settle(frame.ref, failure, frame);
      return;
    }
    if (frame.type === 'pong') return;
    if (frame.ref !== undefined && this._abandoned.delete(String(frame.ref))) return;
    this._deliver(frame);
  }

  _deliver(frame) {
    if (this.options.onFrame) this.options.onFrame(frame);
  }

  _opened() {
    this._attempt = 0;
    this._freshTokenTried = false;
    this._scheduleRefresh();
    this._setState('open');
    if (this.options.onOpen) this.options.onOpen();
    const queued = this._queue;
    this._queue = [];
    for (const frame of queued) {
      if (this.state === 'open') this._write(frame);
      else this._queue.push(frame);
    }
  }

  _write(frame) {
    this._ws.send(JSON.stringify(frame));
    if (frame.ref !== undefined) {
      const entry = this._requests.get(String(frame.ref));
      if (entry && entry.frame === frame) entry.sent = true;
    }
  }

  _closed(ws, code) {
    if (ws !== this._ws) return;
    this._detach(ws);
    this._teardown('disconnected');
    if (this._stopped) return;
    const policy = closePolicy(code);
    if (policy === 'reconnect') {
      this._scheduleRetry(code);
      return;
    }
    if (policy === 'login' && this.options.token && !this._freshTokenTried) {
      // The token expired or was refused: one attempt at once with a fresh one.
      this._freshTokenTried = true;
      this._setState('reconnecting', { code, delay: 0 });
      this._retryTimer = setTimeout(() => this._connect(), 0);
      return;
    }
    this._stopped = true;
    this._unlisten();
    this._queue = [];
    this._teardown('closed'); // nothing queued will ever go out now
    this._setState('closed', { code });
    if (policy === 'login') this._navigate(loginUrl(this._location));
  }

  /** The link is dead (no greeting, or no answer to a ping): drop it and reconnect. */
  _drop() {
    const ws = this._ws;
    if (!ws) return;
    this._detach(ws);
    try {
      ws.close();
    } catch {
      // A socket still dialling may refuse to close; it is forgotten either way.
    }
    this._teardown('disconnected');
    this._scheduleRetry(null);
  }

  _scheduleRetry(code) {
    const delay = backoffDelay(this._attempt++, {
      base: this.options.backoffBase,
      cap: this.options.backoffCap,
      random: this.options.random,
    });
    this._setState('reconnecting', { code, delay });
    this._retryTimer = setTimeout(() => this._connect(), delay);
  }

  _detach(ws) {
    ws.onmessage = ws.onclose = ws.onerror = null;
    if (this._ws === ws) this._ws = null;
  }

  /** Stop the timers of a link that ended; requests already sent on it fail with `reason`. */
  _teardown(reason) {
    clearTimeout(this._pingTimer);
    clearTimeout(this._deadTimer);
    clearTimeout(this._refreshTimer);
    this._pingTimer = this._deadTimer = this._refreshTimer = null;
    for (const [ref, entry] of this._requests) {
      if (entry.sent || reason === 'closed') {
        const what = reason === 'closed' ? 'was closed' : 'dropped';
        this._settle(ref, new RealtimeError(reason, `the connection ${what} before the reply`));
      }
    }
  }

  _settle(ref, error, reply) {
    const entry = this._requests.get(String(ref));
    if (!entry) return;
    this._requests.delete(String(ref));
    clearTimeout(entry.timer);
    if (error) entry.reject(error);
    else entry.resolve(reply);
  }

  // --- token refresh (token hosts only) ---------------------------------------

  _scheduleRefresh() {
    clearTimeout(this._refreshTimer);
    this._refreshTimer = null;
    const expires = this.options.token ? tokenExpiry(this._token) : null;
    if (expires === null) return;
    const left = expires - this.options.now();
    const ahead = Math.min(this.options.refreshAhead, left / 2);
    this._refreshTimer = setTimeout(() => this._refresh(), Math.max(0, left - ahead));
  }

  async _refresh() {
    this._refreshTimer = null;
    if (this.state !== 'open') return;
    try {
      const token = await this.options.token();
      await this.request({ action: 'refresh', token });
      this._token = token;
      this._scheduleRefresh();
    } catch {
      // Nothing to do: at expiry the server closes with 4401 and the client
      // reconnects at once with a fresh token.
    }
  }

  // --- dead link detection ---------------------------------------------------

  /** Any frame proves the link alive: cancel the deadline, ping again after a quiet spell. */
  _heardFrom() {
    clearTimeout(this._deadTimer);
    clearTimeout(this._pingTimer);
    this._deadTimer = null;
    this._pingTimer = setTimeout(() => this._ping(), this.options.pingEvery);
  }

  _ping() {
    this._pingTimer = null;
    if (this.state !== 'open') return;
    this._write({ action: 'ping' });
    this._expectFrameWithin(this.options.pongWithin);
  }

  _expectFrameWithin(ms) {
    clearTimeout(this._deadTimer);
    this._deadTimer = setTimeout(() => this._drop(), ms);
  }

  _setState(state, info = {}) {
    this.state = state;
    if (this.options.onState) this.options.onState(state, info);
  }

  // --- the page around it ----------------------------------------------------

  _listen() {
    this._onWake = () => {
      if (globalThis.document?.visibilityState !== 'hidden') this.retryNow();
    };
    globalThis.addEventListener?.('online', this._onWake);
    globalThis.document?.addEventListener?.('visibilitychange', this._onWake);
  }

  _unlisten() {
    globalThis.removeEventListener?.('online', this._onWake);
    globalThis.document?.removeEventListener?.('visibilitychange', this._onWake);
  }
}
