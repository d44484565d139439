// The live event streams, their event names and the parsers of their payloads.
//
// Like every HTTP answer (api.ts), an event's data is `unknown` until a parser
// here turns it into a typed event; a payload that is not what the server
// sends (a missing id, a wrong type, a name the app does not know) parses to
// null, and the screen ignores it.
//
// The names mirror the server: jobs in core/jobs/model.py (FINAL_EVENTS and the
// Change events) and core/jobs/tracker.py; gallery changes in
// core/gallery/service.py and core/gallery/sync.py; downloads in core/models/service.py; backends in
// core/backends/service.py.

import { isJobStatus, isObj, parseDownload, parseGalleryItem, parseJob, type Download, type GalleryItem, type Job } from "./api";

// ---- jobs: /cozygen/api/events, one named SSE event per change ---------------------------

export const JOB_STREAM_URL = "/cozygen/api/events?workflows=1"; // also workflows.changed

/** The named events of the jobs stream that the app listens to. */
export const JOB_EVENTS = [
  "job.queued",
  "job.started",
  "job.progress",
  "job.preview",
  "job.image",
  "job.completed",
  "job.failed",
  "job.cancelled",
  "job.interrupted",
] as const;
export type JobEventName = (typeof JOB_EVENTS)[number];
/** The events that carry the whole job (all but the preview). */
export type JobStateEventName = Exclude<JobEventName, "job.preview">;

export type JobStreamEvent = { type: JobStateEventName; job: Job } | { type: "job.preview"; id: string; preview: string };

export const isJobEventName = (name: string): name is JobEventName => (JOB_EVENTS as readonly string[]).includes(name);

/**
 * One event of the jobs stream, or null when it is malformed. A job event must
 * name the job (a non-empty string id) and a known status; a preview must name
 * its job and where the picture is.
 */
export function parseJobEvent(name: string, data: unknown): JobStreamEvent | null {
  if (!isJobEventName(name) || !isObj(data)) return null;
  if (name === "job.preview") {
    const job = isObj(data.job) ? data.job : data;
    const preview = [data.url, data.data, data.preview].find((p): p is string => typeof p === "string" && p !== "");
    return typeof job.id === "string" && job.id && preview ? { type: name, id: job.id, preview } : null;
  }
  const record = isObj(data.job) ? data.job : data;
  if (typeof record.id !== "string" || !record.id || !isJobStatus(record.status)) return null;
  if (record.images !== undefined && !Array.isArray(record.images)) return null;
  return { type: name, job: parseJob(data) };
}

// ---- workflows.changed: a workflow file was saved (in ComfyUI's editor, or CozyGen's folder) --------

export const WORKFLOWS_CHANGED = "workflows.changed";
/** The window event the jobs stream turns a workflows.changed into (the screens listen for it). */
export const WORKFLOWS_CHANGED_WINDOW_EVENT = "cozygen:workflows-changed";

/** Which workflows changed: the names of the caller's editor workflows (empty for CozyGen's own folder). */
export type WorkflowsChanged = { source: "editor" | "cozygen"; names: string[] };

export function parseWorkflowsChanged(data: unknown): WorkflowsChanged | null {
  if (!isObj(data) || (data.source !== "editor" && data.source !== "cozygen")) return null;
  const names = Array.isArray(data.names) ? data.names.filter((n): n is string => typeof n === "string") : [];
  return { source: data.source, names };
}

/** Whether a change concerns the workflow ``name`` (CozyGen's own folder reports no names: any of its files). */
export const concerns = (change: WorkflowsChanged, name: string): boolean =>
  change.source === "cozygen" ? !name.startsWith("editor/") : change.names.includes(name);

// ---- download.changed: a model download moved (admins' streams only), its whole view ------------

export const DOWNLOAD_CHANGED = "download.changed";

/** The download an event carries, or null when it lacks its id, target or a known state. */
export const parseDownloadEvent = (data: unknown): Download | null => parseDownload(data);

// ---- backend.changed: a backend's health or settings changed (admins' streams only), its whole view ------

export const BACKEND_CHANGED = "backend.changed";
/** The window event the jobs stream turns a backend.changed into (Settings → Backends listens for it). */
export const BACKEND_CHANGED_WINDOW_EVENT = "cozygen:backend-changed";

// ---- gallery: /cozygen/api/gallery/stream, unnamed SSE messages with an `event` field -----

export const GALLERY_STREAM_URL = "/cozygen/api/gallery/stream";
/** The gallery stream's events are unnamed: they all arrive as "message". */
export const GALLERY_STREAM_EVENTS = ["message"] as const;

/** File changes (core/gallery/sync.py), each naming the file. */
export const GALLERY_FILE_EVENTS = ["created", "modified", "deleted", "moved"] as const;
/** Whole-gallery events: a rescan finished, or the server can no longer replay what was missed. */
export const GALLERY_RESET_EVENTS = ["reindexed", "reset"] as const;
export type GalleryFileEventName = (typeof GALLERY_FILE_EVENTS)[number];
export type GalleryResetEventName = (typeof GALLERY_RESET_EVENTS)[number];

// one member per name, so that each check of `event` narrows
export type GalleryEvent =
  | { [K in GalleryFileEventName]: { event: K; item: GalleryItem; from: GalleryItem | null } }[GalleryFileEventName]
  | { [K in GalleryResetEventName]: { event: K } }[GalleryResetEventName];

const isFileEvent = (name: unknown): name is GalleryFileEventName => (GALLERY_FILE_EVENTS as readonly unknown[]).includes(name);
const isResetEvent = (name: unknown): name is GalleryResetEventName => (GALLERY_RESET_EVENTS as readonly unknown[]).includes(name);

/** One message of the gallery stream, or null when it is malformed (a file event must carry its file). */
export function parseGalleryEvent(data: unknown): GalleryEvent | null {
  if (!isObj(data)) return null;
  const name = data.event;
  if (isResetEvent(name)) return { event: name };
  if (!isFileEvent(name)) return null;
  const item = parseGalleryItem(data.item);
  if (!item) return null;
  return { event: name, item, from: parseGalleryItem(data.from) };
}
