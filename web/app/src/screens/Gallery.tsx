// The gallery: an infinite grid of fixed-size thumbnails (no layout shift),
// all images or folder by folder, search by prompt and model, live updates,
// multi-select delete with undo.
import type { JSX } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import { deleteImage, gallery, galleryModels, restore, thumbUrl, type GalleryItem, type ImageRef } from "../api";
import { Icon } from "../components/Icons";
import { Trash } from "../components/Trash";
import { Empty, Spinner, TopBar, message, toast } from "../components/ui";
import { ResumableStream } from "../events";
import { GALLERY_STREAM_EVENTS, GALLERY_STREAM_URL, parseGalleryEvent } from "../live";
import { fileStem } from "../labels";
import { navigate } from "../router";
import { usePrefs } from "../settings";
import { openViewer } from "../viewer";
import { t } from "../i18n";

const same = (a: ImageRef, b: ImageRef) => (a.id !== undefined && b.id !== undefined ? a.id === b.id : a.filename === b.filename && a.subfolder === b.subfolder);
const key = (i: ImageRef) => (i.id !== undefined ? `#${i.id}` : `${i.subfolder}/${i.filename}`);

/** A folder: a mosaic of its newest images (1 to 4) under its name, or the folder icon when it shows none. */
function FolderTile({ item, thumbW, onOpen }: { item: GalleryItem; thumbW: number; onOpen: () => void }): JSX.Element {
  const shown = (item.preview ?? []).slice(0, 4);
  return (
    <button type="button" class={`tile folder${shown.length ? " previewed" : ""}`} data-folder={item.subfolder} aria-label={t("gallery.folder", { name: item.filename })} onClick={onOpen}>
      {shown.length > 0 ? (
        <span class={`mosaic n${shown.length}`} aria-hidden="true">
          {shown.map((ref) => <img key={key(ref)} src={thumbUrl(ref, shown.length === 1 ? thumbW : 192)} alt="" loading="lazy" decoding="async" />)}
        </span>
      ) : <Icon name="folder" />}
      <span class="folder-name">{shown.length > 0 && <Icon name="folder" />}{item.filename}</span>
    </button>
  );
}

