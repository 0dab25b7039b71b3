// From two states of a textarea to the op between them (code points).
//
// The browser reports "the value changed", not what changed, for typing,
// paste, cut, drag and drop, autocorrect and IME alike. The change is the
// span between the common prefix and the common suffix of the two values;
// the caret after the change bounds the suffix, so that typing "a" into
// "aa" lands where the caret is and not at the start of the run.

import { codePointLength, componentsToOp, utf16ToCodePointIndex } from './ot.js';

const isHigh = (code) => code >= 0xd800 && code <= 0xdbff;
const isLow = (code) => code >= 0xdc00 && code <= 0xdfff;

/**
 * The op (code points) that turns `before` into `after`, or [] when equal.
 * `caret` is the UTF-16 index of the caret in `after` (selectionEnd), or
 * undefined when unknown.
 */
export function diffToOp(before, after, caret = after.length) {
  if (before === after) return [];
  const limit = Math.min(before.length, after.length);
  let suffix = 0;
  const maxSuffix = Math.min(limit, Math.max(0, after.length - caret));
  while (
    suffix < maxSuffix &&
    before.charCodeAt(before.length - 1 - suffix) === after.charCodeAt(after.length - 1 - suffix)
  ) {
    suffix++;
  }
  let prefix = 0;
  while (prefix < limit - suffix && before.charCodeAt(prefix) === after.charCodeAt(prefix)) prefix++;
  // Never split a surrogate pair: widen the change to whole code points.
  if (prefix > 0 && isHigh(before.charCodeAt(prefix - 1))) prefix--;
  if (suffix > 0 && isLow(before.charCodeAt(before.length - suffix))) suffix--;
  const position = utf16ToCodePointIndex(before, prefix);
  const removed = before.slice(prefix, before.length - suffix);
  const inserted = after.slice(prefix, after.length - suffix);
  const components = [];
  if (removed) components.push({ type: 'delete', position, length: codePointLength(removed) });
  if (inserted) components.push({ type: 'insert', position, text: inserted });
  return componentsToOp(components, codePointLength(before));
}
