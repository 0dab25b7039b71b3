// Operational transformation for plain text, matching `ot-text-unicode`.
//
// Browser twin of collab/ot.py (same semantics, camelCase names). An ES
// module with no dependencies: `<script type="module">` or Node >= 20.
//
// Wire form (PROTOCOL.md, "Collaborative editing"): a list of
//   {type: "insert", position, text} / {type: "delete", position, length}
// applied left to right, each on the result of the previous one.
//
// Internal form: text-unicode's own JSON op, one sweep over the document:
//   n (number > 0)  retain n code points
//   "text"          insert text here (non-empty)
//   {d: n}          delete n code points here
// A normalized op has no empty components, no two adjacent components of
// the same kind and no trailing retain; the no-op is [].
//
// Every position and length counts Unicode code points, NOT UTF-16 units:
// use utf16ToCodePointIndex / codePointToUtf16Index at the editor's edge.

/** An op is malformed or does not fit the text it is applied to. */
export class OpError extends Error {
  constructor(message) {
    super(message);
    this.name = 'OpError';
  }
}

// ---------------------------------------------------------------------------
// Code point helpers
// ---------------------------------------------------------------------------

const isHigh = (code) => code >= 0xd800 && code <= 0xdbff;
const isLow = (code) => code >= 0xdc00 && code <= 0xdfff;

/** Number of code points in `str` (a lone surrogate counts as one). */
export function codePointLength(str) {
  let count = 0;
  for (let i = 0; i < str.length; i++, count++) {
    if (isHigh(str.charCodeAt(i)) && isLow(str.charCodeAt(i + 1))) i++;
  }
  return count;
}

/** The code points of `str`, one string each (emoji pairs stay whole). */
export function toCodePoints(str) {
  return Array.from(str);
}

/** True unless `str` holds a lone (unpaired) surrogate. */
export function isWellFormedText(str) {
  for (let i = 0; i < str.length; i++) {
    const code = str.charCodeAt(i);
    if (isHigh(code)) {
      if (!isLow(str.charCodeAt(i + 1))) return false;
      i++;
    } else if (isLow(code)) {
      return false;
    }
  }
  return true;
}

/**
 * UTF-16 index reached from UTF-16 index `unit` of `str` after `count` code
 * points, or -1 when the string ends first.
 */
function advance(str, unit, count) {
  for (; count > 0; count--) {
    if (unit >= str.length) return -1;
    unit += isHigh(str.charCodeAt(unit)) && isLow(str.charCodeAt(unit + 1)) ? 2 : 1;
  }
  return unit;
}

/**
 * Code point index of UTF-16 index `utf16Index` in `str` (clamped to the
 * string). An index inside a surrogate pair maps to that character's start.
 */
export function utf16ToCodePointIndex(str, utf16Index) {
  const end = Math.max(0, Math.min(utf16Index, str.length));
  let count = 0;
  for (let i = 0; i < end; i++, count++) {
    if (isHigh(str.charCodeAt(i)) && isLow(str.charCodeAt(i + 1))) {
      if (i + 1 >= end) return count; // `end` splits this pair
      i++;
    }
  }
  return count;
}

/** UTF-16 index of code point index `cpIndex` in `str` (clamped to the string). */
export function codePointToUtf16Index(str, cpIndex) {
  let unit = 0;
  for (let n = Math.max(0, cpIndex); n > 0 && unit < str.length; n--) {
    unit += isHigh(str.charCodeAt(unit)) && isLow(str.charCodeAt(unit + 1)) ? 2 : 1;
  }
  return unit;
}

/** Slice of `str` from code point `start` to `end` (default: the end). */
function cpSlice(str, start, end) {
  const from = codePointToUtf16Index(str, start);
  if (end === undefined) return str.slice(from);
  const to = advance(str, from, end - start);
  return str.slice(from, to === -1 ? str.length : to);
}

// ---------------------------------------------------------------------------
// Components, building and reading ops
// ---------------------------------------------------------------------------

const isInsert = (c) => typeof c === 'string';
const isDelete = (c) => typeof c === 'object' && c !== null;
const isRetain = (c) => typeof c === 'number';

/** Code points a component covers (inserted, retained or deleted). */
function length(c) {
  if (isInsert(c)) return codePointLength(c);
  if (isDelete(c)) return c.d;
  return c;
}

/** Accumulates components into a normalized op (merges kinds, drops empties). */
class Builder {
  constructor() {
    this.op = [];
  }

  push(c) {
    if (c === null || c === undefined || c === 0 || c === '' || (isDelete(c) && c.d === 0)) return;
    const op = this.op;
    const last = op[op.length - 1];
    if (op.length > 0 && typeof last === typeof c) {
      if (isDelete(c)) op[op.length - 1] = { d: last.d + c.d };
      else op[op.length - 1] = last + c;
    } else {
      op.push(isDelete(c) ? { d: c.d } : c);
    }
  }

