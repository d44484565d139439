// The bar of a selection: favourite, reject, rate, move, download as a zip,
// compare (exactly two) and delete, for the chosen files or for everything the
// filter matches ("all matching": the bulk routes take the listing's query).
import type { JSX } from "preact";
import { useState } from "preact/hooks";
import { ApiError, deleteMany, markMany, moveImages, restore, zipSelection, type BulkSelection, type GalleryItem, type GalleryRoot, type ImageRef } from "../api";
import type { MarksChange } from "../gallery/marks";
import { Icon } from "./Icons";
import { MoveSheet } from "./MoveSheet";
import { Confirm, Sheet } from "./Sheet";
import { message, toast } from "./ui";
import { t } from "../i18n";

export interface SelectionBarProps {
  root: GalleryRoot;
  /** How many files are selected (all matching: the listing's total). */
  count: number;
  /** The loaded files chosen (empty while all matching). */
  chosen: GalleryItem[];
  /** What the bulk routes act on. */
  selection: BulkSelection;
  all: boolean;
  onMarked: (change: MarksChange) => void;
  /** Files went to the trash: their ids, or null (all matching) for a reload. */
  onDeleted: (ids: number[] | null) => void;
  /** Files moved: where each is now, or null (all matching) for a reload. */
  onMoved: (moved: ImageRef[] | null) => void;
  onReload: () => void;
  onEnd: () => void;
  onCompare: (a: GalleryItem, b: GalleryItem) => void;
}

type Open = "rate" | "move" | "confirm-delete" | { takenIn: string } | null;

/** Fetches a URL as a download without leaving the app (the server sends Content-Disposition: attachment). */
function download(url: string): void {
  const a = document.createElement("a");
  a.href = url;
  a.download = "";
  a.rel = "noopener";
  document.body.appendChild(a);
  a.click();
  a.remove();
}

export function SelectionBar(props: SelectionBarProps): JSX.Element {
  const { count, chosen, selection, all } = props;
  const [open, setOpen] = useState<Open>(null);
  const [busy, setBusy] = useState(false);
  const none = count === 0;
  const run = async (job: () => Promise<void>) => {
    if (busy) return;
    setBusy(true);
    try {
      await job();
    } catch (e) {
      toast(message(e));
    } finally {
      setBusy(false);
    }
  };
  const mark = (change: MarksChange, text: (count: number) => string) => run(async () => {
    const updated = await markMany(selection, change);
    props.onMarked(change);
    toast(text(updated));
    props.onEnd();
  });
  const allFavourite = !all && chosen.length > 0 && chosen.every((i) => i.marks.favourite);
  const allRejected = !all && chosen.length > 0 && chosen.every((i) => i.marks.rejected);
  const favourite = () => mark({ favourite: !allFavourite }, (n) => t(allFavourite ? "bulk.unfavourited" : "bulk.favourited", { count: n }));
  const reject = () => mark({ rejected: !allRejected }, (n) => t(allRejected ? "bulk.unrejected" : "bulk.rejected", { count: n }));
  const rate = (stars: number) => {
    setOpen(null);
    void mark({ rating: stars }, (n) => (stars ? t("bulk.rated", { count: n, stars: String(stars) }) : t("bulk.unrated", { count: n })));
  };
  const move = (to: string, rename = false) => run(async () => {
    setOpen(null);
    try {
      const result = await moveImages(selection, to, rename, props.root);
      const name = to || (props.root === "input" ? t("gallery.input") : t("gallery.output"));
      toast(t("bulk.moved", { count: result.moved.length, name }));
      for (const problem of result.errors) toast(problem);
      props.onMoved(all ? null : result.moved);
      props.onEnd();
    } catch (e) {
      if (e instanceof ApiError && e.code === "NAME_TAKEN" && !rename) setOpen({ takenIn: to });
      else throw e;
    }
  });
  const remove = () => run(async () => {
    const { deleted, batch } = await deleteMany(selection);
    props.onDeleted(all ? null : chosen.map((i) => i.id).filter((id): id is number => id !== undefined));
    props.onEnd();
    toast(t("gallery.deleted", { count: deleted }), batch ? {
      label: t("common.undo"),
      run: () => restore(batch).then(() => { toast(t("gallery.restored")); props.onReload(); }, (e) => toast(message(e))),
    } : undefined, 8000);
  });
  const zip = () => run(async () => {
    const ticket = await zipSelection(selection);
    toast(t("bulk.zipping", { count: ticket.files }));
    download(ticket.url);
  });
  return (
    <>
      {!all && chosen.length === 2 && (
        <button type="button" class="primary compare-pill" id="bulk-compare" onClick={() => props.onCompare(chosen[0], chosen[1])}>
          <Icon name="compare" /> {t("bulk.compareTwo")}
        </button>
      )}
      <div class="selbar-bottom" role="toolbar" aria-label={t("bulk.actions")}>
        <button type="button" class="labelled" id="bulk-favourite" disabled={none || busy} onClick={favourite} aria-pressed={allFavourite}>
          <Icon name="star" filled={allFavourite} /><span>{t("marks.favourite")}</span>
        </button>
        <button type="button" class="labelled" id="bulk-reject" disabled={none || busy} onClick={reject} aria-pressed={allRejected}>
          <Icon name="reject" /><span>{t("marks.reject")}</span>
        </button>
        <button type="button" class="labelled" id="bulk-rate" disabled={none || busy} onClick={() => setOpen("rate")}>
          <Icon name="star" /><span>{t("bulk.rate")}</span>
        </button>
        <button type="button" class="labelled" id="bulk-move" disabled={none || busy} onClick={() => setOpen("move")}>
          <Icon name="move" /><span>{t("bulk.move")}</span>
        </button>
        <button type="button" class="labelled" id="bulk-zip" disabled={none || busy} onClick={zip}>
          <Icon name="download" /><span>{t("bulk.zip")}</span>
        </button>
        <button type="button" class="labelled danger" id="delete-selected" disabled={none || busy} onClick={() => (all ? setOpen("confirm-delete") : void remove())}>
          <Icon name="trash" /><span>{t("common.delete")}</span>
        </button>
      </div>
      {open === "rate" && (
        <Sheet title={t("bulk.rateTitle", { count })} onClose={() => setOpen(null)} id="rate-sheet">
          <div class="stars big-stars" role="group" aria-label={t("marks.rating")}>
            {[1, 2, 3, 4, 5].map((n) => (
              <button type="button" key={n} class="icon star-btn" aria-label={t("marks.stars", { count: n })} onClick={() => rate(n)}><Icon name="star" /></button>
            ))}
          </div>
          <button type="button" class="wide" onClick={() => rate(0)}>{t("marks.clearRating")}</button>
        </Sheet>
      )}
      {open === "move" && <MoveSheet root={props.root} count={count} start="" onMove={(to) => void move(to)} onClose={() => setOpen(null)} />}
      {open !== null && typeof open === "object" && (
        <Confirm title={t("move.takenTitle")} text={t("move.taken", { name: open.takenIn || t("gallery.output") })} yes={t("move.keepBoth")}
          onYes={() => { setOpen(null); void move(open.takenIn, true); }} onClose={() => setOpen(null)} />
      )}
      {open === "confirm-delete" && (
        <Confirm title={t("bulk.deleteAllTitle")} text={t("bulk.deleteAll", { count })} yes={t("common.delete")} danger
          onYes={() => { setOpen(null); void remove(); }} onClose={() => setOpen(null)} />
      )}
    </>
  );
}
