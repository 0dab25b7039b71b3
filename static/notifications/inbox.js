// The bell's state, kept apart from the page so that it can be tested alone:
// what the badge shows, which notifications the list holds, and what each
// server frame means for them (docs/protocol.md, "Notifications").
//
// The unread count is the server's: `hello.unread` on each (re)connect and
// `unread.unread` when another tab reads. A notification adds one only when
// it is news to this tab: not one of the `hello.backlog` frames that follow
// the greeting (the greeting's count includes them), and not one this tab
// was pushed already (a redelivery).

export const KIND_LABELS = Object.freeze({
  order: 'Order',
  friend_request: 'Friend request',
  friend_accepted: 'Friend request accepted',
  system_alert: 'System alert',
  price_drop: 'Price drop',
});

/** Where a notification leads, by kind (null: nowhere in particular). */
export function linkFor(notification) {
  switch (notification.kind) {
    case 'order':
    case 'price_drop':
      return '/notifications/shop/';
    case 'friend_request':
    case 'friend_accepted':
      return '/notifications/friends/';
    case 'system_alert':
      return '/notifications/alerts/';
    default:
      return null;
  }
}

export class Inbox {
  constructor() {
    this.unread = 0;
    this.items = new Map(); // id -> notification, from the socket or the REST list
    this.pushed = new Set(); // ids this tab was pushed over its socket
    this.backlogLeft = 0;
  }

  /**
   * Apply one server frame. Returns what the page should do about it:
   * `ack` (ids to acknowledge), `fresh` (notifications that are news here),
   * `backlog` (true for a frame of the greeting's backlog) and `changed`.
   */
  receive(frame) {
    const result = { ack: [], fresh: [], backlog: false, changed: false };
    if (frame.type === 'hello') {
      this.unread = frame.unread;
      this.backlogLeft = frame.backlog ?? 0;
      result.changed = true;
    } else if (frame.type === 'notification') {
      result.backlog = this.backlogLeft > 0;
      if (result.backlog) this.backlogLeft -= 1;
      const news = !this.pushed.has(frame.id);
      this.pushed.add(frame.id);
      const had = this.items.get(frame.id);
      this.items.set(frame.id, { ...frame, read: frame.read || Boolean(had?.read) });
      if (news && !result.backlog && !frame.read) this.unread += 1;
      if (news) result.fresh.push(frame);
      result.ack.push(frame.id);
      result.changed = true;
    } else if (frame.type === 'unread') {
      this.unread = frame.unread;
      this.markRead(frame.all ? null : frame.ids ?? []);
      result.changed = true;
    }
    return result;
  }

  /** Mark listed items read (`ids` null: all of them); the count is the server's to say. */
  markRead(ids) {
    for (const [id, item] of this.items) {
      if (ids === null || ids.includes(id)) this.items.set(id, { ...item, read: true });
    }
  }

  /** Add notifications fetched over REST (they do not change the count). */
  merge(list) {
    for (const item of list) {
      const had = this.items.get(item.id);
      this.items.set(item.id, { ...item, read: item.read || Boolean(had?.read) });
    }
  }

  /** The newest `limit` notifications, newest first. */
  recent(limit = 20) {
    return [...this.items.values()].sort((a, b) => b.id - a.id).slice(0, limit);
  }
}
