// Settings → Models: the downloads (admins: running with progress and Cancel, the history, "Add a download") and
// the installed models (folder chips, search, size, date, short hash, preview; admins delete to the model trash
// and restore from it). Everyone else sees the installed models read-only.
import type { JSX } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import { deleteModel, modelLibrary, modelPreviewUrl, modelTrash, restoreModel, startDownload, type Download, type ModelFile, type ModelLibrary, type TrashedModel } from "../api";
import { AddDownload } from "../components/AddDownload";
import { DownloadProgress } from "../components/DownloadProgress";
import { Icon } from "../components/Icons";
import { Confirm, Sheet } from "../components/Sheet";
import { Spinner, TopBar, message, toast } from "../components/ui";
import { downloadStore, FINAL, formatBytes, useDownloads, useInstalled } from "../downloads";
import { t } from "../i18n";
import { formatDate } from "../labels";
import { navigate } from "../router";

const PAGE = 50;
/** A hash as a reader compares it at a glance: its first 10 hex digits. */
export const shortHash = (sha256: string): string => sha256.slice(0, 10);
/** A model's file name without its subfolders. */
const baseName = (name: string): string => name.split("/").pop() ?? name;

export function Models({ admin }: { admin: boolean }): JSX.Element {
  const [adding, setAdding] = useState(false);
  return (
    <>
      <TopBar title={t("models.title")} back={() => navigate("/cozygen/settings")} />
      {adding && <AddDownload onClose={() => setAdding(false)} />}
      <main class="stack models">
        {admin && <Downloads onAdd={() => setAdding(true)} />}
        <Library admin={admin} />
      </main>
    </>
  );
}

function Downloads({ onAdd }: { onAdd: () => void }): JSX.Element {
  const list = useDownloads();
  const [loaded, setLoaded] = useState(false);
  useEffect(() => {
    downloadStore.refresh().finally(() => setLoaded(true));
  }, []);
  const running = list.filter((d) => !FINAL.has(d.state));
  const history = list.filter((d) => FINAL.has(d.state));
  const retry = async (d: Download) => {
    if (!d.source) return;
    try {
      downloadStore.apply(await startDownload({ source: d.source, folder: d.folder, name: d.name, sha256: d.sha256Expected ?? undefined }), true);
    } catch (e) {
      toast(message(e));
    }
  };
  return (
    <section class="card group" aria-labelledby="m-downloads" id="downloads">
      <h3 id="m-downloads">{t("models.downloads")}</h3>
      {!loaded && list.length === 0 && <Spinner />}
      {loaded && running.length === 0 && <p class="small muted" style="margin:0 0 10px">{t("models.noneRunning")}</p>}
      {running.length > 0 && (
        <ul class="list dl-list" aria-label={t("models.running")}>
          {running.map((d) => (
            <li key={d.id} class="dl-item">
              <DownloadHead download={d} />
              <DownloadProgress download={d} />
            </li>
          ))}
        </ul>
      )}
      <button type="button" class="wide" id="add-download-open" style={running.length ? "margin-top:12px" : undefined} onClick={onAdd}>
        <Icon name="download" /> {t("download.addTitle")}
      </button>
      {history.length > 0 && (
        <details class="dl-history" id="download-history">
          <summary>
            <span class="grow">{t("models.history")}</span>
            <span class="count">{history.length}</span>
          </summary>
          <ul class="list dl-list">
            {history.map((d) => (
              <li key={d.id} class="dl-item" data-download={d.id} data-state={d.state}>
                <DownloadHead download={d} finished />
                {d.state === "failed" && <DownloadProgress download={d} compact onRetry={d.source ? () => void retry(d) : undefined} />}
              </li>
            ))}
          </ul>
        </details>
      )}
    </section>
  );
}

const STATE_KEYS = { queued: "download.queued", running: "download.running", done: "download.done", failed: "download.failed", cancelled: "download.cancelled" } as const;

