// Two images compared: side by side, or one over the other with a divider to
// drag; below, the parameters that differ (changed words highlighted) and those
// that are the same. Full screen over the gallery; Back closes it.
import type { JSX } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import { compareImages, imageUrl, type Comparison, type GalleryItem, type Json } from "../api";
import { Icon } from "../components/Icons";
import { Spinner, message } from "../components/ui";
import { wordDiff } from "../gallery/diff";
import { fileStem, humanKey } from "../labels";
import { t } from "../i18n";

const show = (v: Json): string => (v === null ? "—" : Array.isArray(v) ? v.join(", ") : typeof v === "object" ? JSON.stringify(v) : String(v));

function Changed({ a, b }: { a: Json; b: Json }): JSX.Element {
  const [pa, pb] = typeof a === "string" && typeof b === "string" && (a.includes(" ") || b.includes(" ")) ? wordDiff(a, b) : [[{ text: show(a), changed: true }], [{ text: show(b), changed: true }]];
  const line = (tag: string, pieces: { text: string; changed: boolean }[]) => (
    <div class="cmp-val"><b class="cmp-tag" aria-hidden="true">{tag}</b><span>{pieces.map((p, i) => (p.changed ? <mark key={i}>{p.text}</mark> : <span key={i}>{p.text}</span>))}</span></div>
  );
  return <>{line("A", pa)}{line("B", pb)}</>;
}

function Slider({ a, b }: { a: GalleryItem; b: GalleryItem }): JSX.Element {
  const [pos, setPos] = useState(50);
  const box = useRef<HTMLDivElement>(null);
  const dragging = useRef(false);
  const follow = (e: PointerEvent) => {
    const r = box.current?.getBoundingClientRect();
    if (r && r.width > 0) setPos(Math.round(Math.min(100, Math.max(0, ((e.clientX - r.left) / r.width) * 100))));
  };
  const r = a.width && a.height ? a.width / a.height : 1;
  return (
    <div class="cmp-slider">
      <div class="cmp-stack" ref={box} style={{ aspectRatio: String(r), maxWidth: `calc(58dvh * ${r.toFixed(4)})` }} id="compare-slider"
        onPointerDown={(e) => { dragging.current = true; (e.currentTarget as HTMLElement).setPointerCapture(e.pointerId); follow(e); }}
        onPointerMove={(e) => dragging.current && follow(e)}
        onPointerUp={() => (dragging.current = false)} onPointerCancel={() => (dragging.current = false)}>
        <img src={imageUrl(a)} alt={t("compare.imageA", { name: fileStem(a.filename) })} draggable={false} />
        <img src={imageUrl(b)} alt={t("compare.imageB", { name: fileStem(b.filename) })} draggable={false} class="cmp-top" style={{ clipPath: `inset(0 0 0 ${pos}%)` }} />
        <span class="cmp-divider" style={{ left: `${pos}%` }} aria-hidden="true"><span class="cmp-handle"><Icon name="compare" /></span></span>
        <span class="cmp-corner left" aria-hidden="true">A</span>
        <span class="cmp-corner right" aria-hidden="true">B</span>
      </div>
      <label for="compare-divider" class="sr-only">{t("compare.divider")}</label>
      <input id="compare-divider" type="range" min={0} max={100} value={pos} onInput={(e) => setPos(Number(e.currentTarget.value))} />
    </div>
  );
}

export function Compare({ a, b, onClose }: { a: GalleryItem; b: GalleryItem; onClose: () => void }): JSX.Element {
  const [mode, setMode] = useState<"side" | "slider">("side");
  const [data, setData] = useState<Comparison | null>(null);
  const [error, setError] = useState("");
  useEffect(() => {
    if (a.id === undefined || b.id === undefined) return;
    compareImages(a.id, b.id).then(setData, (e) => setError(message(e)));
  }, [a.id, b.id]);
  // Back (the phone's, or the browser's) closes the comparison
  useEffect(() => {
    history.pushState({ compare: true }, "", location.href);
    const pop = () => onClose();
    window.addEventListener("popstate", pop);
    const esc = (e: KeyboardEvent) => e.key === "Escape" && history.back();
    window.addEventListener("keydown", esc);
    requestAnimationFrame(() => document.querySelector<HTMLElement>("#compare button")?.focus());
    return () => {
      window.removeEventListener("popstate", pop);
      window.removeEventListener("keydown", esc);
    };
  }, []);
  const meta = (m: Comparison["a"] | undefined) => (m?.width ? `${m.width} × ${m.height}` : "");
  return (
    <div class="compare" role="dialog" aria-modal="true" aria-label={t("compare.title")} id="compare">
      <div class="bar2">
        <button type="button" class="icon" aria-label={t("common.close")} onClick={() => history.back()}><Icon name="close" /></button>
        <h2 class="grow">{t("compare.title")}</h2>
        <div class="seg dark" role="group" aria-label={t("compare.view")}>
          <button type="button" aria-pressed={mode === "side"} onClick={() => setMode("side")}>{t("compare.sideBySide")}</button>
          <button type="button" aria-pressed={mode === "slider"} onClick={() => setMode("slider")}>{t("compare.slider")}</button>
        </div>
      </div>
      <div class="cmp-body">
        {mode === "side" ? (
          <div class="cmp-side">
            {[a, b].map((x, i) => (
              <figure key={i}>
                <img src={imageUrl(x)} alt={t(i ? "compare.imageB" : "compare.imageA", { name: fileStem(x.filename) })} />
                <figcaption><b>{i ? "B" : "A"}</b> {fileStem(x.filename)} <span class="muted">{meta(i ? data?.b : data?.a)}</span></figcaption>
              </figure>
            ))}
          </div>
        ) : <Slider a={a} b={b} />}
        <section class="cmp-params" aria-label={t("compare.differences")}>
          {error && <p class="error" role="alert">{error}</p>}
          {!data && !error && <Spinner />}
          {data && (
            <>
              <h3>{t("compare.differ", { count: data.differences.length })}</h3>
              {data.differences.length === 0 && <p class="muted">{t("compare.noDifference")}</p>}
              <ul class="cmp-list" id="compare-differences">
                {data.differences.map((d) => (
                  <li key={d.name} data-param={d.name}><div class="cmp-name">{humanKey(d.name)}</div><Changed a={d.a} b={d.b} /></li>
                ))}
              </ul>
              {data.same.length > 0 && (
                <details class="cmp-same">
                  <summary>{t("compare.same", { count: data.same.length })}</summary>
                  <dl>{data.same.map((s) => [<dt key={`${s.name}-t`}>{humanKey(s.name)}</dt>, <dd key={`${s.name}-d`}>{show(s.value)}</dd>])}</dl>
                </details>
              )}
            </>
          )}
        </section>
      </div>
    </div>
  );
}
