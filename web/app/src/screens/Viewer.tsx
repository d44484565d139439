// The full-screen viewer: pinch or double-tap to zoom, swipe sideways between
// images, up to favourite and down to reject (or tap the marks), and the panel
// of components/ViewerInfo.tsx.
import type { JSX } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import { imageUrl, isVideo, setMarks, type ImageRef } from "../api";
import { Icon } from "../components/Icons";
import { Info } from "../components/ViewerInfo";
import { message, toast } from "../components/ui";
import { applyMarks, swipeOf, toggleFavourite, toggleRejected, type Marks, type MarksChange } from "../gallery/marks";
import { closeViewer, useViewer, type ViewerItem } from "../viewer";
import { t } from "../i18n";

/** What a mark did, shown over the image for a moment (and read out). */
type Flash = { icon: "star" | "reject"; on: boolean; text: string; n: number } | null;

interface Zoom {
  scale: number;
  x: number;
  y: number;
}
const NO_ZOOM: Zoom = { scale: 1, x: 0, y: 0 };

export function Viewer(): JSX.Element | null {
  const state = useViewer();
  const [index, setIndex] = useState(0);
  const [items, setItems] = useState<ViewerItem[]>([]);
  useEffect(() => {
    if (state) {
      setItems(state.items);
      setIndex(state.index);
    }
  }, [state]);
  useEffect(() => {
    if (!state) return;
    const keys = (e: KeyboardEvent) => {
      if (e.key === "Escape") closeViewer();
      else if (e.key === "ArrowRight") setIndex((i) => Math.min(i + 1, items.length - 1));
      else if (e.key === "ArrowLeft") setIndex((i) => Math.max(i - 1, 0));
    };
    window.addEventListener("keydown", keys);
    return () => window.removeEventListener("keydown", keys);
  }, [state, items.length]);
  useEffect(() => {
    if (!state) return;
    const before = document.activeElement as HTMLElement | null;
    requestAnimationFrame(() => document.querySelector<HTMLElement>("#viewer button")?.focus()); // keyboard users land in the viewer...
    return () => before?.focus?.(); // ...and back where they were
  }, [state]);
  const [flash, setFlash] = useState<Flash>(null);
  useEffect(() => {
    if (!flash) return;
    const timer = setTimeout(() => setFlash(null), 900);
    return () => clearTimeout(timer);
  }, [flash]);
  if (!state || !items.length) return null;
  const item = items[Math.min(index, items.length - 1)];
  const setItemMarks = (ref: ImageRef, marks: Marks) => setItems((cur) => cur.map((i) => (i.ref === ref ? { ...i, marks } : i)));
  // marks show at once; the server's answer confirms them (or puts them back)
  const mark = async (change: MarksChange) => {
    const { ref, marks: before } = item;
    if (!before || ref.id === undefined) return;
    const after = applyMarks(before, change);
    setItemMarks(ref, after);
    if (change.favourite !== undefined) setFlash({ icon: "star", on: after.favourite, text: t(after.favourite ? "marks.favourited" : "marks.unfavourited"), n: Date.now() });
    else if (change.rejected !== undefined) setFlash({ icon: "reject", on: after.rejected, text: t(after.rejected ? "marks.rejected" : "marks.unrejected"), n: Date.now() });
    try {
      const saved = await setMarks(ref.id, change);
      setItemMarks(ref, saved);
      state.onMarked?.(ref, saved);
    } catch (e) {
      setItemMarks(ref, before);
      toast(message(e));
    }
  };
  const swiped = item.marks ? (kind: "favourite" | "reject") => item.marks && void mark(kind === "favourite" ? toggleFavourite(item.marks) : toggleRejected(item.marks)) : undefined;
  const remove = (ref: ImageRef) => {
    const next = items.filter((i) => i.ref !== ref);
    if (!next.length) closeViewer();
    setItems(next);
    setIndex((i) => Math.min(i, Math.max(0, next.length - 1)));
  };
  return (
    <div class="viewer" role="dialog" aria-modal="true" aria-label={t("viewer.label")} id="viewer">
      <div class="bar2">
        <button type="button" class="icon" aria-label={t("common.close")} onClick={() => closeViewer()}><Icon name="close" /></button>
        <div class="count" aria-live="polite">{index + 1} / {items.length}</div>
      </div>
      <Stage key={item.ref.filename + item.ref.subfolder} item={item}
        onPrev={index > 0 ? () => setIndex(index - 1) : undefined}
        onNext={index < items.length - 1 ? () => setIndex(index + 1) : undefined}
        onSwipeMark={swiped} flash={flash} />
      <Info item={item} onDeleted={(ref) => { remove(ref); state.onDeleted?.(ref); }} onRestored={(ref) => state.onRestored?.(ref)} onMark={(c) => void mark(c)} onMarksKnown={(m) => setItemMarks(item.ref, m)} />
    </div>
  );
}

