// The grid's items as changes arrive: a file moved (ids are kept across moves),
// marks set here or in the viewer. Pure, so that tests reach them.
import type { GalleryItem, ImageRef } from "../api";
import { applyMarks, type MarksChange } from "./marks";
import { inPlace, type Place } from "./filters";

/** A tile's key: its id (kept across moves and renames), else its place. */
export const itemKey = (i: ImageRef): string => (i.id !== undefined ? `#${i.id}` : `${i.type}:${i.subfolder}/${i.filename}`);
export const sameItem = (a: ImageRef, b: ImageRef): boolean =>
  a.id !== undefined && b.id !== undefined ? a.id === b.id : a.filename === b.filename && a.subfolder === b.subfolder && a.type === b.type;

/** The items after a file moved to `to` (from `from` when the server says): it keeps its place in the grid when it
 * stays in the listing, and leaves it otherwise. A file new to the listing is not added here. */
export function applyMove(items: readonly GalleryItem[], to: ImageRef, from: ImageRef | null, place: Pick<Place, "root" | "subfolder" | "recursive">): GalleryItem[] {
  const was = (i: GalleryItem) => !i.isDir && (sameItem(i, to) || (from !== null && sameItem(i, from)));
  if (!inPlace(to, place)) return items.filter((i) => !was(i));
  return items.map((i) => (was(i) ? { ...i, filename: to.filename, subfolder: to.subfolder, type: to.type, id: to.id ?? i.id } : i));
}

/** The items with a marks change applied to those whose key is chosen (all files when `keys` is null). */
export function markItems(items: readonly GalleryItem[], keys: ReadonlySet<string> | null, change: MarksChange): GalleryItem[] {
  return items.map((i) => (!i.isDir && (keys === null || keys.has(itemKey(i))) ? { ...i, marks: applyMarks(i.marks, change) } : i));
}