export function Gallery({ subfolder }: { subfolder: string }): JSX.Element {
  const prefs = usePrefs();
  const [browse, setBrowse] = useState(subfolder !== "");
  const [search, setSearch] = useState("");
  const [query, setQuery] = useState("");
  const [items, setItems] = useState<GalleryItem[]>([]);
  const [next, setNext] = useState<{ cursor: string | null; page: number } | null>(null);
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState("");
  const [selecting, setSelecting] = useState(false);
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const [showTrash, setShowTrash] = useState(false);
  const [models, setModels] = useState<{ model: string; count: number }[]>([]);
  const [model, setModel] = useState("");
  useEffect(() => {
    galleryModels().then(setModels, () => setModels([]));
  }, []);
  const sentinel = useRef<HTMLDivElement>(null);
  const generation = useRef(0);
  const recursive = !browse || query !== "" || model !== "";
  const folder = browse ? subfolder : "";

  const thumbW = prefs.thumbSize === "large" ? 512 : prefs.thumbSize === "small" ? 192 : 384;

  const load = async (reset: boolean) => {
    const gen = reset ? ++generation.current : generation.current;
    setLoading(true);
    setError("");
    try {
      const from = reset ? { cursor: null, page: 1 } : next;
      if (!from) return;
      const page = await gallery({ subfolder: folder, search: query || undefined, model: model || undefined, recursive, cursor: from.cursor, page: from.page, perPage: 48 });
      if (gen !== generation.current) return;
      setItems((cur) => {
        const base = reset ? [] : cur;
        const seen = new Set(base.map(key));
        return [...base, ...page.items.filter((i) => !seen.has(key(i)))];
      });
      setNext(page.next ? { cursor: page.next, page: page.page + 1 } : page.page < page.totalPages ? { cursor: null, page: page.page + 1 } : null);
    } catch (e) {
      if (gen === generation.current) setError(message(e));
    } finally {
      if (gen === generation.current) setLoading(false);
    }
  };

  useEffect(() => {
    const timer = setTimeout(() => setQuery(search.trim()), 300);
    return () => clearTimeout(timer);
  }, [search]);
  useEffect(() => {
    setItems([]);
    setNext(null);
    setSelected(new Set());
    void load(true);
  }, [folder, query, recursive, model]);

  // the next page when the end of the grid comes into view
  useEffect(() => {
    const el = sentinel.current;
    if (!el || !next || loading) return;
    const io = new IntersectionObserver((entries) => entries.some((e) => e.isIntersecting) && void load(false), { rootMargin: "600px" });
    io.observe(el);
    return () => io.disconnect();
  }, [next, loading]);

  // live: new images appear, deleted ones vanish
  useEffect(() => {
    const url = `${GALLERY_STREAM_URL}?recursive=${recursive ? "true" : "false"}${folder ? `&subfolder=${encodeURIComponent(folder)}` : ""}`;
    const stream = new ResumableStream({
      url,
      events: [...GALLERY_STREAM_EVENTS],
      onEvent: (_name, data) => {
        const ev = parseGalleryEvent(data);
        if (!ev) return void console.warn("CozyGen: ignored a malformed gallery event", data);
        if (ev.event === "reset") return void load(true);
        if (ev.event === "reindexed") return;
        const ref = ev.item;
        if (ev.event === "deleted" || ev.event === "moved") setItems((cur) => cur.filter((i) => !same(i, ref)));
        if ((ev.event === "created" || ev.event === "moved") && !query && !model && ref.type === "output")
          setItems((cur) => (cur.some((i) => same(i, ref)) ? cur : [ref, ...cur.filter((i) => i.isDir), ...cur.filter((i) => !i.isDir)].sort((a, b) => Number(b.isDir) - Number(a.isDir))));
      },
    });
    stream.start();
    return () => stream.stop();
  }, [folder, recursive, query, model]);

  const files = items.filter((i) => !i.isDir);
  const toggle = (item: GalleryItem) => {
    const k = key(item);
    const s = new Set(selected);
    if (s.has(k)) s.delete(k);
    else s.add(k);
    setSelected(s);
  };
  const removeSelected = async () => {
    const chosen = files.filter((i) => selected.has(key(i)));
    if (!chosen.length) return;
    const batches: string[] = [];
    const done: GalleryItem[] = [];
    for (const item of chosen) {
      try {
        const { batch } = await deleteImage(item);
        if (batch) batches.push(batch);
        done.push(item);
      } catch (e) {
        toast(message(e));
      }
    }
    setItems((cur) => cur.filter((i) => !done.some((d) => same(d, i))));
    setSelected(new Set());
    setSelecting(false);
    toast(t("gallery.deleted", { count: done.length }), batches.length ? {
      label: t("common.undo"),
      run: () => Promise.all(batches.map((b) => restore(b))).then(() => { toast(t("gallery.restored")); void load(true); }, (e) => toast(message(e))),
    } : undefined, 8000);
  };
  const crumbs = folder ? folder.split("/") : [];
  const goFolder = (path: string) => navigate(path ? `/cozygen/gallery?subfolder=${encodeURIComponent(path)}` : "/cozygen/gallery");

  return (
    <>
      <TopBar title={t("nav.gallery")}>
        {selecting ? (
          <>
            <button type="button" class="danger" disabled={!selected.size} onClick={removeSelected} id="delete-selected">
              <Icon name="trash" /> {selected.size ? t("gallery.deleteSome", { count: selected.size }) : t("common.delete")}
            </button>
            <button type="button" class="ghost" onClick={() => { setSelecting(false); setSelected(new Set()); }}>{t("gallery.done")}</button>
          </>
        ) : (
          <>
            <button type="button" class="labelled" aria-label={t("trash.title")} title={t("gallery.trashHint")} onClick={() => setShowTrash(true)}><Icon name="trash" /><span>{t("gallery.trashShort")}</span></button>
            <button type="button" class="ghost" onClick={() => setSelecting(true)} disabled={!files.length}>{t("gallery.select")}</button>
          </>
        )}
      </TopBar>
      <main class="stack">
        <div class="search" role="search">
          <Icon name="search" />
          <label for="gallery-search" class="sr-only">{t("gallery.searchLabel")}</label>
          <input id="gallery-search" type="search" placeholder={t("gallery.searchPlaceholder")} value={search} onInput={(e) => setSearch(e.currentTarget.value)} enterKeyHint="search" />
        </div>
        {models.length > 0 && (
          <div class="chips" role="group" aria-label={t("param.model")} style="margin-top:8px">
            {models.slice(0, 12).map((m) => (
              <button type="button" class="chip" key={m.model} aria-pressed={model === m.model} onClick={() => setModel(model === m.model ? "" : m.model)}
                style={model === m.model ? "background:var(--accent);color:var(--accent-fg);border-color:var(--accent)" : undefined}>
                {m.model.replace(/\.(safetensors|ckpt|pt|gguf)$/i, "")} <span class="muted small">{m.count}</span>
              </button>
            ))}
          </div>
        )}
        <div class="seg" role="group" aria-label={t("gallery.view")}>
          <button type="button" aria-pressed={!browse} onClick={() => { setBrowse(false); goFolder(""); }}>{t("gallery.all")}</button>
          <button type="button" aria-pressed={browse} onClick={() => setBrowse(true)}>{t("gallery.folders")}</button>
        </div>
        {browse && !query && (
          <nav class="crumbs" aria-label={t("gallery.folderNav")}>
            <button type="button" class="ghost" onClick={() => goFolder("")}><Icon name="folder" /> {t("gallery.output")}</button>
            {crumbs.map((c, i) => (
              <span key={i} class="row" style="gap:4px">/ <button type="button" class="ghost" onClick={() => goFolder(crumbs.slice(0, i + 1).join("/"))}>{c}</button></span>
            ))}
          </nav>
        )}
        {error && <p class="error" role="alert">{error}</p>}
        <div class="grid" id="gallery-grid" aria-busy={loading}>
          {items.map((item, i) =>
            item.isDir ? (
              <FolderTile key={key(item)} item={item} thumbW={thumbW} onOpen={() => goFolder(item.subfolder)} />
            ) : (
              <button type="button" class="tile" key={key(item)} data-filename={item.filename}
                aria-pressed={selecting ? selected.has(key(item)) : undefined}
                aria-label={item.prompt ? t("gallery.imagePrompt", { prompt: item.prompt }) : t("gallery.imageFile", { name: fileStem(item.filename) })}
                onClick={() => selecting ? toggle(item) : openViewer({
                  items: files.map((ref) => ({ ref })),
                  index: files.indexOf(items[i]),
                  onDeleted: (ref) => setItems((cur) => cur.filter((x) => !same(x, ref))),
                  onRestored: () => void load(true),
                })}>
                <img src={thumbUrl(item, thumbW)} alt="" loading="lazy" decoding="async" width={thumbW} height={thumbW} />
                {selecting && <span class="sel">{selected.has(key(item)) && <Icon name="check" />}</span>}
              </button>
            ),
          )}
        </div>
        {!loading && !error && items.length === 0 && <Empty>{query ? t("gallery.noMatch", { query }) : t("gallery.empty")}</Empty>}
        {loading && <Spinner />}
        <div ref={sentinel} style="height:1px" />
        {showTrash && <Trash onClose={() => setShowTrash(false)} onRestored={() => void load(true)} />}
      </main>
    </>
  );
}
