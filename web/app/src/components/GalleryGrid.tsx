// The gallery's grid: folder tiles, then image tiles with their marks (★, ✕ dimmed,
// rating dots), under a header per day when grouped. A long press (or shift+click)
// is for selecting; a tap opens, or toggles while selecting.
import type { JSX } from "preact";
import { useRef } from "preact/hooks";
import { thumbUrl, type GalleryItem, type ImageRef } from "../api";
import { dayLabel, withDays } from "../gallery/days";
import { itemKey } from "../gallery/items";
import type { Selection } from "../gallery/selection";
import { fileStem } from "../labels";
import { locale, t } from "../i18n";
import { Icon } from "./Icons";

const LONG_PRESS_MS = 450;

export interface GridProps {
  items: GalleryItem[];
  /** The time to group by day (null: no headers). */
  dayOf: ((item: GalleryItem) => number | null) | null;
  selection: Selection;
  thumbW: number;
  loading: boolean;
  onOpen: (item: GalleryItem) => void;
  onTap: (item: GalleryItem) => void;
  /** A long press: starts selecting, or selects the range from the last tapped tile. */
  onPress: (item: GalleryItem) => void;
  onFolder: (item: GalleryItem) => void;
  onFolderMenu: (item: GalleryItem) => void;
}

/** A folder: a mosaic of its newest images (1 to 4) under its name, or the folder icon when it shows none; its menu beside. */
function FolderTile({ item, thumbW, onOpen, onMenu }: { item: GalleryItem; thumbW: number; onOpen: () => void; onMenu: () => void }): JSX.Element {
  const shown = (item.preview ?? []).slice(0, 4);
  return (
    <div class="tile-wrap">
      <button type="button" class={`tile folder${shown.length ? " previewed" : ""}`} data-folder={item.subfolder} aria-label={t("gallery.folder", { name: item.filename })} onClick={onOpen}>
        {shown.length > 0 ? (
          <span class={`mosaic n${shown.length}`} aria-hidden="true">
            {shown.map((ref: ImageRef) => <img key={itemKey(ref)} src={thumbUrl(ref, shown.length === 1 ? thumbW : 192)} alt="" loading="lazy" decoding="async" />)}
          </span>
        ) : <Icon name="folder" />}
        <span class="folder-name">{shown.length > 0 && <Icon name="folder" />}{item.filename}</span>
      </button>
      <button type="button" class="tile-menu icon" aria-label={t("folder.menu", { name: item.filename })} onClick={onMenu}><Icon name="more" /></button>
    </div>
  );
}

const dots = (n: number) => "●".repeat(n) + "○".repeat(5 - n);

function label(item: GalleryItem): string {
  const what = item.prompt ? t("gallery.imagePrompt", { prompt: item.prompt }) : t("gallery.imageFile", { name: fileStem(item.filename) });
  const marks = [item.marks.favourite && t("marks.favourite"), item.marks.rejected && t("marks.rejected"), item.marks.rating > 0 && t("marks.stars", { count: item.marks.rating })];
  return [what, ...marks.filter((m): m is string => typeof m === "string")].join(", ");
}

export function GalleryGrid(props: GridProps): JSX.Element {
  const { items, dayOf, selection, thumbW } = props;
  const press = useRef<{ key: string; x: number; y: number; timer: ReturnType<typeof setTimeout>; fired: boolean } | null>(null);
  const byKey = new Map(items.map((i) => [itemKey(i), i]));
  const target = (e: Event) => {
    const el = (e.target as HTMLElement).closest<HTMLElement>("[data-key]");
    return el ? byKey.get(el.dataset.key ?? "") : undefined;
  };
  const cancel = () => {
    if (press.current) clearTimeout(press.current.timer);
  };
  const onPointerDown = (e: PointerEvent) => {
    const item = target(e);
    cancel();
    if (!item || (e.pointerType === "mouse" && e.button !== 0)) return (press.current = null);
    const key = itemKey(item);
    const timer = setTimeout(() => {
      if (press.current?.key !== key) return;
      press.current.fired = true;
      navigator.vibrate?.(15);
      props.onPress(item);
    }, LONG_PRESS_MS);
    press.current = { key, x: e.clientX, y: e.clientY, timer, fired: false };
  };
  const onPointerMove = (e: PointerEvent) => {
    const p = press.current;
    if (p && !p.fired && Math.hypot(e.clientX - p.x, e.clientY - p.y) > 10) cancel();
  };
  const onClick = (e: MouseEvent) => {
    const item = target(e);
    const fired = press.current?.fired === true;
    cancel();
    press.current = null;
    if (!item || fired) return;
    if (e.shiftKey) props.onPress(item);
    else if (selection.active) props.onTap(item);
    else props.onOpen(item);
  };
  const selected = (item: GalleryItem) => selection.all || selection.keys.has(itemKey(item));
  const rows = dayOf ? withDays(items, (i) => (i.isDir ? null : dayOf(i))) : items.map((item) => ({ kind: "item" as const, item }));
  const tag = locale();
  return (
    <div class={`grid${selection.active ? " selecting" : ""}`} id="gallery-grid" aria-busy={props.loading}
      onPointerDown={onPointerDown} onPointerMove={onPointerMove} onPointerUp={cancel} onPointerCancel={cancel}
      onClick={onClick} onContextMenu={(e) => target(e) && e.preventDefault()}>
      {rows.map((row) => {
        if (row.kind === "day") return <h3 class="day" key={`day-${row.key}`} data-day={row.key}>{dayLabel(row.key, tag)}</h3>;
        const item = row.item;
        if (item.isDir) return <FolderTile key={itemKey(item)} item={item} thumbW={thumbW} onOpen={() => props.onFolder(item)} onMenu={() => props.onFolderMenu(item)} />;
        const m = item.marks;
        return (
          <button type="button" key={itemKey(item)} data-key={itemKey(item)} data-filename={item.filename} data-id={item.id}
            class={`tile${m.rejected ? " rejected" : ""}${m.favourite ? " favourite" : ""}`}
            aria-pressed={selection.active ? selected(item) : undefined} aria-label={label(item)}>
            <img src={thumbUrl(item, thumbW)} alt="" loading="lazy" decoding="async" width={thumbW} height={thumbW} draggable={false} />
            {m.favourite && <span class="mark fav" aria-hidden="true">★</span>}
            {m.rejected && <span class="mark rej" aria-hidden="true">✕</span>}
            {m.rating > 0 && <span class="dots" aria-hidden="true" data-rating={m.rating}>{dots(m.rating)}</span>}
            {selection.active && <span class="sel">{selected(item) && <Icon name="check" />}</span>}
          </button>
        );
      })}
    </div>
  );
}