  /** The op, without its trailing retain. */
  finish() {
    if (isRetain(this.op[this.op.length - 1])) this.op.pop();
    return this.op;
  }
}

/**
 * Consumes an op piece by piece; past its end it is an endless retain.
 * Offsets into inserts are kept both in code points and UTF-16 units, so
 * taking a big insert in many pieces stays linear.
 */
class Reader {
  constructor(op) {
    this.op = op;
    this.lengths = op.map(length);
    this.index = 0;
    this.offset = 0; // code points into op[index]
    this.unit = 0; // UTF-16 units into op[index] when it is an insert
  }

  peekIsInsert() {
    return this.index < this.op.length && isInsert(this.op[this.index]);
  }

  /** The rest of the current component, or null at the end. */
  takeRest() {
    if (this.index >= this.op.length) return null;
    const c = this.op[this.index];
    const { offset, unit } = this;
    this.index++;
    this.offset = 0;
    this.unit = 0;
    if (offset === 0) return c;
    if (isInsert(c)) return c.slice(unit);
    if (isDelete(c)) return { d: c.d - offset };
    return c - offset;
  }

  /** Up to `n` code points of the next component (see the flags). */
  take(n, wholeInserts, wholeDeletes) {
    if (this.index >= this.op.length) return n;
    const c = this.op[this.index];
    if (this.lengths[this.index] - this.offset <= n) return this.takeRest();
    if (isInsert(c)) {
      if (wholeInserts) return this.takeRest();
      const start = this.unit;
      this.unit = advance(c, start, n);
      this.offset += n;
      return c.slice(start, this.unit);
    }
    if (isDelete(c)) {
      if (wholeDeletes) return this.takeRest();
      this.offset += n;
      return { d: n };
    }
    this.offset += n;
    return n;
  }
}

// ---------------------------------------------------------------------------
// Checking and conversion
// ---------------------------------------------------------------------------

const isPositiveInt = (x) => Number.isInteger(x) && x > 0;

/** Throw OpError unless `op` is a well-formed internal op; return it. */
export function checkOp(op) {
  if (!Array.isArray(op)) throw new OpError('op must be an array of components');
  op.forEach((c, i) => {
    if (isInsert(c)) {
      if (c.length === 0) throw new OpError(`component ${i}: insert text must not be empty`);
      if (!isWellFormedText(c)) throw new OpError(`component ${i}: insert text is not valid Unicode`);
    } else if (isDelete(c)) {
      if (!isPositiveInt(c.d)) throw new OpError(`component ${i}: delete count must be a positive integer`);
    } else if (!isPositiveInt(c)) {
      throw new OpError(`component ${i}: not a retain, insert or delete`);
    }
  });
  return op;
}

/**
 * The op in normal form (merged, no empties, no trailing retain); a
 * text-unicode {d: "text"} delete becomes {d: count}. Same effect as `op`.
 */
export function normalize(op) {
  const builder = new Builder();
  for (const c of op) {
    builder.push(isDelete(c) && typeof c.d === 'string' ? { d: codePointLength(c.d) } : c);
  }
  return builder.finish();
}

/** Minimum length of a text `op` can apply to (retained + deleted). */
export function opBaseLength(op) {
  let total = 0;
  for (const c of op) if (!isInsert(c)) total += length(c);
  return total;
}

/** Code points that applying `op` adds (negative: removes). */
export function opLengthChange(op) {
  let change = 0;
  for (const c of op) {
    if (isInsert(c)) change += codePointLength(c);
    else if (isDelete(c)) change -= c.d;
  }
  return change;
}

/** True when `op` changes nothing. */
export function isNoop(op) {
  return normalize(op).length === 0;
}

// ---------------------------------------------------------------------------
// Wire form
// ---------------------------------------------------------------------------

/**
 * An op being built from single edits, with a movable gap (see ot.py's
 * _Zipper): `left` in order, `right` reversed, `post` = length produced by
 * `left`. Edits in position order compose in linear total time.
 */
class Zipper {
  constructor() {
    this.left = [];
    this.right = [];
    this.post = 0;
  }

