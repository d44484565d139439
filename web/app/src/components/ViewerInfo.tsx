// The viewer's panel under the image: its marks (favourite, reject, rating), its
// actions (details, download, share, re-run, img2img, use as input, open its
// workflow, delete with undo) and the parameters that made it.
import type { JSX } from "preact";
import { useEffect, useState } from "preact/hooks";
import { deleteImage, galleryId, imageMetadata, imageUrl, imageWorkflow, jobs, restore, saveImageWorkflow, toInput, workflows, type ImageMeta, type ImageRef, type Job, type Json } from "../api";
import type { Marks, MarksChange } from "../gallery/marks";
import { rateChange, toggleFavourite, toggleRejected } from "../gallery/marks";
import { Icon } from "./Icons";
import { message, toast } from "./ui";
import { randomSeed } from "../form";
import { fileStem, formatDate, humanKey } from "../labels";
import { navigate } from "../router";
import { closeViewer, setHandoff, type ViewerItem } from "../viewer";
import { prettyName } from "../screens/Workflows";
import { t } from "../i18n";

/** Favourite, reject and one to five stars, each a tap; the swipes that do the same, in a line. */
export function MarksBar({ marks, onMark }: { marks: Marks; onMark: (change: MarksChange) => void }): JSX.Element {
  return (
    <div class="marks-bar">
      <div class="row marks-row">
        <button type="button" class={`icon mark-btn fav${marks.favourite ? " on" : ""}`} id="viewer-favourite" aria-pressed={marks.favourite} aria-label={t("marks.favourite")} onClick={() => onMark(toggleFavourite(marks))}>
          <Icon name="star" filled={marks.favourite} />
        </button>
        <button type="button" class={`icon mark-btn rej${marks.rejected ? " on" : ""}`} id="viewer-reject" aria-pressed={marks.rejected} aria-label={t("marks.reject")} onClick={() => onMark(toggleRejected(marks))}>
          <Icon name="reject" />
        </button>
        <span class="grow" />
        <div class="stars" role="group" aria-label={t("marks.rating")} id="viewer-rating">
          {[1, 2, 3, 4, 5].map((n) => (
            <button type="button" key={n} class={`icon star-btn${n <= marks.rating ? " on" : ""}`} aria-pressed={n === marks.rating} aria-label={t("marks.stars", { count: n })} onClick={() => onMark(rateChange(marks, n))}>
              <Icon name="star" filled={n <= marks.rating} />
            </button>
          ))}
        </div>
      </div>
      <p class="gesture-hint" id="viewer-gestures">{t("viewer.gestures")}</p>
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

export function Info({ item, onDeleted, onRestored, onMark, onMarksKnown }: { item: ViewerItem; onDeleted: (ref: ImageRef) => void; onRestored: (ref: ImageRef) => void; onMark: (change: MarksChange) => void; onMarksKnown: (marks: Marks) => void }): JSX.Element {
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
        if (!item.marks && m.marks) onMarksKnown(m.marks); // opened from a job or the history: marks come from here
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
  const useAsInput = async () => {
    try {
      const path = await toInput(ref);
      toast(t("viewer.copiedToInput", { name: path }), {
        label: t("viewer.showInput"),
        run: () => { closeViewer(true); navigate("/cozygen/gallery?type=input", true); },
      }, 8000);
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
      {item.marks && <MarksBar marks={item.marks} onMark={onMark} />}
      <div class="actions">
        <button type="button" onClick={() => setOpen(!open)} aria-expanded={open}><Icon name="info" /> {t("viewer.details")}</button>
        <a class="btn" href={imageUrl(ref)} download={ref.filename}><Icon name="download" /> {t("viewer.download")}</a>
        <button type="button" onClick={share}><Icon name="share" /> {t("viewer.share")}</button>
        <button type="button" onClick={() => rerun(false)} disabled={!job?.workflow}><Icon name="redo" /> {t("viewer.sameSeed")}</button>
        <button type="button" onClick={() => rerun(true)} disabled={!job?.workflow}><Icon name="dice" /> {t("viewer.newSeed")}</button>
        <button type="button" onClick={sendToImg2img}><Icon name="send" /> {t("viewer.img2img")}</button>
        {ref.type !== "input" && <button type="button" id="viewer-to-input" onClick={useAsInput}><Icon name="input" /> {t("viewer.toInput")}</button>}
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