/** A download's target and source (and, once finished, its state and when). */
function DownloadHead({ download: d, finished }: { download: Download; finished?: boolean }): JSX.Element {
  return (
    <div class="dl-head">
      <div class="row" style="gap:6px">
        <span class="grow dl-name">{baseName(d.name)}</span>
        {finished && d.state !== "failed" && <span class={`status dl-state ${d.state}`}>{t(STATE_KEYS[d.state])}</span>}
      </div>
      <div class="small muted dl-where">
        {d.folder}{d.name.includes("/") ? `/${d.name.slice(0, d.name.lastIndexOf("/"))}` : ""}{d.label ? ` · ${d.label}` : ""}
      </div>
      {finished && (
        <div class="small muted">
          {formatDate(d.finishedAt ?? d.createdAt)}{d.state === "done" && (d.total ?? d.done) ? ` · ${formatBytes(d.total ?? d.done)}` : ""}{d.createdBy ? ` · ${d.createdBy}` : ""}
        </div>
      )}
      {d.warning && d.state !== "cancelled" && <div class="warn small">{t("download.pickleWarning")}</div>}
    </div>
  );
}

function Library({ admin }: { admin: boolean }): JSX.Element {
  const [folder, setFolder] = useState("");
  const [search, setSearch] = useState("");
  const [query, setQuery] = useState("");
  const [library, setLibrary] = useState<ModelLibrary | null>(null);
  const [more, setMore] = useState(false);
  const [error, setError] = useState("");
  const [deleting, setDeleting] = useState<ModelFile | null>(null);
  const [trashOpen, setTrashOpen] = useState(false);
  const ticket = useRef(0);
  const load = async (offset = 0) => {
    const mine = ++ticket.current;
    try {
      const page = await modelLibrary({ folder: folder || undefined, q: query || undefined, limit: PAGE, offset: offset || undefined });
      if (mine !== ticket.current) return;
      setLibrary((cur) => (offset && cur ? { ...page, models: [...cur.models, ...page.models] } : page));
      setError("");
    } catch (e) {
      if (mine === ticket.current) setError(message(e));
    }
  };
  useEffect(() => void load(), [folder, query]);
  // the search box asks the server once typing pauses
  useEffect(() => {
    const timer = setTimeout(() => setQuery(search.trim()), 250);
    return () => clearTimeout(timer);
  }, [search]);
  // hashes arrive in the background: read the page again while some are missing
  useEffect(() => {
    if (!library?.hashing) return;
    const timer = setTimeout(() => void load(), 3000);
    return () => clearTimeout(timer);
  }, [library]);
  useInstalled(() => void load(), [folder, query]);
  const remove = async (m: ModelFile) => {
    setDeleting(null);
    try {
      const trashed = await deleteModel(m.folder, m.name);
      void load();
      toast(t("models.trashed", { name: baseName(m.name) }), trashed ? { label: t("common.undo"), run: () => void putBack(trashed.id) } : undefined);
    } catch (e) {
      toast(message(e));
    }
  };
  const putBack = async (id: string) => {
    try {
      await restoreModel(id);
      void load();
      toast(t("models.restored"));
    } catch (e) {
      toast(message(e));
    }
  };
  const total = library?.folders.reduce((n, f) => n + f.count, 0) ?? 0;
  return (
    <section class="card group" aria-labelledby="m-installed" id="model-browser">
      <div class="row" style="margin-bottom:10px">
        <h3 id="m-installed" class="grow" style="margin:0">{t("models.installed")}</h3>
        {admin && (
          <button type="button" class="ghost model-trash-open" id="model-trash-open" onClick={() => setTrashOpen(true)}><Icon name="trash" /> {t("models.trash")}</button>
        )}
      </div>
      <div class="chips counts model-folders" role="group" aria-label={t("models.folders")}>
        <button type="button" class="chip count-chip" aria-pressed={folder === ""} onClick={() => setFolder("")}>{t("models.allFolders")} <span class="n">{total}</span></button>
        {library?.folders.filter((f) => f.count > 0 || f.name === folder).map((f) => (
          <button type="button" key={f.name} class="chip count-chip" data-folder={f.name} aria-pressed={folder === f.name} onClick={() => setFolder(f.name)}>
            {f.name} <span class="n">{f.count}</span>
          </button>
        ))}
      </div>
      <div class="search" style="margin-top:10px">
        <Icon name="search" />
        <input id="model-search" type="search" value={search} onInput={(e) => setSearch(e.currentTarget.value)} placeholder={t("models.search")} aria-label={t("models.search")} autocapitalize="none" spellcheck={false} />
      </div>
      {error && <p class="error" role="alert">{error}</p>}
      {!library && !error && <Spinner />}
      {library && library.hashing > 0 && <p class="small muted" id="model-hashing" style="margin:10px 0 0">{t("models.hashing", { count: library.hashing })}</p>}
      {library && library.models.length === 0 && <p class="muted" style="margin:14px 0 0">{query ? t("models.noMatch") : t("models.none")}</p>}
      {library && library.models.length > 0 && (
        <ul class="list model-list" aria-label={t("models.installed")}>
          {library.models.map((m) => (
            <ModelRow key={`${m.folder}/${m.name}`} model={m} admin={admin} onDelete={() => setDeleting(m)} />
          ))}
        </ul>
      )}
      {library && library.models.length < library.total && (
        <button type="button" class="wide" style="margin-top:12px" disabled={more}
          onClick={() => { setMore(true); void load(library.models.length).finally(() => setMore(false)); }}>
          {t("models.showMore", { count: library.total - library.models.length })}
        </button>
      )}
      {deleting && (
        <Confirm title={t("models.deleteTitle", { name: baseName(deleting.name) })} text={t("models.deleteText")} yes={t("common.delete")} danger
          onYes={() => void remove(deleting)} onClose={() => setDeleting(null)} />
      )}
      {trashOpen && <ModelTrash onClose={() => setTrashOpen(false)} onRestored={() => void load()} />}
    </section>
  );
}

