// Sort and filter the gallery: by date, name, size or rating; by kind, model,
// size, date and marks; and whether the grid groups by day. Applied as a whole.
import type { JSX } from "preact";
import { useState } from "preact/hooks";
import type { KindFilter, RejectedMode, SortKey } from "../api";
import { DEFAULT_FILTERS, KINDS, SORTS, byDate, defaultOrder, type Filters } from "../gallery/filters";
import { Sheet } from "./Sheet";
import { t, type Key } from "../i18n";

const SORT_LABEL: Record<SortKey, Key> = { mtime: "sort.mtime", created: "sort.created", name: "sort.name", size: "sort.size", rating: "sort.rating" };
/** Each sort's two orders in words: [descending, ascending]. */
const ORDER_LABEL: Record<SortKey, [Key, Key]> = {
  mtime: ["sort.newest", "sort.oldest"],
  created: ["sort.newest", "sort.oldest"],
  name: ["sort.zToA", "sort.aToZ"],
  size: ["sort.largest", "sort.smallest"],
  rating: ["sort.best", "sort.worst"],
};
const KIND_LABEL: Record<KindFilter, Key> = { all: "filter.kindAll", image: "filter.kindImage", video: "filter.kindVideo", animated: "filter.kindAnimated" };
const REJECTED_LABEL: Record<RejectedMode, Key> = { hide: "filter.rejectedHide", show: "filter.rejectedShow", only: "filter.rejectedOnly" };

export const sortLabel = (f: Filters): string => `${t(SORT_LABEL[f.sort])} · ${t(ORDER_LABEL[f.sort][f.order === "desc" ? 0 : 1])}`;
/** The chip's words: the order alone says the sort, but for the date of creation (the default is modification). */
export const shortSortLabel = (f: Filters): string => (f.sort === "created" ? sortLabel(f) : t(ORDER_LABEL[f.sort][f.order === "desc" ? 0 : 1]));

export function FilterSheet({ filters, models, onApply, onClose }: { filters: Filters; models: { model: string; count: number }[]; onApply: (f: Filters) => void; onClose: () => void }): JSX.Element {
  const [f, setF] = useState<Filters>(filters);
  const set = (change: Partial<Filters>) => setF((cur) => ({ ...cur, ...change }));
  const seg = <T extends string | number>(label: string, values: readonly T[], current: T, text: (v: T) => string, pick: (v: T) => void, id: string) => (
    <div>
      <span class="label" id={`${id}-label`}>{label}</span>
      <div class="seg" role="group" aria-labelledby={`${id}-label`} id={id}>
        {values.map((v) => <button type="button" key={String(v)} aria-pressed={current === v} onClick={() => pick(v)}>{text(v)}</button>)}
      </div>
    </div>
  );
  return (
    <Sheet title={t("filter.title")} onClose={onClose} id="filter-sheet" wide>
      <div>
        <label for="f-sort">{t("sort.by")}</label>
        <select id="f-sort" value={f.sort} onChange={(e) => { const sort = e.currentTarget.value as SortKey; set({ sort, order: defaultOrder(sort) }); }}>
          {SORTS.map((s) => <option key={s} value={s}>{t(SORT_LABEL[s])}</option>)}
        </select>
      </div>
      {seg(t("sort.order"), defaultOrder(f.sort) === "desc" ? (["desc", "asc"] as const) : (["asc", "desc"] as const), f.order, (o) => t(ORDER_LABEL[f.sort][o === "desc" ? 0 : 1]), (order) => set({ order }), "f-order")}
      {seg(t("filter.kind"), KINDS, f.kind, (k) => t(KIND_LABEL[k]), (kind) => set({ kind }), "f-kind")}
      <div>
        <label for="f-model">{t("param.model")}</label>
        <select id="f-model" value={f.model} onChange={(e) => set({ model: e.currentTarget.value })}>
          <option value="">{t("filter.anyModel")}</option>
          {f.model && !models.some((m) => m.model === f.model) && <option value={f.model}>{f.model}</option>}
          {models.map((m) => <option key={m.model} value={m.model}>{m.model.replace(/\.(safetensors|ckpt|pt|gguf)$/i, "")} ({m.count})</option>)}
        </select>
      </div>
      <div class="filter-two">
        <div>
          <label for="f-min-size">{t("filter.minSize")}</label>
          <input id="f-min-size" type="number" inputMode="decimal" min={0} step="any" value={f.minMB} onInput={(e) => set({ minMB: e.currentTarget.value })} />
        </div>
        <div>
          <label for="f-max-size">{t("filter.maxSize")}</label>
          <input id="f-max-size" type="number" inputMode="decimal" min={0} step="any" value={f.maxMB} onInput={(e) => set({ maxMB: e.currentTarget.value })} />
        </div>
      </div>
      <div class="filter-two">
        <div>
          <label for="f-since">{t("filter.since")}</label>
          <input id="f-since" type="date" value={f.since} max={f.until || undefined} onInput={(e) => set({ since: e.currentTarget.value })} />
        </div>
        <div>
          <label for="f-until">{t("filter.until")}</label>
          <input id="f-until" type="date" value={f.until} min={f.since || undefined} onInput={(e) => set({ until: e.currentTarget.value })} />
        </div>
      </div>
      <div class="toggle">
        <label for="f-favourite">{t("filter.favourites")}</label>
        <input id="f-favourite" type="checkbox" role="switch" checked={f.favourite} onChange={(e) => set({ favourite: e.currentTarget.checked })} />
      </div>
      {seg(t("filter.rejected"), ["hide", "show", "only"] as const, f.rejected, (r) => t(REJECTED_LABEL[r]), (rejected) => set({ rejected }), "f-rejected")}
      {seg(t("filter.minRating"), [0, 1, 2, 3, 4, 5] as const, f.minRating, (n) => (n === 0 ? t("filter.anyRating") : `${n}★`), (minRating) => set({ minRating }), "f-rating")}
      <div class="toggle">
        <label for="f-days">{t("filter.groupByDay")}</label>
        <input id="f-days" type="checkbox" role="switch" checked={f.groupByDay && byDate(f.sort)} disabled={!byDate(f.sort)} onChange={(e) => set({ groupByDay: e.currentTarget.checked })} />
      </div>
      <div class="row sheet-foot">
        <button type="button" class="grow" id="f-reset" onClick={() => setF(DEFAULT_FILTERS)}>{t("filter.reset")}</button>
        <button type="button" class="grow primary" id="f-apply" onClick={() => { onApply(f); onClose(); }}>{t("common.apply")}</button>
      </div>
    </Sheet>
  );
}
