// The full-screen viewer: pinch or double-tap to zoom, swipe between images,
// the parameters that made one, download or share, re-run, send to img2img,
// delete with undo.
import type { JSX } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import { deleteImage, galleryId, imageMetadata, imageUrl, imageWorkflow, jobs, restore, saveImageWorkflow, toInput, workflows, type ImageMeta, type ImageRef, type Job, type Json } from "../api";
import { Icon } from "../components/Icons";
import { message, toast } from "../components/ui";
import { randomSeed } from "../form";
import { fileStem, formatDate, humanKey } from "../labels";
import { navigate } from "../router";
import { closeViewer, setHandoff, useViewer, type ViewerItem } from "../viewer";
import { prettyName } from "./Workflows";
import { t } from "../i18n";

interface Zoom {
  scale: number;
  x: number;
  y: number;
}
const NO_ZOOM: Zoom = { scale: 1, x: 0, y: 0 };
const VIDEO = /\.(mp4|webm|mov|mkv)$/i;

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
  if (!state || !items.length) return null;
  const item = items[Math.min(index, items.length - 1)];
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
        onNext={index < items.length - 1 ? () => setIndex(index + 1) : undefined} />
      <Info item={item} onDeleted={(ref) => { remove(ref); state.onDeleted?.(ref); }} onRestored={(ref) => state.onRestored?.(ref)} />
    </div>
  );
}

function Stage({ item, onPrev, onNext }: { item: ViewerItem; onPrev?: () => void; onNext?: () => void }): JSX.Element {
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
      if (Math.abs(dx) > 60 && Math.abs(dx) > Math.abs(dy) * 1.5) {
        if (dx < 0) onNext?.();
        else onPrev?.();
        return;
      }
      if (dy > 120 && Math.abs(dy) > Math.abs(dx) * 2) return closeViewer();
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
      {VIDEO.test(item.ref.filename) ? (
        <video id="viewer-video" src={imageUrl(item.ref)} controls playsInline loop autoPlay muted style="max-width:100%;max-height:100%" />
      ) : (
        <img id="viewer-image" src={imageUrl(item.ref)} alt={item.ref.filename} draggable={false}
          style={{ transform: `translate(${zoom.x}px, ${zoom.y}px) scale(${zoom.scale})`, transformOrigin: "center center" }} />
      )}
      {onPrev && <button type="button" class="nav prev icon" aria-label={t("viewer.previous")} onClick={onPrev}><Icon name="back" /></button>}
      {onNext && <button type="button" class="nav next icon" aria-label={t("viewer.next")} onClick={onNext}><Icon name="chev" /></button>}
    </div>
  );
}

const SHOWN = ["positive", "negative", "model", "seed", "steps", "cfg", "sampler", "scheduler", "denoise", "width", "height"];
const show = (v: Json): string => (Array.isArray(v) ? v.join(", ") : typeof v === "object" && v !== null ? JSON.stringify(v) : String(v));

async function findJob(ref: ImageRef, meta: ImageMeta | null, promptId: string | null): Promise<Job | null> {
  if (!promptId && !meta) return null;
  try {
    const { jobs: recent } = await jobs({ limit: 200 });
    return recent.find((j) => j.images.some((i) => i.filename === ref.filename && i.subfolder === ref.subfolder)) ?? null;
  } catch {
    return null;
  }
}

