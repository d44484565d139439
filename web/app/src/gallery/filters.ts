// The gallery's filter and sort as the phone keeps them, and the listing query
// they make (api.ts's GalleryQuery): the grid's pages, its counts and "select
// all matching" all send the same one.
import type { GalleryQuery, GalleryRoot, KindFilter, RejectedMode, SortKey } from "../api";

export interface Filters {
  sort: SortKey;
  order: "asc" | "desc";
  kind: KindFilter;
  model: string;
  /** Megabytes as typed ("" for no bound). */
  minMB: string;
  maxMB: string;
  /** Days as a date input gives them, "YYYY-MM-DD" ("" for no bound), both included. */
  since: string;
  until: string;
  favourite: boolean;
  rejected: RejectedMode;
  minRating: number;
  groupByDay: boolean;
}

export const SORTS: readonly SortKey[] = ["mtime", "created", "name", "size", "rating"];
export const KINDS: readonly KindFilter[] = ["all", "image", "video", "animated"];

/** The phone's default: newest first, rejected images hidden, grouped by day. */
export const DEFAULT_FILTERS: Filters = {
  sort: "mtime",
  order: "desc",
  kind: "all",
  model: "",
  minMB: "",
  maxMB: "",
  since: "",
  until: "",
  favourite: false,
  rejected: "hide",
  minRating: 0,
  groupByDay: true,
};

/** A sort's natural order: names A to Z, everything else the newest, largest or best first. */
export const defaultOrder = (sort: SortKey): "asc" | "desc" => (sort === "name" ? "asc" : "desc");
/** Whether a sort is by a date, so that grouping by day makes sense. */
export const byDate = (sort: SortKey): boolean => sort === "mtime" || sort === "created";

const bytes = (mb: string): number | null => {
  const n = Number(mb.replace(",", "."));
  return mb.trim() !== "" && Number.isFinite(n) && n >= 0 ? Math.round(n * 1024 * 1024) : null;
};
/** The first second of a local day ("YYYY-MM-DD"), or null. */
export function dayStart(day: string): number | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(day);
  if (!m) return null;
  return Math.floor(new Date(Number(m[1]), Number(m[2]) - 1, Number(m[3])).getTime() / 1000);
}
/** The last second of a local day, or null. */
export function dayEnd(day: string): number | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(day);
  if (!m) return null;
  return Math.floor(new Date(Number(m[1]), Number(m[2]) - 1, Number(m[3]) + 1).getTime() / 1000) - 1;
}

export interface Place {
  root: GalleryRoot;
  subfolder: string;
  recursive: boolean;
  search: string;
}

/** The listing query of a place with a filter (no paging: the same for pages, counts and bulk actions). */
export function listingOf(place: Place, f: Filters): GalleryQuery {
  return {
    type: place.root,
    subfolder: place.subfolder,
    recursive: place.recursive,
    search: place.search,
    model: f.model,
    sort: f.sort,
    order: f.order,
    kind: f.kind,
    favourite: f.favourite,
    rejected: f.rejected,
    minRating: f.minRating,
    minSize: bytes(f.minMB),
    maxSize: bytes(f.maxMB),
    since: dayStart(f.since),
    until: dayEnd(f.until),
  };
}

/** How many filters differ from the default (the filter button's badge). Sort and grouping are not filters. */
export function activeFilters(f: Filters): number {
  let n = 0;
  if (f.kind !== "all") n++;
  if (f.model) n++;
  if (bytes(f.minMB) !== null || bytes(f.maxMB) !== null) n++;
  if (dayStart(f.since) !== null || dayEnd(f.until) !== null) n++;
  if (f.favourite) n++;
  if (f.rejected !== "hide") n++;
  if (f.minRating > 0) n++;
  return n;
}

/** Whether a file at `ref` belongs to a place's listing (by folder only; the filter is the server's). */
export function inPlace(ref: { type: string; subfolder: string }, place: Pick<Place, "root" | "subfolder" | "recursive">): boolean {
  if (ref.type !== place.root) return false;
  if (!place.recursive) return ref.subfolder === place.subfolder;
  return place.subfolder === "" || ref.subfolder === place.subfolder || ref.subfolder.startsWith(`${place.subfolder}/`);
}

/** Whether a new file can go on top of the grid as it stands: newest first, nothing but the folder and hidden rejects filtering. */
export const takesNewFiles = (f: Filters, search: string): boolean =>
  search === "" && f.model === "" && f.kind === "all" && !f.favourite && f.rejected !== "only" && f.minRating === 0 &&
  bytes(f.minMB) === null && bytes(f.maxMB) === null && dayStart(f.since) === null && dayEnd(f.until) === null &&
  byDate(f.sort) && f.order === "desc";
