// The others' cursors and selections, drawn over the textarea.
//
// A transparent copy of the text sits exactly on top of the textarea (same
// font, padding, wrapping and width), with a coloured caret and name label
// at each peer's position and a tinted background over each selection. It
// scrolls with the textarea and never takes the mouse.

import { codePointToUtf16Index } from './ot.js';

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function caret(peer) {
  const node = el('span', 'remote-caret');
  node.dataset.client = peer.client;
  node.dataset.user = peer.user.username;
  node.style.borderColor = peer.color;
  const name = el('span', 'remote-name', peer.user.username);
  name.style.background = peer.color;
  node.append(name);
  return node;
}

/** The selection ranges and carets of `peers`, in UTF-16 offsets of `text`. */
function marks(text, peers) {
  const carets = new Map(); // offset -> [peer]
  const ranges = [];
  for (const peer of peers) {
    const at = codePointToUtf16Index(text, peer.position);
    if (!carets.has(at)) carets.set(at, []);
    carets.get(at).push(peer);
    if (peer.selectionEnd != null && peer.selectionEnd !== peer.position) {
      const end = codePointToUtf16Index(text, peer.selectionEnd);
      ranges.push({ from: Math.min(at, end), to: Math.max(at, end), color: peer.color });
    }
  }
  return { carets, ranges };
}

export class CursorOverlay {
  constructor(overlay, textarea) {
    this.overlay = overlay;
    this.textarea = textarea;
    this.inner = el('div', 'collab-overlay-text');
    overlay.append(this.inner);
    this.pending = false;
    textarea.addEventListener('scroll', () => this.scroll());
    new ResizeObserver(() => this.render()).observe(textarea);
  }

  /** Redraw on the next frame (many changes in one frame draw once). */
  update(peers) {
    this.peers = peers;
    if (this.pending) return;
    this.pending = true;
    requestAnimationFrame(() => {
      this.pending = false;
      this.render();
    });
  }

  /** Put the overlay on the textarea's content box (inside its border, left of its scrollbar). */
  place() {
    const style = getComputedStyle(this.textarea);
    const { overlay, textarea } = this;
    overlay.style.top = `${textarea.offsetTop + parseFloat(style.borderTopWidth)}px`;
    overlay.style.left = `${textarea.offsetLeft + parseFloat(style.borderLeftWidth)}px`;
    overlay.style.width = `${textarea.clientWidth}px`;
    overlay.style.height = `${textarea.clientHeight}px`;
    this.inner.style.padding = style.padding;
  }

  scroll() {
    this.inner.style.transform = `translate(${-this.textarea.scrollLeft}px, ${-this.textarea.scrollTop}px)`;
  }

  render() {
    const peers = this.peers || [];
    this.place();
    const text = this.textarea.value;
    const { carets, ranges } = marks(text, peers);
    const points = new Set([0, text.length, ...carets.keys()]);
    for (const range of ranges) points.add(range.from).add(range.to);
    const sorted = [...points].filter((p) => p <= text.length).sort((a, b) => a - b);
    const out = document.createDocumentFragment();
    for (let i = 0; i < sorted.length; i++) {
      const at = sorted[i];
      for (const peer of carets.get(at) || []) out.append(caret(peer));
      const next = sorted[i + 1];
      if (next === undefined || next === at) continue;
      const piece = text.slice(at, next);
      const cover = ranges.filter((r) => r.from <= at && r.to >= next).pop();
      if (cover) {
        const span = el('span', 'remote-selection', piece);
        span.style.background = `${cover.color}33`;
        out.append(span);
      } else {
        out.append(piece);
      }
    }
    // A trailing newline needs something after it to take up its line.
    out.append('\u200b');
    this.inner.replaceChildren(out);
    this.scroll();
  }
}