function Info({ item, onDeleted, onRestored }: { item: ViewerItem; onDeleted: (ref: ImageRef) => void; onRestored: (ref: ImageRef) => void }): JSX.Element {
  const [meta, setMeta] = useState<ImageMeta | null>(null);
  const [job, setJob] = useState<Job | null>(item.job ?? null);
  const [open, setOpen] = useState(false);
  const [carries, setCarries] = useState(false); // a workflow inside the file (a PNG from ComfyUI or CozyGen)
  const ref = item.ref;
  useEffect(() => {
    setCarries(false);
    if (ref.id === undefined || !/\.png$/i.test(ref.filename)) return;
    let live = true;
    imageWorkflow(ref.id).then(() => live && setCarries(true), () => undefined);
    return () => {
      live = false;
    };
  }, [ref.id, ref.filename]);
  useEffect(() => {
    setMeta(null);
    setJob(item.job ?? null);
    if (ref.id !== undefined) {
      imageMetadata(ref.id).then((m) => {
        setMeta(m);
        if (!item.job) findJob(ref, m, "x").then(setJob);
      }, () => undefined);
    } else if (!item.job) findJob(ref, null, "x").then(setJob);
  }, [ref.filename, ref.subfolder, ref.id]);

  const rows: [string, string][] = [];
  if (meta) for (const k of SHOWN) if (meta.fields[k] !== null && meta.fields[k] !== undefined && meta.fields[k] !== "") rows.push([k, show(meta.fields[k])]);
  const params = job?.params ?? meta?.params ?? {};
  if (!rows.length) for (const [k, v] of Object.entries(params)) rows.push([k, show(v)]);
  if (job?.workflow) rows.unshift(["workflow", prettyName(job.workflow)]);
  const made = job?.finishedAt ?? job?.createdAt ?? ref.mtime ?? null;
  if (made) rows.unshift(["date", formatDate(made)]);
  rows.push(["file", fileStem(ref.filename)]);

  const share = async () => {
    const url = new URL(imageUrl(ref), location.href).href;
    try {
      if (navigator.share) {
        const blob = await (await fetch(url)).blob();
        const file = new File([blob], ref.filename, { type: blob.type || "image/png" });
        if (navigator.canShare?.({ files: [file] })) await navigator.share({ files: [file], title: ref.filename });
        else await navigator.share({ url, title: ref.filename });
      } else if (navigator.clipboard) {
        await navigator.clipboard.writeText(url);
        toast(t("viewer.linkCopied"));
      } else window.open(url, "_blank", "noopener"); // plain HTTP on the LAN: no share sheet, no clipboard
    } catch (e) {
      if ((e as Error).name !== "AbortError") toast(message(e));
    }
  };
  const rerun = (newSeed: boolean) => {
    if (!job?.workflow) return;
    const values: Record<string, unknown> = { ...job.values, ...job.params };
    if (newSeed) for (const [k, v] of Object.entries(values)) if (/seed/i.test(k) && typeof v === "number") values[k] = randomSeed();
    setHandoff({ workflow: job.workflow, values, submit: true });
    closeViewer(true); // its history entry becomes the form's
    navigate(`/cozygen/generate/${encodeURIComponent(job.workflow)}`, true);
  };
  const sendToImg2img = async () => {
    try {
      const list = await workflows();
      const target = list.find((w) => w.kind === "i2i") ?? list.find((w) => w.kind === "i2v");
      if (!target) return toast(t("viewer.noImg2img"));
      const path = await toInput(ref);
      setHandoff({ workflow: target.name, image: path });
      closeViewer(true);
      navigate(`/cozygen/generate/${encodeURIComponent(target.name)}`, true);
    } catch (e) {
      toast(message(e));
    }
  };
  const openWorkflow = async () => {
    try {
      const id = ref.id ?? (await galleryId(ref));
      if (id === undefined) return toast(t("api.notIndexed"));
      const name = await saveImageWorkflow(id);
      toast(t("import.saved", { name }));
      closeViewer(true);
      navigate(`/cozygen/generate/${encodeURIComponent(name)}`, true);
    } catch (e) {
      toast(message(e));
    }
  };
  const remove = async () => {
    try {
      const { batch } = await deleteImage(ref);
      onDeleted(ref);
      toast(t("viewer.deleted"), batch ? { label: t("common.undo"), run: () => restore(batch).then(() => { onRestored(ref); toast(t("viewer.restored")); }, (e) => toast(message(e))) } : undefined, 8000);
    } catch (e) {
      toast(message(e));
    }
  };

  return (
    <div class="info">
      <div class="actions">
        <button type="button" onClick={() => setOpen(!open)} aria-expanded={open}><Icon name="info" /> {t("viewer.details")}</button>
        <a class="btn" href={imageUrl(ref)} download={ref.filename}><Icon name="download" /> {t("viewer.download")}</a>
        <button type="button" onClick={share}><Icon name="share" /> {t("viewer.share")}</button>
        <button type="button" onClick={() => rerun(false)} disabled={!job?.workflow}><Icon name="redo" /> {t("viewer.sameSeed")}</button>
        <button type="button" onClick={() => rerun(true)} disabled={!job?.workflow}><Icon name="dice" /> {t("viewer.newSeed")}</button>
        <button type="button" onClick={sendToImg2img}><Icon name="send" /> {t("viewer.img2img")}</button>
        {carries && <button type="button" id="viewer-open-workflow" onClick={openWorkflow}><Icon name="wand" /> {t("viewer.openWorkflow")}</button>}
        <button type="button" id="viewer-delete" onClick={remove} style="color:#ff8a80"><Icon name="trash" /> {t("common.delete")}</button>
      </div>
      {open && (
        <dl style="margin-top:12px" aria-label={t("viewer.parameters")}>
          {rows.map(([k, v]) => [<dt key={`${k}-t`}>{humanKey(k)}</dt>, <dd key={`${k}-d`}>{v}</dd>])}
          {meta?.width && <><dt>{humanKey("size")}</dt><dd>{meta.width} × {meta.height}</dd></>}
        </dl>
      )}
    </div>
  );
}
