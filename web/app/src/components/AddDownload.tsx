// "Add a download" (admins): a file of a Hugging Face repository (repo, file, revision) or a direct URL, the model
// folder it goes into (the model browser's folders) and its name there (the source's file name when empty).
import type { JSX } from "preact";
import { useEffect, useState } from "preact/hooks";
import { ApiError, modelLibrary, parseDownload, startDownload, type Download, type DownloadSource } from "../api";
import { downloadStore } from "../downloads";
import { t } from "../i18n";
import { Icon } from "./Icons";
import { Sheet } from "./Sheet";
import { clearToasts, message, toast } from "./ui";

const PICKLE = /\.(ckpt|pt|pth|bin)$/i;
const COMMON_FOLDERS = ["checkpoints", "loras", "vae", "text_encoders", "diffusion_models", "upscale_models", "controlnet", "embeddings"];

/** The file name a source gives when no name is typed (the server's default_name: the path's last segment). */
export function defaultName(source: DownloadSource | null): string {
  if (!source) return "";
  const path = source.kind === "hf" ? source.file : source.url.split(/[?#]/)[0].replace(/^[a-z]+:\/\/[^/]*/i, "");
  const last = path.split("/").filter(Boolean).pop() ?? "";
  try {
    return decodeURIComponent(last);
  } catch {
    return last;
  }
}

/** What the form holds as a source, or null while it is incomplete. */
export function formSource(kind: "hf" | "url", repo: string, file: string, revision: string, url: string): DownloadSource | null {
  if (kind === "url") return url.trim() ? { kind: "url", url: url.trim() } : null;
  return repo.trim() && file.trim() ? { kind: "hf", repo: repo.trim().replace(/^\/+|\/+$/g, ""), file: file.trim().replace(/^\/+/, ""), revision: revision.trim() || "main" } : null;
}

export function AddDownload({ initial, onClose, onQueued }: {
  initial?: { folder?: string; name?: string };
  onClose: () => void;
  onQueued?: (download: Download) => void;
}): JSX.Element {
  const [kind, setKind] = useState<"hf" | "url">("hf");
  const [repo, setRepo] = useState("");
  const [file, setFile] = useState("");
  const [revision, setRevision] = useState("");
  const [url, setUrl] = useState("");
  const [folders, setFolders] = useState<string[]>(() => (initial?.folder ? [initial.folder] : []));
  const [folder, setFolder] = useState(initial?.folder ?? "checkpoints");
  const [name, setName] = useState(initial?.name ?? "");
  const [sha, setSha] = useState("");
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    clearToasts(); // they would cover the form
    modelLibrary({ limit: 1 }).then(
      (lib) => {
        const names = lib.folders.map((f) => f.name);
        setFolders(names.length ? [...new Set([...(initial?.folder ? [initial.folder] : []), ...names])] : COMMON_FOLDERS);
        if (!initial?.folder && names.length && !names.includes(folder)) setFolder(names.includes("checkpoints") ? "checkpoints" : names[0]);
      },
      () => setFolders((cur) => (cur.length ? cur : COMMON_FOLDERS)),
    );
  }, []);
  const source = formSource(kind, repo, file, revision, url);
  const shown = name.trim() || defaultName(source);
  const submit = async (e: Event) => {
    e.preventDefault();
    if (!source || busy) return;
    setError("");
    setBusy(true);
    try {
      const made = await startDownload({ source, folder, name: name.trim() || undefined, sha256: sha.trim() || undefined });
      downloadStore.apply(made, true);
      toast(t("download.queuedToast", { name: made.name }));
      onQueued?.(made);
      onClose();
    } catch (err) {
      const existing = err instanceof ApiError ? parseDownload(err.body.download) : null;
      if (existing) {
        downloadStore.apply(existing, true);
        toast(t("download.already", { name: existing.name }));
        onClose();
      } else setError(message(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <Sheet title={t("download.addTitle")} onClose={onClose} id="add-download" wide>
      <form class="stack" onSubmit={submit} noValidate>
        <div class="seg" role="group" aria-label={t("download.sourceKind")}>
          <button type="button" id="source-hf" aria-pressed={kind === "hf"} onClick={() => setKind("hf")}>{t("download.huggingFace")}</button>
          <button type="button" id="source-url" aria-pressed={kind === "url"} onClick={() => setKind("url")}>{t("download.url")}</button>
        </div>
        {kind === "hf" ? (
          <>
            <div>
              <label for="dl-repo">{t("download.repo")}</label>
              <input id="dl-repo" value={repo} onInput={(e) => setRepo(e.currentTarget.value)} placeholder="owner/name" autocapitalize="none" autocomplete="off" spellcheck={false} required />
            </div>
            <div class="dl-two">
              <div>
                <label for="dl-file">{t("download.file")}</label>
                <input id="dl-file" value={file} onInput={(e) => setFile(e.currentTarget.value)} placeholder="my_model.safetensors" autocapitalize="none" autocomplete="off" spellcheck={false} required />
              </div>
              <div>
                <label for="dl-revision">{t("download.revision")}</label>
                <input id="dl-revision" value={revision} onInput={(e) => setRevision(e.currentTarget.value)} placeholder="main" autocapitalize="none" autocomplete="off" spellcheck={false} />
              </div>
            </div>
          </>
        ) : (
          <div>
            <label for="dl-url">{t("download.url")}</label>
            <input id="dl-url" type="url" inputMode="url" value={url} onInput={(e) => setUrl(e.currentTarget.value)} placeholder="https://" autocapitalize="none" autocomplete="off" spellcheck={false} required />
            <p class="hint small muted">{t("download.urlHint")}</p>
          </div>
        )}
        <div>
          <label for="dl-folder">{t("download.folder")}</label>
          <select id="dl-folder" value={folder} onChange={(e) => setFolder(e.currentTarget.value)}>
            {(folders.includes(folder) ? folders : [folder, ...folders]).map((f) => <option key={f} value={f}>{f}</option>)}
          </select>
        </div>
        <div>
          <label for="dl-name">{t("download.name")}</label>
          <input id="dl-name" value={name} onInput={(e) => setName(e.currentTarget.value)} placeholder={defaultName(source) || "my_model.safetensors"} autocapitalize="none" autocomplete="off" spellcheck={false} />
          <p class="hint small muted">{t("download.nameHint")}</p>
        </div>
        <div>
          <label for="dl-sha">{t("download.sha256")}</label>
          <input id="dl-sha" value={sha} onInput={(e) => setSha(e.currentTarget.value)} autocapitalize="none" autocomplete="off" spellcheck={false} maxLength={64} class="mono" />
        </div>
        {PICKLE.test(shown) && <p class="warn" role="note" id="dl-pickle">{t("download.pickleWarning")}</p>}
        {error && <p class="error" role="alert" id="dl-error">{error}</p>}
        <button type="submit" class="primary wide" id="dl-go" disabled={!source || busy}><Icon name="download" /> {t("download.start")}</button>
      </form>
    </Sheet>
  );
}