  /** Move the gap to the first point where `left` produces `target`. */
  seek(target) {
    const { left, right } = this;
    while (left.length > 0) {
      const top = left[left.length - 1];
      if (isDelete(top)) {
        if (this.post < target) break;
        right.push(left.pop()); // a delete at the target goes right
        continue;
      }
      if (this.post <= target) break;
      left.pop();
      const size = length(top);
      const start = this.post - size;
      if (start < target) {
        this.split(top, target - start, size);
        this.post = target;
        return;
      }
      right.push(top);
      this.post = start;
    }
    while (this.post < target) {
      if (right.length === 0) {
        left.push(target - this.post);
        this.post = target;
        return;
      }
      const c = right.pop();
      if (isDelete(c)) {
        left.push(c);
        continue;
      }
      const size = length(c);
      const need = target - this.post;
      if (size > need) {
        this.split(c, need, size);
        this.post = target;
        return;
      }
      left.push(c);
      this.post += size;
    }
  }

  /** Put the first `keep` code points of retain/insert `c` left, the rest right. */
  split(c, keep, size) {
    if (isInsert(c)) {
      const at = codePointToUtf16Index(c, keep);
      this.left.push(c.slice(0, at));
      this.right.push(c.slice(at));
    } else {
      this.left.push(keep);
      this.right.push(size - keep);
    }
  }

  insert(position, text, size) {
    this.seek(position);
    this.left.push(text);
    this.post += size;
  }

  delete(position, count) {
    this.seek(position);
    const { left, right } = this;
    while (count > 0) {
      if (right.length === 0) {
        left.push({ d: count });
        return;
      }
      const c = right.pop();
      if (isDelete(c)) {
        left.push(c);
        continue;
      }
      const size = length(c);
      if (isInsert(c)) {
        if (size > count) right.push(c.slice(codePointToUtf16Index(c, count)));
        count -= Math.min(size, count);
        continue;
      }
      if (size > count) right.push(size - count);
      const taken = Math.min(size, count);
      left.push({ d: taken });
      count -= taken;
    }
  }

  finish() {
    const builder = new Builder();
    for (const c of this.left) builder.push(c);
    for (let i = this.right.length - 1; i >= 0; i--) builder.push(this.right[i]);
    return builder.finish();
  }
}

function wireInt(component, key, i) {
  if (!(key in component)) throw new OpError(`component ${i}: missing '${key}'`);
  const value = component[key];
  if (!Number.isInteger(value)) throw new OpError(`component ${i}: '${key}' must be an integer`);
  return value;
}

/**
 * Validate wire components (applying to a text of `docLength` code points)
 * and compose them, left to right, into one normalized op — exactly
 * text-unicode's compose of the single-component ops. Throws OpError for
 * anything malformed or not fitting the text. [] gives the no-op [].
 */
export function componentsToOp(components, docLength) {
  if (!Number.isInteger(docLength) || docLength < 0) {
    throw new OpError('docLength must be a non-negative integer');
  }
  if (!Array.isArray(components)) throw new OpError('ops must be an array of components');
  const zipper = new Zipper();
  let current = docLength;
  components.forEach((component, i) => {
    if (typeof component !== 'object' || component === null || Array.isArray(component)) {
      throw new OpError(`component ${i}: must be an object`);
    }
    const kind = component.type;
    if (kind !== 'insert' && kind !== 'delete') {
      throw new OpError(`component ${i}: 'type' must be 'insert' or 'delete'`);
    }
    const position = wireInt(component, 'position', i);
    if (position < 0 || position > current) {
      throw new OpError(`component ${i}: position ${position} outside the text (0..${current})`);
    }
    if (kind === 'insert') {
      const { text } = component;
      if (typeof text !== 'string') throw new OpError(`component ${i}: 'text' must be a string`);
      if (text.length === 0) throw new OpError(`component ${i}: 'text' must not be empty`);
      if (!isWellFormedText(text)) throw new OpError(`component ${i}: 'text' is not valid Unicode`);
      const size = codePointLength(text);
      zipper.insert(position, text, size);
      current += size;
    } else {
      const count = wireInt(component, 'length', i);
      if (count < 1) throw new OpError(`component ${i}: 'length' must be at least 1`);
      if (position + count > current) {
        throw new OpError(
          `component ${i}: delete ${position}..${position + count} runs past the end of the text (${current})`,
        );
      }
      zipper.delete(position, count);
      current -= count;
    }
  });
  return zipper.finish();
}

/**
 * Wire components of `op` ([] for a no-op): all inserts first, then all
 * deletes, each left to right at its position in the progressively edited
 * text. componentsToOp of them gives back normalize(op) exactly.
 */
export function opToComponents(op) {
  const inserts = [];
  const deletes = [];
  let post = 0;
  let removed = 0;
  for (const c of normalize(op)) {
    if (isInsert(c)) {
      inserts.push({ type: 'insert', position: post, text: c });
      post += codePointLength(c);
    } else if (isDelete(c)) {
      deletes.push({ type: 'delete', position: post - removed, length: c.d });
      post += c.d;
      removed += c.d;
    } else {
      post += c;
    }
  }
  return inserts.concat(deletes);
}

