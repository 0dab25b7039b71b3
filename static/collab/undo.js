// Undo and redo of one's own edits in a shared text.
//
// Each local edit records its inverse; edits closer together than
// `groupMs` form one step. Every op from someone else transforms both
// stacks, so an undo takes back one's own change where it now is and leaves
// everyone else's text alone. An entry that others' deletes emptied is
// skipped.

import { compose, isNoop, transform } from './ot.js';

export class UndoHistory {
  constructor(groupMs = 800) {
    this.groupMs = groupMs;
    this.undoStack = [];
    this.redoStack = [];
    this.lastAt = -Infinity;
  }

  /** A new local edit, by its inverse, made at time `at` (ms). Clears redo. */
  record(inverse, at) {
    const top = this.undoStack.length - 1;
    if (top >= 0 && at - this.lastAt < this.groupMs) {
      // Undo the newer edit first, then the older ones of the step.
      this.undoStack[top] = compose(inverse, this.undoStack[top]);
    } else {
      this.undoStack.push(inverse);
    }
    this.lastAt = at;
    this.redoStack = [];
  }

  /** The next op to apply for undo (or redo), or null; see `applied`. */
  take(redo) {
    const stack = redo ? this.redoStack : this.undoStack;
    while (stack.length) {
      const op = stack.pop();
      if (!isNoop(op)) return op;
    }
    return null;
  }

  /** An op from `take(redo)` was applied; `inverse` takes it back again. */
  applied(inverse, redo) {
    (redo ? this.undoStack : this.redoStack).push(inverse);
    this.lastAt = -Infinity; // the next typing starts a new step
  }

  /** Someone else's `op`, applied to the current text: move both stacks past it. */
  transform(op) {
    transformStack(this.undoStack, op);
    transformStack(this.redoStack, op);
  }

  clear() {
    this.undoStack = [];
    this.redoStack = [];
  }
}

/**
 * Move a stack past `op`, which applies to the text the top entry applies
 * to; each entry below applies to the text after the one above it.
 */
function transformStack(stack, op) {
  let other = op;
  for (let i = stack.length - 1; i >= 0; i--) {
    const entry = stack[i];
    stack[i] = transform(entry, other, 'left');
    other = transform(other, entry, 'right');
  }
}