function Stage({ item, onPrev, onNext, onSwipeMark, flash }: { item: ViewerItem; onPrev?: () => void; onNext?: () => void; onSwipeMark?: (kind: "favourite" | "reject") => void; flash: Flash }): JSX.Element {
  const [zoom, setZoom] = useState<Zoom>(NO_ZOOM);
  const pointers = useRef(new Map<number, { x: number; y: number }>());
  const gesture = useRef<{ dist: number; scale: number; cx: number; cy: number; x: number; y: number; startX: number; startY: number } | null>(null);
  const lastTap = useRef(0);
  const ref = useRef<HTMLDivElement>(null);

  const onDown = (e: PointerEvent) => {
    if ((e.target as HTMLElement).tagName === "VIDEO" || (e.target as HTMLElement).closest("button")) return;
    (e.currentTarget as HTMLElement).setPointerCapture(e.pointerId);
    pointers.current.set(e.pointerId, { x: e.clientX, y: e.clientY });
    const pts = [...pointers.current.values()];
    if (pts.length === 2) {
      const [a, b] = pts;
      gesture.current = { dist: Math.hypot(a.x - b.x, a.y - b.y), scale: zoom.scale, cx: (a.x + b.x) / 2, cy: (a.y + b.y) / 2, x: zoom.x, y: zoom.y, startX: 0, startY: 0 };
    } else if (pts.length === 1) {
      gesture.current = { dist: 0, scale: zoom.scale, cx: e.clientX, cy: e.clientY, x: zoom.x, y: zoom.y, startX: e.clientX, startY: e.clientY };
    }
  };
  const onMove = (e: PointerEvent) => {
    if (!pointers.current.has(e.pointerId) || !gesture.current) return;
    pointers.current.set(e.pointerId, { x: e.clientX, y: e.clientY });
    const pts = [...pointers.current.values()];
    const g = gesture.current;
    if (pts.length === 2 && g.dist > 0) {
      const [a, b] = pts;
      const scale = Math.min(6, Math.max(1, (g.scale * Math.hypot(a.x - b.x, a.y - b.y)) / g.dist));
      const cx = (a.x + b.x) / 2;
      const cy = (a.y + b.y) / 2;
      setZoom({ scale, x: g.x + (cx - g.cx), y: g.y + (cy - g.cy) });
    } else if (pts.length === 1 && zoom.scale > 1) {
      setZoom({ ...zoom, x: g.x + (e.clientX - g.cx), y: g.y + (e.clientY - g.cy) });
    }
  };
  const onUp = (e: PointerEvent) => {
    const g = gesture.current;
    const wasSingle = pointers.current.size === 1;
    pointers.current.delete(e.pointerId);
    if (!wasSingle || !g) {
      if (pointers.current.size === 0) gesture.current = null;
      return;
    }
    const dx = e.clientX - g.startX;
    const dy = e.clientY - g.startY;
    gesture.current = null;
    if (zoom.scale <= 1.01) {
      const swipe = swipeOf(dx, dy);
      if (swipe === "next") return onNext?.();
      if (swipe === "previous") return onPrev?.();
      if (swipe && onSwipeMark) return onSwipeMark(swipe);
      if (swipe === "reject" && dy > 120) return closeViewer(); // no marks here (not in the gallery): down closes, as before
    }
    if (Math.abs(dx) < 10 && Math.abs(dy) < 10) {
      const now = Date.now();
      if (now - lastTap.current < 300) {
        // double tap: zoom to 2.5x around the tap, or back
        const box = ref.current?.getBoundingClientRect();
        if (zoom.scale > 1 || !box) setZoom(NO_ZOOM);
        else {
          const s = 2.5;
          const px = e.clientX - box.left - box.width / 2;
          const py = e.clientY - box.top - box.height / 2;
          setZoom({ scale: s, x: -px * (s - 1), y: -py * (s - 1) });
        }
        lastTap.current = 0;
      } else lastTap.current = now;
    }
  };
  const onWheel = (e: WheelEvent) => {
    e.preventDefault();
    setZoom((z) => {
      const scale = Math.min(6, Math.max(1, z.scale * (e.deltaY < 0 ? 1.15 : 1 / 1.15)));
      return scale === 1 ? NO_ZOOM : { ...z, scale };
    });
  };
  return (
    <div class="stage" ref={ref} onPointerDown={onDown} onPointerMove={onMove} onPointerUp={onUp} onPointerCancel={onUp} onWheel={onWheel}>
      {isVideo(item.ref) ? (
        <video id="viewer-video" src={imageUrl(item.ref)} controls playsInline loop autoPlay muted style="max-width:100%;max-height:100%" />
      ) : (
        <img id="viewer-image" src={imageUrl(item.ref)} alt={item.ref.filename} draggable={false}
          style={{ transform: `translate(${zoom.x}px, ${zoom.y}px) scale(${zoom.scale})`, transformOrigin: "center center" }} />
      )}
      {onPrev && <button type="button" class="nav prev icon" aria-label={t("viewer.previous")} onClick={onPrev}><Icon name="back" /></button>}
      {onNext && <button type="button" class="nav next icon" aria-label={t("viewer.next")} onClick={onNext}><Icon name="chev" /></button>}
      {flash && (
        <div class={`mark-flash ${flash.icon}${flash.on ? " on" : ""}`} key={flash.n} aria-hidden="true">
          <Icon name={flash.icon} filled={flash.icon === "star" && flash.on} /><span>{flash.text}</span>
        </div>
      )}
      <div class="sr-only" aria-live="assertive">{flash?.text ?? ""}</div>
    </div>
  );
}

