// The models a workflow lacks, each with what an admin can do about it: "Get it" from its known source (the
// check's model_sources), its download's progress (download.changed), Retry after a failure, or "Add…" a source
// by hand when none is known; "Get all" queues every one with a source at once. When one finishes, the screen
// re-runs its check (useInstalled) and the model leaves the list.
import type { JSX } from "preact";
import { useEffect, useState } from "preact/hooks";
import { ApiError, downloadMissing, parseDownload, sourceLabel, startDownload, type CheckResult, type Download, type ModelSource } from "../api";
import { downloadStore, FINAL, targetKey, useDownloads } from "../downloads";
import { t } from "../i18n";
import { missingModel } from "../screens/Workflows";
import { AddDownload } from "./AddDownload";
import { DownloadProgress } from "./DownloadProgress";
import { Icon } from "./Icons";
import { message, toast } from "./ui";

/** Each missing model with its known source (none when the check named no source for it). */
export function missingWithSources(check: CheckResult): ModelSource[] {
  const known = new Map(check.modelSources.map((m) => [targetKey(m.folder, m.name), m]));
  return check.missingModels.map((path) => {
    const found = known.get(path);
    if (found) return found;
    const cut = path.indexOf("/");
    return { folder: path.slice(0, cut), name: path.slice(cut + 1), source: null, label: "", sha256: null, download: null };
  });
}

/** Queue one model's download; a download of it already on its way is followed instead. */
export async function getModel(model: ModelSource, onExists?: () => void): Promise<void> {
  if (!model.source) return;
  try {
    downloadStore.apply(await startDownload({ source: model.source, folder: model.folder, name: model.name, sha256: model.sha256 ?? undefined }), true);
  } catch (e) {
    const existing = e instanceof ApiError ? parseDownload(e.body.download) : null;
    if (existing) downloadStore.apply(existing, true);
    else if (e instanceof ApiError && e.code === "MODEL_EXISTS") onExists?.();
    else toast(message(e));
  }
}

export function MissingModels({ workflow, check, onInstalled }: { workflow: string; check: CheckResult; onInstalled: () => void }): JSX.Element {
  useDownloads(); // re-render on every download.changed
  const [adding, setAdding] = useState<ModelSource | null>(null);
  const [busy, setBusy] = useState(false);
  const models = missingWithSources(check);
  // what the check knew of each model's download, until the stream says more
  useEffect(() => {
    for (const m of check.modelSources) if (m.download) downloadStore.apply(m.download, true);
  }, [check]);
  const downloadOf = (m: ModelSource): Download | undefined => downloadStore.forTarget(m.folder, m.name);
  const gettable = models.filter((m) => m.source && !(downloadOf(m) && !FINAL.has(downloadOf(m)!.state)) && downloadOf(m)?.state !== "done");
  const getAll = async () => {
    setBusy(true);
    try {
      const answer = await downloadMissing(workflow);
      for (const d of [...answer.queued, ...answer.already]) downloadStore.apply(d, true);
      if (answer.refused.length) toast(`${answer.refused[0].name}: ${answer.refused[0].error}`);
      else if (answer.unknown.length) toast(t("models.noSourceFor", { count: answer.unknown.length }));
    } catch (e) {
      toast(message(e));
    } finally {
      setBusy(false);
    }
  };
  return (
    <>
      <ul class="list missing-list" aria-label={t("models.missingTitle")}>
        {models.map((m) => {
          const download = downloadOf(m);
          const onWay = download && !FINAL.has(download.state);
          const { name, hint } = missingModel(targetKey(m.folder, m.name));
          return (
            <li key={targetKey(m.folder, m.name)} class="mm" data-model={targetKey(m.folder, m.name)}>
              <div class="row">
                <div class="grow">
                  <div class="mm-name">{name} <small>{hint}</small></div>
                  <div class="small muted mm-source">{m.source ? m.label || sourceLabel(m.source) : t("models.noSource")}</div>
                </div>
                {!onWay && download?.state !== "done" && download?.state !== "failed" && (m.source ? (
                  <button type="button" class="primary mm-get" onClick={() => void getModel(m, onInstalled)}>
                    <Icon name="download" /> {t("models.getIt")}
                  </button>
                ) : (
                  <button type="button" class="mm-add" onClick={() => setAdding(m)}><Icon name="plus" /> {t("models.addSource")}</button>
                ))}
                {download?.state === "done" && <span class="ok small mm-done"><Icon name="check" /> {t("download.done")}</span>}
              </div>
              {download && download.state !== "done" && (download.state !== "cancelled") && (
                <DownloadProgress download={download} compact onRetry={() => void getModel({ ...m, source: download.source ?? m.source })} />
              )}
            </li>
          );
        })}
      </ul>
      {gettable.length > 0 && models.length > 1 && (
        <button type="button" class="wide mm-all" disabled={busy} onClick={() => void getAll()}>
          <Icon name="download" /> {t("models.getAll", { count: gettable.length })}
        </button>
      )}
      {adding && (
        <AddDownload initial={{ folder: adding.folder, name: adding.name }} onClose={() => setAdding(null)} onQueued={() => setAdding(null)} />
      )}
    </>
  );
}
