// An image's marks (the caller's own): favourite, rejected and a 0–5 rating, and
// the pure rules the grid and the viewer share: how a change applies (favourite
// and rejected exclude each other, as on the server), whether a marked image still
// belongs in a filtered listing, and the swipe that marks one in the viewer.

export interface Marks {
  favourite: boolean;
  rejected: boolean;
  /** 0 (none) to 5. */
  rating: number;
}
export type MarksChange = Partial<Marks>;
export const NO_MARKS: Marks = { favourite: false, rejected: false, rating: 0 };

export const clampRating = (n: number): number => (Number.isFinite(n) ? Math.min(5, Math.max(0, Math.round(n))) : 0);

/** The marks after a change, by the server's rules: favourite=true clears rejected, rejected=true clears favourite. */
export function applyMarks(marks: Marks, change: MarksChange): Marks {
  const next: Marks = { ...marks };
  if (change.rating !== undefined) next.rating = clampRating(change.rating);
  if (change.favourite !== undefined) {
    next.favourite = change.favourite;
    if (change.favourite) next.rejected = false;
  }
  if (change.rejected !== undefined) {
    next.rejected = change.rejected;
    if (change.rejected) next.favourite = false;
  }
  return next;
}

/** The change a tap on the favourite, reject or n-th star makes (the same star again clears the rating). */
export const toggleFavourite = (m: Marks): MarksChange => ({ favourite: !m.favourite });
export const toggleRejected = (m: Marks): MarksChange => ({ rejected: !m.rejected });
export const rateChange = (m: Marks, stars: number): MarksChange => ({ rating: m.rating === stars ? 0 : clampRating(stars) });

/** The mark filters of a listing (the rest of its filter is the server's). */
export interface MarkFilter {
  favourite: boolean;
  rejected: "hide" | "show" | "only";
  minRating: number;
}
/** Whether an image with these marks still belongs in a listing with this filter (a rejected one leaves the grid). */
export function stillListed(m: Marks, f: MarkFilter): boolean {
  if (f.rejected === "hide" && m.rejected) return false;
  if (f.rejected === "only" && !m.rejected) return false;
  if (f.favourite && !m.favourite) return false;
  return m.rating >= f.minRating;
}

/** What a swipe on the viewer's image does: sideways, the previous or next image; up, favourite; down, reject. */
export type Swipe = "next" | "previous" | "favourite" | "reject" | null;
export function swipeOf(dx: number, dy: number): Swipe {
  if (Math.abs(dx) > 60 && Math.abs(dx) > Math.abs(dy) * 1.5) return dx < 0 ? "next" : "previous";
  if (Math.abs(dy) > 80 && Math.abs(dy) > Math.abs(dx) * 2) return dy < 0 ? "favourite" : "reject";
  return null;
}