// ---------------------------------------------------------------------------
// The OT functions
// ---------------------------------------------------------------------------

/** `text` with `op` applied; linear. Throws OpError if the op is too long. */
export function apply(text, op) {
  checkOp(op);
  const pieces = [];
  let unit = 0;
  for (const c of op) {
    if (isInsert(c)) {
      pieces.push(c);
      continue;
    }
    const next = advance(text, unit, length(c));
    if (next === -1) throw new OpError('op is longer than the text');
    if (isRetain(c)) pieces.push(text.slice(unit, next));
    unit = next;
  }
  pieces.push(text.slice(unit));
  return pieces.join('');
}

/**
 * `op` rewritten to apply after `other` (both made on one text); exactly
 * text-unicode's transform(op, other, side). Where both insert at one
 * point, the 'left' op's text goes first.
 */
export function transform(op, other, side) {
  if (side !== 'left' && side !== 'right') {
    throw new OpError(`side must be 'left' or 'right', not ${side}`);
  }
  checkOp(op);
  checkOp(other);
  const out = new Builder();
  const reader = new Reader(op);
  for (const c of other) {
    if (isInsert(c)) {
      if (side === 'left' && reader.peekIsInsert()) out.push(reader.takeRest());
      out.push(codePointLength(c));
    } else if (isDelete(c)) {
      let remaining = c.d;
      while (remaining > 0) {
        const piece = reader.take(remaining, true, false);
        if (isInsert(piece)) out.push(piece);
        else remaining -= length(piece);
      }
    } else {
      let remaining = c;
      while (remaining > 0) {
        const piece = reader.take(remaining, true, false);
        out.push(piece);
        if (!isInsert(piece)) remaining -= length(piece);
      }
    }
  }
  for (let rest = reader.takeRest(); rest !== null; rest = reader.takeRest()) out.push(rest);
  return out.finish();
}

/** One op with the effect of `a` then `b`; exactly text-unicode's compose. */
export function compose(a, b) {
  checkOp(a);
  checkOp(b);
  const out = new Builder();
  const reader = new Reader(a);
  for (const c of b) {
    if (isInsert(c)) {
      out.push(c);
    } else if (isDelete(c)) {
      let remaining = c.d;
      while (remaining > 0) {
        const piece = reader.take(remaining, false, true);
        if (isInsert(piece)) {
          remaining -= codePointLength(piece);
        } else if (isDelete(piece)) {
          out.push(piece);
        } else {
          out.push({ d: piece });
          remaining -= piece;
        }
      }
    } else {
      let remaining = c;
      while (remaining > 0) {
        const piece = reader.take(remaining, false, true);
        out.push(piece);
        if (!isDelete(piece)) remaining -= length(piece);
      }
    }
  }
  for (let rest = reader.takeRest(); rest !== null; rest = reader.takeRest()) out.push(rest);
  return out.finish();
}

/**
 * Where cursor `pos` is after `op` (text-unicode's transformPosition): a
 * delete spanning it moves it to the delete's position; text inserted
 * exactly at it goes after it, unless `isOwnOp` (the cursor's own socket
 * made the op), when the cursor ends after the inserted text.
 */
export function transformPosition(pos, op, isOwnOp = false) {
  let position = 0;
  for (const c of op) {
    if (pos < position || (pos === position && !isOwnOp)) break;
    if (isInsert(c)) {
      const size = codePointLength(c);
      position += size;
      pos += size;
    } else if (isDelete(c)) {
      pos -= Math.min(c.d, pos - position);
    } else {
      position += c;
    }
  }
  return pos;
}

/** The op that undoes `op`, given the text `op` applied to. */
export function invert(op, textBefore) {
  checkOp(op);
  const out = new Builder();
  let unit = 0;
  for (const c of op) {
    if (isInsert(c)) {
      out.push({ d: codePointLength(c) });
      continue;
    }
    const next = advance(textBefore, unit, length(c));
    if (next === -1) throw new OpError('op is longer than the text');
    out.push(isDelete(c) ? textBefore.slice(unit, next) : c);
    unit = next;
  }
  return out.finish();
}

/** Compose a list of ops in order ([] for none). */
export function composeAll(ops) {
  return ops.reduce((acc, op) => compose(acc, op), []);
}

/**
 * Transform `op` past `others` committed after its base: the server's
 * rule, with `op` on the right (a committed insert at the same point stays
 * first). A client rebasing its pending op on server ops uses the same.
 */
export function transformAgainst(op, others) {
  return others.reduce((acc, other) => transform(acc, other, 'right'), op);
}
