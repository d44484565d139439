// Where to move the selection: the folders of its root, walked one level at a
// time, with "New folder" here; "Move here" moves into the folder shown.
import type { JSX } from "preact";
import { useEffect, useState } from "preact/hooks";
import { createFolder, galleryFolders, type GalleryItem, type GalleryRoot } from "../api";
import { Icon } from "./Icons";
import { Sheet } from "./Sheet";
import { Spinner, message } from "./ui";
import { t } from "../i18n";

export function MoveSheet({ root, count, start, onMove, onClose }: { root: GalleryRoot; count: number; start: string; onMove: (to: string) => void; onClose: () => void }): JSX.Element {
  const [path, setPath] = useState(start);
  const [folders, setFolders] = useState<GalleryItem[] | null>(null);
  const [error, setError] = useState("");
  const [naming, setNaming] = useState(false);
  const [name, setName] = useState("");
  useEffect(() => {
    setFolders(null);
    setError("");
    galleryFolders(root, path).then(setFolders, (e) => (path ? setPath("") : setError(message(e))));
  }, [root, path]);
  const create = async (e: Event) => {
    e.preventDefault();
    if (!name.trim()) return;
    try {
      const made = await createFolder(root, path, name.trim());
      setNaming(false);
      setName("");
      setPath(made || (path ? `${path}/${name.trim()}` : name.trim()));
    } catch (err) {
      setError(message(err));
    }
  };
  const parts = path ? path.split("/") : [];
  const here = parts.length ? parts[parts.length - 1] : root === "input" ? t("gallery.input") : t("gallery.output");
  return (
    <Sheet title={t("move.title", { count })} onClose={onClose} id="move-sheet">
      <nav class="crumbs" aria-label={t("gallery.folderNav")}>
        <button type="button" class="ghost" onClick={() => setPath("")}><Icon name="folder" /> {root === "input" ? t("gallery.input") : t("gallery.output")}</button>
        {parts.map((c, i) => (
          <span key={i} class="row" style="gap:4px">/ <button type="button" class="ghost" onClick={() => setPath(parts.slice(0, i + 1).join("/"))}>{c}</button></span>
        ))}
      </nav>
      {error && <p class="error" role="alert">{error}</p>}
      {!folders && !error && <Spinner />}
      {folders && (
        <ul class="list folder-list" aria-label={t("move.folders")}>
          {folders.length === 0 && <li class="muted small">{t("move.noSubfolders")}</li>}
          {folders.map((f) => (
            <li key={f.subfolder}>
              <button type="button" class="wide folder-row" data-move-folder={f.subfolder} onClick={() => setPath(f.subfolder)}>
                <Icon name="folder" /><span class="grow">{f.filename}</span><Icon name="chev" />
              </button>
            </li>
          ))}
        </ul>
      )}
      {naming ? (
        <form class="row" onSubmit={create}>
          <label for="move-new-name" class="sr-only">{t("folder.name")}</label>
          <input id="move-new-name" class="grow" value={name} onInput={(e) => setName(e.currentTarget.value)} placeholder={t("folder.name")} maxLength={120} autoComplete="off" />
          <button type="submit" class="primary">{t("folder.create")}</button>
        </form>
      ) : (
        <button type="button" class="wide" id="move-new-folder" onClick={() => setNaming(true)}><Icon name="plus" /> {t("folder.new")}</button>
      )}
      <button type="button" class="primary wide big" id="move-here" onClick={() => onMove(path)}><Icon name="move" /> {t("move.here", { name: here })}</button>
    </Sheet>
  );
}
