// The gallery: the output and input folders as tabs, an infinite grid of
// fixed-size thumbnails with their marks (grouped by day), search, sort and
// filters, marks counts, live updates, folders, and a selection (long press,
// ranges, all matching) with bulk actions and compare.
import type { JSX } from "preact";
import { useEffect, useReducer, useRef, useState } from "preact/hooks";
import { galleryModels, listingQueryString, type GalleryItem, type GalleryRoot } from "../api";
import { FilterSheet, shortSortLabel, sortLabel } from "../components/FilterSheet";
import { GalleryGrid } from "../components/GalleryGrid";
import { GalleryMenu, type MenuTarget } from "../components/GalleryMenu";
import { Icon } from "../components/Icons";
import { SelectionBar } from "../components/SelectionBar";
import { Trash } from "../components/Trash";
import { Empty, Spinner, TopBar } from "../components/ui";
import { DEFAULT_FILTERS, activeFilters, byDate, listingOf, takesNewFiles, type Filters } from "../gallery/filters";
import { applyMove, itemKey, markItems } from "../gallery/items";
import { stillListed, type Marks } from "../gallery/marks";
import { NO_SELECTION, selectionReducer } from "../gallery/selection";
import { useListing } from "../gallery/useListing";
import { formatNumber, t } from "../i18n";
import { navigate } from "../router";
import { usePrefs } from "../settings";
import { openViewer } from "../viewer";
import { Compare } from "./Compare";

/** The filter lasts while the app is open (switching tabs and folders keeps it). */
let kept: Filters = DEFAULT_FILTERS;

