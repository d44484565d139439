// The jobs this phone follows: one state per job, changed only by named events
// through a pure reducer (no framework imports), so that a late or replayed
// event can never move a finished job back to running.

import { getJob, isVideo, type Job, type JobStatus } from "./api";
import { downloadStore } from "./downloads";
import { ResumableStream } from "./events";
import { t } from "./i18n";
import { BACKEND_CHANGED, BACKEND_CHANGED_WINDOW_EVENT, DOWNLOAD_CHANGED, JOB_EVENTS, JOB_STREAM_URL, parseDownloadEvent, parseJobEvent, parseWorkflowsChanged, WORKFLOWS_CHANGED, WORKFLOWS_CHANGED_WINDOW_EVENT, type JobStreamEvent } from "./live";

export const TERMINAL: ReadonlySet<JobStatus> = new Set(["completed", "failed", "cancelled", "interrupted"]);

/** What moves a job: an event of the stream (live.ts), or the answer of a GET. */
export type JobEvent = JobStreamEvent | { type: "fetched"; job: Job };

const RANK: Record<JobStatus, number> = { pending: 0, running: 1, completed: 2, failed: 2, cancelled: 2, interrupted: 2 };

/**
 * The next state of one job. Every source moves a job forward only: the answer to
 * the POST that created it can arrive after the stream said it finished. A GET
 * (`fetched`) may also bring a finished job's fuller record, and may revive an
 * interrupted job that the server queued again.
 */
export function reduceJob(current: Job | undefined, event: JobEvent): Job | undefined {
  if (event.type === "job.preview") {
    if (!current || TERMINAL.has(current.status)) return current;
    return { ...current, preview: event.preview };
  }
  const next = event.job;
  if (!current) return { ...next };
  const fetched = event.type === "fetched";
  const revived = fetched && current.status === "interrupted" && !TERMINAL.has(next.status);
  if (!revived) {
    if (RANK[next.status] < RANK[current.status]) return current; // a late answer or event from before
    if (TERMINAL.has(current.status) && !fetched && event.type !== "job.image") return current;
  }
  const images = next.images.length >= current.images.length ? next.images : current.images;
  return { ...next, images, preview: TERMINAL.has(next.status) ? null : next.preview ?? current.preview };
}

/** What the progress panel shows for a job. */
export function describe(job: Job): { title: string; detail: string; percent: number } {
  switch (job.status) {
    case "pending":
      return { title: t("job.queued"), detail: job.queuePosition ? t("job.position", { position: job.queuePosition }) : t("job.waiting"), percent: 0 };
    case "running": {
      const steps = job.totalSteps ? t("job.step", { step: job.step, total: job.totalSteps }) : t("job.starting");
      const node = job.nodeTitle || t("job.node", { id: String(job.node) });
      return { title: t("job.generating", { percent: Math.round(job.percent) }), detail: job.node ? `${steps} · ${node}` : steps, percent: job.percent };
    }
    case "completed": {
      const key = job.images.length && job.images.every(isVideo) ? "job.videos" : "job.images";
      return { title: t("job.done"), detail: t(key, { count: job.images.length }), percent: 100 };
    }
    case "failed":
      return { title: t("job.failed"), detail: job.error ?? t("job.seeLog"), percent: job.percent };
    case "cancelled":
      return { title: t("job.cancelled"), detail: "", percent: job.percent };
    default:
      return { title: t("job.interrupted"), detail: t("job.interruptedDetail"), percent: job.percent };
  }
}

type Listener = () => void;

/** The app's job store: a map of followed jobs fed by the events stream. */
export class JobStore {
  jobs = new Map<string, Job>();
  private listeners = new Set<Listener>();
  private stream: ResumableStream | null = null;
  onFinished: ((job: Job) => void) | null = null;

  subscribe(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  dispatch(event: JobEvent): void {
    const id = event.type === "job.preview" ? event.id : event.job.id;
    if (!id) return;
    const before = this.jobs.get(id);
    const after = reduceJob(before, event);
    if (!after || after === before) return;
    this.jobs.set(id, after);
    if (before && !TERMINAL.has(before.status) && TERMINAL.has(after.status)) this.onFinished?.(after);
    this.listeners.forEach((l) => l());
  }

  connect(): void {
    if (this.stream) return;
    this.stream = new ResumableStream({
      url: JOB_STREAM_URL,
      events: [...JOB_EVENTS, WORKFLOWS_CHANGED, DOWNLOAD_CHANGED, BACKEND_CHANGED],
      onEvent: (name, data) => {
        if (name === WORKFLOWS_CHANGED) {
          const change = parseWorkflowsChanged(data);
          if (change) window.dispatchEvent(new CustomEvent(WORKFLOWS_CHANGED_WINDOW_EVENT, { detail: change }));
          return;
        }
        if (name === BACKEND_CHANGED) {
          window.dispatchEvent(new Event(BACKEND_CHANGED_WINDOW_EVENT)); // the screen reads the list again
          return;
        }
        if (name === DOWNLOAD_CHANGED) {
          const download = parseDownloadEvent(data);
          if (download) downloadStore.apply(download);
          else console.warn(`CozyGen: ignored a malformed ${name} event`, data);
          return;
        }
        const event = parseJobEvent(name, data);
        if (event) this.dispatch(event);
        else console.warn(`CozyGen: ignored a malformed ${name} event`, data);
      },
      onResume: () => {
        void this.refresh();
        void downloadStore.resume();
      },
    });
    this.stream.start();
  }

  disconnect(): void {
    this.stream?.stop();
    this.stream = null;
  }

  /** Re-reads every unfinished job (after the phone slept, say). */
  async refresh(): Promise<void> {
    const open = [...this.jobs.values()].filter((j) => !TERMINAL.has(j.status));
    await Promise.all(
      open.map(async (j) => {
        try {
          this.dispatch({ type: "fetched", job: await getJob(j.id) });
        } catch {
          // gone or offline: the next resume tries again
        }
      }),
    );
  }

  track(job: Job): void {
    this.dispatch({ type: "fetched", job });
  }
}

export const jobStore = new JobStore();