function ModelRow({ model: m, admin, onDelete }: { model: ModelFile; admin: boolean; onDelete: () => void }): JSX.Element {
  const [broken, setBroken] = useState(false);
  const sub = m.name.includes("/") ? m.name.slice(0, m.name.lastIndexOf("/") + 1) : "";
  return (
    <li class="model-row" data-model={`${m.folder}/${m.name}`}>
      <span class="thumbph model-thumb" aria-hidden="true">
        {m.preview && !broken ? <img src={modelPreviewUrl(m)} alt="" width={48} height={48} loading="lazy" onError={() => setBroken(true)} /> : <Icon name="image" />}
      </span>
      <div class="grow">
        <div class="model-name">{sub && <span class="muted">{sub}</span>}{baseName(m.name)}</div>
        <div class="small muted">
          {m.folder} · {formatBytes(m.size)} · {formatDate(m.mtime)}
        </div>
        <div class="small muted model-hash">
          {m.sha256 ? <span class="mono" title={m.sha256} data-sha256={m.sha256}>{t("models.hash", { hash: shortHash(m.sha256) })}</span> : t("models.hashPending")}
          {m.pickle && <span class="kind pickle" title={t("download.pickleWarning")}>{t("models.pickle")}</span>}
        </div>
      </div>
      {admin && (
        <button type="button" class="icon ghost model-delete" aria-label={t("models.deleteLabel", { name: baseName(m.name) })} title={t("common.delete")} onClick={onDelete}>
          <Icon name="trash" />
        </button>
      )}
    </li>
  );
}

/** The model trash: deleted models, each restorable where it was. */
function ModelTrash({ onClose, onRestored }: { onClose: () => void; onRestored: () => void }): JSX.Element {
  const [items, setItems] = useState<TrashedModel[] | null>(null);
  const [error, setError] = useState("");
  useEffect(() => {
    modelTrash().then(setItems, (e) => setError(message(e)));
  }, []);
  const put = async (item: TrashedModel) => {
    try {
      await restoreModel(item.id);
      setItems((cur) => (cur ?? []).filter((i) => i.id !== item.id));
      toast(t("models.restored"));
      onRestored();
    } catch (e) {
      setError(message(e));
    }
  };
  return (
    <Sheet title={t("models.trashTitle")} onClose={onClose} id="model-trash">
      <p class="small muted" style="margin:0">{t("models.trashHint")}</p>
      {error && <p class="error" role="alert">{error}</p>}
      {!items && !error && <Spinner />}
      {items?.length === 0 && <p class="muted">{t("common.nothingHere")}</p>}
      {items && items.length > 0 && (
        <ul class="list" aria-label={t("models.trashTitle")}>
          {items.map((item) => (
            <li key={item.id} class="row trashed-model" data-model={`${item.folder}/${item.name}`}>
              <div class="grow" style="overflow-wrap:anywhere">
                {baseName(item.name)}
                <span class="small muted" style="display:block">
                  {item.folder} · {formatBytes(item.size)} · {formatDate(item.deletedAt)}{item.deletedBy ? ` · ${item.deletedBy}` : ""}
                </span>
              </div>
              <button type="button" class="model-restore" onClick={() => void put(item)}><Icon name="redo" /> {t("models.restore")}</button>
            </li>
          ))}
        </ul>
      )}
    </Sheet>
  );
}
