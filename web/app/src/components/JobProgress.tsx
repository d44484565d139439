// The job this form sent: queue position, percent, node and steps, live
// preview, cancel, and the images when it is done (tap one for the viewer).
import type { JSX } from "preact";
import { useState } from "preact/hooks";
import { cancelJob, imageUrl, isVideo, thumbUrl, type Job } from "../api";
import { describe, TERMINAL } from "../jobs";
import { openViewer } from "../viewer";
import { Icon } from "./Icons";
import { message, toast } from "./ui";
import { t } from "../i18n";

export function JobProgress({ job }: { job: Job }): JSX.Element {
  const [cancelling, setCancelling] = useState(false);
  const d = describe(job);
  const done = TERMINAL.has(job.status);
  const cancel = async () => {
    setCancelling(true);
    try {
      await cancelJob(job.id);
    } catch (e) {
      toast(message(e));
    } finally {
      setCancelling(false);
    }
  };
  return (
    <section class="card progress" aria-live="polite" aria-label={t("progress.label")} data-status={job.status} data-job={job.id} id="job-progress">
      <div class="row">
        <div class="grow">
          <div id="job-title" style="font-weight:700">{d.title}</div>
          <div id="job-detail" class={job.status === "failed" ? "error" : "muted small"}>{d.detail}</div>
        </div>
        {!done && (
          <button type="button" class="danger" onClick={cancel} disabled={cancelling}>
            <Icon name="stop" /> {t("common.cancel")}
          </button>
        )}
      </div>
      <div class="bar" role="progressbar" aria-label={t("progress.label")} aria-valuemin={0} aria-valuemax={100} aria-valuenow={Math.round(d.percent)}>
        <div style={{ width: `${d.percent}%` }} />
      </div>
      {!done && job.preview && <img class="preview-img" src={job.preview} alt={t("progress.preview")} />}
      {job.images.length > 0 && (
        <div class={job.images.length === 1 ? "results one" : "results"} aria-label={t("progress.results")}>
          {job.images.map((img, i) => (
            <button type="button" key={img.filename + img.subfolder} aria-label={t("progress.open", { n: i + 1 })}
              onClick={() => openViewer({ items: job.images.map((ref) => ({ ref, job })), index: i })}>
              {job.images.length === 1 && isVideo(img) ? (
                <video src={imageUrl(img)} muted loop autoPlay playsInline aria-label={t("progress.result", { n: i + 1 })} width={512} height={512} />
              ) : (
                <img src={job.images.length === 1 ? imageUrl(img) : thumbUrl(img, 384)} alt={t("progress.result", { n: i + 1 })} width={512} height={512} />
              )}
            </button>
          ))}
        </div>
      )}
    </section>
  );
}