export function Gallery({ subfolder, root = "output" }: { subfolder: string; root?: GalleryRoot }): JSX.Element {
  const prefs = usePrefs();
  const [browse, setBrowse] = useState(subfolder !== "");
  const [search, setSearch] = useState("");
  const [query, setQuery] = useState("");
  const [filters, setFiltersState] = useState<Filters>(kept);
  const setFilters = (f: Filters) => setFiltersState((kept = f));
  const [sel, dispatch] = useReducer(selectionReducer, NO_SELECTION);
  const [sheet, setSheet] = useState<"trash" | "filters" | { menu: MenuTarget } | null>(null);
  const [comparing, setComparing] = useState<[GalleryItem, GalleryItem] | null>(null);
  const [models, setModels] = useState<{ model: string; count: number }[]>([]);
  useEffect(() => void galleryModels().then(setModels, () => setModels([])), []);
  useEffect(() => {
    const timer = setTimeout(() => setQuery(search.trim()), 300);
    return () => clearTimeout(timer);
  }, [search]);

  const folder = browse ? subfolder : "";
  const recursive = !browse || query !== "" || filters.model !== "";
  const place = { root, subfolder: folder, recursive, search: query };
  const listingQuery = listingOf(place, filters);
  const list = useListing(place, listingQuery, takesNewFiles(filters, query));
  useEffect(() => dispatch({ type: "end" }), [JSON.stringify(listingQuery)]);

  const sentinel = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const el = sentinel.current;
    if (!el || !list.hasMore || list.loading) return;
    const io = new IntersectionObserver((entries) => entries.some((e) => e.isIntersecting) && list.loadMore(), { rootMargin: "600px" });
    io.observe(el);
    return () => io.disconnect();
  }, [list.hasMore, list.loading]);

  const thumbW = prefs.thumbSize === "large" ? 512 : prefs.thumbSize === "small" ? 192 : 384;
  const shown = list.items.filter((i) => i.isDir || stillListed(i.marks, filters));
  const files = shown.filter((i) => !i.isDir);
  const order = files.map(itemKey);
  const chosen = sel.all ? [] : files.filter((i) => sel.keys.has(itemKey(i)));
  const count = sel.all ? list.total : chosen.length;
  const rootName = root === "input" ? t("gallery.input") : t("gallery.output");
  const crumbs = folder ? folder.split("/") : [];
  const goFolder = (path: string, to: GalleryRoot = root) => {
    const params = new URLSearchParams();
    if (to === "input") params.set("type", "input");
    if (path) params.set("subfolder", path);
    const text = params.toString();
    navigate(`/cozygen/gallery${text ? `?${text}` : ""}`);
  };
  const onMarked = (ref: { id?: number }, marks: Marks) => {
    list.setItems((cur) => cur.map((i) => (!i.isDir && i.id !== undefined && i.id === ref.id ? { ...i, marks } : i)));
    list.refreshCounts();
  };
  const open = (item: GalleryItem) => openViewer({
    items: files.map((ref) => ({ ref, marks: ref.marks })),
    index: files.indexOf(item),
    onDeleted: (ref) => list.setItems((cur) => cur.filter((x) => x.isDir || itemKey(x) !== itemKey(ref))),
    onRestored: () => list.reload(),
    onMarked,
  });
  const countChip = (id: string, pressed: boolean, text: string, label: string, toggle: () => void) => (
    <button type="button" class="chip count-chip" id={id} aria-pressed={pressed} aria-label={label} onClick={toggle}>{text}</button>
  );
  const c = list.counts;
  const nFilters = activeFilters(filters);

  return (
    <>
      <TopBar title={sel.active ? (sel.all ? t("bulk.allMatching", { count: list.total }) : t("bulk.selected", { count })) : t("nav.gallery")}>
        {sel.active ? (
          <>
            {!sel.all && <button type="button" class="labelled" id="select-all" onClick={() => dispatch({ type: "all" })} disabled={!files.length}><Icon name="all" /><span>{t("bulk.selectAll")}</span></button>}
            <button type="button" class="icon ghost" id="select-done" aria-label={t("gallery.done")} title={t("gallery.done")} onClick={() => dispatch({ type: "end" })}><Icon name="close" /></button>
          </>
        ) : (
          <>
            <button type="button" class="labelled" aria-label={t("trash.title")} title={t("gallery.trashHint")} onClick={() => setSheet("trash")}><Icon name="trash" /><span>{t("gallery.trashShort")}</span></button>
            <button type="button" class="ghost" onClick={() => dispatch({ type: "start" })} disabled={!files.length}>{t("gallery.select")}</button>
            <button type="button" class="icon ghost" id="gallery-menu-button" aria-label={t("gallery.menu")} onClick={() => setSheet({ menu: { folder, here: true } })}><Icon name="more" /></button>
          </>
        )}
      </TopBar>
      <main class={`stack${sel.active ? " with-selbar" : ""}`}>
        <div class="row gallery-where">
          <div class="seg tabs-root grow" role="tablist" aria-label={t("gallery.folderNav")}>
            {(["output", "input"] as const).map((r) => (
              <button type="button" role="tab" key={r} id={`tab-${r}`} aria-selected={root === r} onClick={() => root !== r && goFolder("", r)}>
                {r === "input" ? t("gallery.input") : t("gallery.output")}
              </button>
            ))}
          </div>
          <div class="seg view-seg" role="group" aria-label={t("gallery.view")}>
            <button type="button" aria-pressed={!browse} aria-label={t("gallery.all")} title={t("gallery.all")} onClick={() => { setBrowse(false); goFolder(""); }}><Icon name="grid" /></button>
            <button type="button" aria-pressed={browse} aria-label={t("gallery.folders")} title={t("gallery.folders")} onClick={() => setBrowse(true)}><Icon name="folder" /></button>
          </div>
        </div>
        <div class="row">
          <div class="search grow" role="search">
            <Icon name="search" />
            <label for="gallery-search" class="sr-only">{t("gallery.searchLabel")}</label>
            <input id="gallery-search" type="search" placeholder={t("gallery.searchPlaceholder")} value={search} onInput={(e) => setSearch(e.currentTarget.value)} enterKeyHint="search" />
          </div>
          <button type="button" class="icon filter-btn" id="filter-button" aria-label={nFilters ? t("filter.buttonSome", { count: nFilters }) : t("filter.title")} onClick={() => setSheet("filters")}>
            <Icon name="filter" />{nFilters > 0 && <span class="badge" aria-hidden="true">{nFilters}</span>}
          </button>
        </div>
        <div class="chips counts" role="group" aria-label={t("gallery.marksCounts")}>
          <button type="button" class="chip sort-chip" id="sort-chip" aria-label={t("filter.sortedBy", { sort: sortLabel(filters) })} onClick={() => setSheet("filters")}><Icon name="sort" />{shortSortLabel(filters)}</button>
          {c && (c.favourite > 0 || filters.favourite) && countChip("chip-favourite", filters.favourite, `★ ${formatNumber(c.favourite)}`, t("gallery.favouritesCount", { count: c.favourite }), () => setFilters({ ...filters, favourite: !filters.favourite }))}
          {c && (c.rejected > 0 || filters.rejected !== "hide") && countChip("chip-rejected", filters.rejected !== "hide", filters.rejected === "hide" ? t("gallery.rejectedHidden", { count: c.rejected }) : `✕ ${formatNumber(c.rejected)}`,
            t("gallery.showRejected", { count: c.rejected }), () => setFilters({ ...filters, rejected: filters.rejected === "hide" ? "show" : "hide" }))}
          {c && (c.rated > 0 || filters.minRating > 0) && countChip("chip-rated", filters.minRating > 0, t("gallery.ratedCount", { count: c.rated }), t("gallery.ratedOnly", { count: c.rated }), () => setFilters({ ...filters, minRating: filters.minRating > 0 ? 0 : 1 }))}
        </div>
        {browse && !query && (
          <nav class="crumbs" aria-label={t("gallery.folderNav")}>
            <button type="button" class="ghost" onClick={() => goFolder("")}><Icon name="folder" /> {rootName}</button>
            {crumbs.map((part, i) => (
              <span key={i} class="row" style="gap:4px">/ <button type="button" class="ghost" onClick={() => goFolder(crumbs.slice(0, i + 1).join("/"))}>{part}</button></span>
            ))}
          </nav>
        )}
        {list.error && <p class="error" role="alert">{list.error}</p>}
        <GalleryGrid items={shown} selection={sel} thumbW={thumbW} loading={list.loading}
          dayOf={filters.groupByDay && byDate(filters.sort) ? (i) => (filters.sort === "created" ? i.created ?? i.mtime ?? null : i.mtime ?? null) : null}
          onOpen={open} onTap={(i) => dispatch({ type: "tap", key: itemKey(i), order })} onPress={(i) => dispatch({ type: "press", key: itemKey(i), order })}
          onFolder={(i) => goFolder(i.subfolder)} onFolderMenu={(i) => setSheet({ menu: { folder: i.subfolder, here: false } })} />
        {!list.loading && !list.error && shown.length === 0 && <Empty>{query ? t("gallery.noMatch", { query }) : nFilters ? t("gallery.noneFiltered") : root === "input" ? t("gallery.emptyInput") : t("gallery.empty")}</Empty>}
        {list.loading && <Spinner />}
        <div ref={sentinel} style="height:1px" />
      </main>
      {sel.active && (
        <SelectionBar root={root} count={count} chosen={chosen} all={sel.all}
          selection={sel.all ? { query: listingQueryString(listingQuery) } : { ids: chosen.map((i) => i.id).filter((id): id is number => id !== undefined) }}
          onMarked={(change) => { list.setItems((cur) => markItems(cur, sel.all ? null : sel.keys, change)); list.refreshCounts(); }}
          onDeleted={(ids) => {
            if (ids === null) return list.reload();
            const gone = new Set(ids);
            list.setItems((cur) => cur.filter((i) => i.isDir || i.id === undefined || !gone.has(i.id)));
            list.refreshCounts();
          }}
          onMoved={(moved) => {
            if (moved === null) return list.reload();
            list.setItems((cur) => moved.reduce((acc, ref) => applyMove(acc, ref, null, place), cur));
            list.refreshCounts();
          }}
          onReload={list.reload} onEnd={() => dispatch({ type: "end" })} onCompare={(a, b) => setComparing([a, b])} />
      )}
      {sheet === "trash" && <Trash onClose={() => setSheet(null)} onRestored={list.reload} />}
      {sheet === "filters" && <FilterSheet filters={filters} models={models} onApply={setFilters} onClose={() => setSheet(null)} />}
      {sheet !== null && typeof sheet === "object" && (
        <GalleryMenu root={root} target={sheet.menu} recursive={recursive} onClose={() => setSheet(null)} onChanged={list.reload}
          onGoTo={(path) => { setSheet(null); goFolder(path); }} />
      )}
      {comparing && <Compare a={comparing[0]} b={comparing[1]} onClose={() => setComparing(null)} />}
    </>
  );
}
