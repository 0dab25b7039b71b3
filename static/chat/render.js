// DOM pieces of the room page. User text only ever goes in through
// textContent (never innerHTML), so a message is shown exactly as typed.

/** `tag` with `className`, and `text` as its text (not markup). */
export function el(tag, className = '', text = null) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== null) node.textContent = text;
  return node;
}

const GROUP_WITHIN_MS = 5 * 60 * 1000;

/** A stable hue for a user, so their avatar keeps its colour everywhere. */
function hue(userId) {
  return (Number(userId) * 137) % 360;
}

export function avatar(user) {
  const node = el('span', 'avatar', (user.username[0] || '?').toUpperCase());
  node.style.setProperty('--hue', hue(user.id));
  node.setAttribute('aria-hidden', 'true');
  return node;
}

function clock(ms) {
  const when = new Date(ms);
  const hhmm = when.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  const node = el('time', 'when', hhmm);
  node.dateTime = when.toISOString();
  node.title = when.toLocaleString();
  return node;
}

/** One stored message: avatar, author and time, then the text. */
export function messageElement(message, me) {
  const item = el('li', 'msg');
  item.dataset.seq = message.seq;
  item.dataset.user = message.user.id;
  if (message.user.id === me.id) item.classList.add('own');
  item.append(avatar(message.user));
  const body = el('div', 'msg-body');
  const head = el('div', 'msg-head');
  head.append(el('span', 'author', message.user.username), clock(message.timestamp));
  body.append(head, el('div', 'msg-text', message.message));
  item.append(body);
  return item;
}

/**
 * Hide the author line of a message that follows one by the same author
 * within a few minutes (`previous` may be null).
 */
export function groupWith(item, message, previous) {
  const grouped =
    previous !== null &&
    previous !== undefined &&
    previous.user.id === message.user.id &&
    message.timestamp - previous.timestamp < GROUP_WITHIN_MS;
  item.classList.toggle('grouped', grouped);
}

/** A message of ours the server has not stored yet. */
export function pendingElement(text, me) {
  const item = el('li', 'msg own pending');
  item.append(avatar(me));
  const body = el('div', 'msg-body');
  const head = el('div', 'msg-head');
  head.append(el('span', 'author', me.username), el('span', 'status', 'Sending…'));
  body.append(head, el('div', 'msg-text', text));
  item.append(body);
  return item;
}

/** Show `status` on a pending message; `actions` are [label, onClick] buttons. */
export function setPendingStatus(item, status, { failed = false, actions = [] } = {}) {
  item.classList.toggle('failed', failed);
  const line = item.querySelector('.status');
  line.replaceChildren(status);
  for (const [label, onClick] of actions) {
    const button = el('button', 'link', label);
    button.type = 'button';
    button.addEventListener('click', onClick);
    line.append(' ', button);
  }
}

/** The "Seen by …" line under a message; no names removes it. */
export function setSeen(item, names) {
  let line = item.querySelector('.seen');
  if (!names.length) {
    line?.remove();
    return;
  }
  if (!line) {
    line = el('div', 'seen');
    item.querySelector('.msg-body').append(line);
  }
  line.textContent = `Seen by ${names.join(', ')}`;
}

/** One person in the "online" list. */
export function personElement(user, me) {
  const item = el('li', 'person');
  item.dataset.user = user.id;
  item.append(avatar(user), el('span', 'name', user.username));
  if (user.id === me.id) item.append(el('span', 'muted', ' (you)'));
  return item;
}

/** "alice is typing…", "alice and bob are typing…", "3 people are typing…", or "". */
export function typingText(names) {
  if (names.length === 0) return '';
  if (names.length === 1) return `${names[0]} is typing…`;
  if (names.length === 2) return `${names[0]} and ${names[1]} are typing…`;
  return `${names.length} people are typing…`;
}
