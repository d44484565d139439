// One download's progress: what it is doing, its bytes, speed and time left (or its error), a bar, and Cancel
// while it is on its way or Retry when it failed. The view comes from the download store (download.changed).
import type { JSX } from "preact";
import { useEffect, useState } from "preact/hooks";
import { cancelDownload, type Download } from "../api";
import { describeDownload, downloadStore, FINAL } from "../downloads";
import { t } from "../i18n";
import { Icon } from "./Icons";
import { message, toast } from "./ui";

export function DownloadProgress({ download, onRetry, compact }: { download: Download; onRetry?: () => void; compact?: boolean }): JSX.Element {
  const [busy, setBusy] = useState(false);
  const [, tick] = useState(0);
  const final = FINAL.has(download.state);
  // while it runs, look again now and then: a transfer that stopped sending says so (no event comes then)
  useEffect(() => {
    if (download.state !== "running") return;
    const timer = setInterval(() => tick((n) => n + 1), 2000);
    return () => clearInterval(timer);
  }, [download.state]);
  const d = describeDownload(download, downloadStore.stalled(download));
  const cancel = async () => {
    setBusy(true);
    try {
      const after = await cancelDownload(download.id);
      if (after) downloadStore.apply(after, true);
    } catch (e) {
      toast(message(e));
    } finally {
      setBusy(false);
    }
  };
  return (
    <div class={`dl${compact ? " compact" : ""}`} data-download={download.id} data-state={download.state} aria-live="polite">
      <div class="row">
        <div class="grow dl-title">{d.title}</div>
        {!final && (
          <button type="button" class="danger dl-cancel" disabled={busy} onClick={() => void cancel()}>
            <Icon name="stop" /> {t("common.cancel")}
          </button>
        )}
        {download.state === "failed" && onRetry && (
          <button type="button" class="dl-retry" onClick={onRetry}><Icon name="redo" /> {t("download.retry")}</button>
        )}
      </div>
      {d.detail && <div class={download.state === "failed" ? "error dl-detail" : "small muted dl-detail"}>{d.detail}</div>}
      {!final && (
        <div class={`bar${d.percent === null ? " indeterminate" : ""}`} role="progressbar" aria-label={t("download.progress", { name: download.name })}
          aria-valuemin={0} aria-valuemax={100} aria-valuenow={d.percent === null ? undefined : Math.round(d.percent)}>
          <div style={{ width: `${d.percent ?? 30}%` }} />
        </div>
      )}
    </div>
  );
}
