// The grid's selection as one state changed by named events in a pure reducer:
// a long press starts it, a tap toggles one tile, a long press on another tile
// selects everything between the last tapped one (the anchor) and it, and
// "all matching" stands for every file the listing's filter matches (the
// server resolves it: the bulk routes take the listing's query string).

export interface Selection {
  /** Whether the grid is selecting (taps toggle instead of opening the viewer). */
  active: boolean;
  /** The selected tiles' keys (unused while `all`). */
  keys: ReadonlySet<string>;
  /** The tile a range starts from: the last one tapped. */
  anchor: string | null;
  /** Everything the current filter matches, loaded or not. */
  all: boolean;
}

export const NO_SELECTION: Selection = { active: false, keys: new Set(), anchor: null, all: false };

export type SelectionEvent =
  | { type: "start" } // the Select button: selecting, nothing chosen yet
  | { type: "press"; key: string; order: readonly string[] } // a long press on a tile
  | { type: "tap"; key: string; order: readonly string[] } // a tap on a tile while selecting
  | { type: "range"; key: string; order: readonly string[] } // shift+click, as a long press while selecting
  | { type: "all" } // select all matching the filter
  | { type: "end" };

/** The keys from `a` to `b` (either order) in the grid's order, or just `b` when `a` is not there. */
export function between(order: readonly string[], a: string | null, b: string): string[] {
  const j = order.indexOf(b);
  const i = a === null ? -1 : order.indexOf(a);
  if (j < 0) return [];
  if (i < 0) return [b];
  return order.slice(Math.min(i, j), Math.max(i, j) + 1);
}

export function selectionReducer(state: Selection, event: SelectionEvent): Selection {
  switch (event.type) {
    case "start":
      return { active: true, keys: new Set(), anchor: null, all: false };
    case "end":
      return NO_SELECTION;
    case "all":
      return { active: true, keys: new Set(), anchor: null, all: true };
    case "tap": {
      if (!state.active) return state;
      // out of "all matching": every loaded tile but this one
      const keys = new Set(state.all ? event.order : state.keys);
      if (keys.has(event.key)) keys.delete(event.key);
      else keys.add(event.key);
      return { active: true, keys, anchor: event.key, all: false };
    }
    case "press":
    case "range": {
      if (!state.active) return { active: true, keys: new Set([event.key]), anchor: event.key, all: false };
      if (state.all) return state;
      const keys = new Set(state.keys);
      for (const k of between(event.order, state.anchor, event.key)) keys.add(k);
      return { active: true, keys, anchor: event.key, all: false };
    }
  }
}
