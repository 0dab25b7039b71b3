// The notification bell of every page: the unread badge, a toast per new
// notification, and a list with mark-as-read and mark-all-read. Each tab has
// its own socket; reading in one tab reaches the others as an `unread` frame.

import { RealtimeSocket } from '../realtime/socket.js';
import { Inbox, KIND_LABELS, linkFor } from './inbox.js';

// Acks of a burst go out together: one frame, well within the per-user rate limit.
const ACK_DELAY_MS = 250;
const TOAST_MS = 6000;
const TOASTS_AT_ONCE = 3;

function el(tag, className = '', text = null) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== null) node.textContent = text;
  return node;
}

function ago(ms) {
  const seconds = Math.max(0, Math.round((Date.now() - ms) / 1000));
  if (seconds < 60) return 'just now';
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ago`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)} h ago`;
  return new Date(ms).toLocaleDateString();
}

function csrfToken() {
  const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
  return match ? decodeURIComponent(match[1]) : '';
}

class Bell {
  constructor(root) {
    this.root = root;
    this.button = root.querySelector('.bell-button');
    this.badge = root.querySelector('.bell-badge');
    this.panel = root.querySelector('.bell-panel');
    this.list = root.querySelector('.bell-list');
    this.empty = root.querySelector('.bell-empty');
    this.toasts = document.getElementById('notification-toasts');
    this.api = root.dataset.api;
    this.inbox = new Inbox();
    this.acks = new Set();
    this.ackTimer = null;
    this.backlogFresh = [];
    this.loaded = false;
    this.socket = new RealtimeSocket('/ws/notifications/', {
      onFrame: (frame) => this.receive(frame),
      onState: (state) => {
        root.dataset.state = state;
      },
    });
    this.button.addEventListener('click', () => this.toggle());
    root.querySelector('[data-action=read-all]').addEventListener('click', () => this.read(null));
    document.addEventListener('keydown', (event) => {
      if (event.key === 'Escape' && !this.panel.hidden) this.toggle(false);
    });
    document.addEventListener('click', (event) => {
      if (!this.panel.hidden && !root.contains(event.target)) this.toggle(false);
    });
  }

  receive(frame) {
    if (frame.type === 'hello') this.backlogFresh = [];
    const { ack, fresh, backlog, changed } = this.inbox.receive(frame);
    for (const id of ack) this.acks.add(id);
    if (ack.length && this.ackTimer === null) {
      this.ackTimer = setTimeout(() => this.flushAcks(), ACK_DELAY_MS);
    }
    if (backlog) this.backlogFresh.push(...fresh.filter((item) => !item.read));
    else for (const item of fresh) if (!item.read) this.toast(item);
    if (frame.type === 'notification' && this.inbox.backlogLeft === 0 && this.backlogFresh.length) {
      this.toastBacklog(this.backlogFresh);
      this.backlogFresh = [];
    }
    if (changed) this.render();
  }

  flushAcks() {
    this.ackTimer = null;
    const ids = [...this.acks];
    this.acks.clear();
    // Unacked ids come again after a reconnect or a timeout: a lost ack costs a repeat, no more.
    if (ids.length) this.socket.send({ action: 'ack', ids });
  }

  async read(ids) {
    this.inbox.markRead(ids);
    this.render();
    const frame = ids === null ? { action: 'read', all: true } : { action: 'read', ids };
    try {
      const reply = await this.socket.request(frame, { timeout: 10_000 });
      this.inbox.unread = reply.unread;
    } catch {
      this.inbox.unread = await this.readOverRest(ids);
    }
    this.render();
  }

  async readOverRest(ids) {
    const response = await fetch(`${this.api}read/`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'X-CSRFToken': csrfToken() },
      body: JSON.stringify(ids === null ? { all: true } : { ids }),
    });
    return response.ok ? (await response.json()).unread : this.inbox.unread;
  }

  async load() {
    const response = await fetch(this.api, { headers: { Accept: 'application/json' } });
    if (!response.ok) return;
    this.inbox.merge((await response.json()).results);
    this.loaded = true;
    this.render();
  }

  toggle(open = this.panel.hidden) {
    this.panel.hidden = !open;
    this.button.setAttribute('aria-expanded', String(open));
    if (open && !this.loaded) this.load();
  }

  render() {
    const unread = this.inbox.unread;
    this.badge.textContent = unread > 99 ? '99+' : String(unread);
    this.badge.hidden = unread === 0;
    this.root.dataset.unread = String(unread);
    this.button.setAttribute('aria-label', `Notifications, ${unread} unread`);
    if (this.panel.hidden && !this.loaded) return;
    const items = this.inbox.recent();
    this.list.replaceChildren(...items.map((item) => this.itemElement(item)));
    this.empty.hidden = items.length > 0;
  }

  itemElement(item) {
    const node = el('li', `bell-item${item.read ? '' : ' unread'}`);
    node.dataset.id = item.id;
    const link = linkFor(item);
    const title = el(link ? 'a' : 'span', 'bell-item-title', item.title);
    if (link) title.href = link;
    const meta = el('div', 'bell-item-meta', `${KIND_LABELS[item.kind] ?? item.kind} · ${ago(item.created)}`);
    node.append(title);
    if (item.body) node.append(el('div', 'bell-item-body', item.body));
    node.append(meta);
    if (!item.read) {
      const mark = el('button', 'link bell-mark', 'Mark as read');
      mark.type = 'button';
      mark.addEventListener('click', () => this.read([item.id]));
      node.append(mark);
    }
    return node;
  }

  toast(item) {
    const toast = el('div', `toast toast-${item.kind}`);
    toast.dataset.id = item.id;
    const link = linkFor(item);
    const title = el(link ? 'a' : 'strong', 'toast-title', item.title);
    if (link) title.href = link;
    toast.append(el('div', 'toast-kind', KIND_LABELS[item.kind] ?? item.kind), title);
    if (item.body) toast.append(el('div', 'toast-body', item.body));
    this.showToast(toast);
  }

  toastBacklog(items) {
    if (items.length <= TOASTS_AT_ONCE) {
      for (const item of items) this.toast(item);
      return;
    }
    const toast = el('div', 'toast');
    const open = el('button', 'link toast-title', `${items.length} notifications arrived while you were away`);
    open.type = 'button';
    open.addEventListener('click', () => this.toggle(true));
    toast.append(el('div', 'toast-kind', 'Welcome back'), open);
    this.showToast(toast);
  }

  showToast(toast) {
    const close = el('button', 'toast-close', '×');
    close.type = 'button';
    close.setAttribute('aria-label', 'Dismiss');
    close.addEventListener('click', () => toast.remove());
    toast.append(close);
    this.toasts.append(toast);
    while (this.toasts.children.length > TOASTS_AT_ONCE) this.toasts.firstElementChild.remove();
    setTimeout(() => toast.remove(), TOAST_MS);
  }
}

const root = document.getElementById('notification-bell');
if (root) window.notificationBell = new Bell(root);
