// The model downloads this phone follows (admins): one view per download, moved
// by the download.changed events of the jobs stream (live.ts) and by GET
// answers through a pure reducer, so that a late event never moves a finished
// download back. Screens find a missing model's download by its target.

import { useEffect, useState } from "preact/hooks";
import { downloads, type Download, type DownloadState } from "./api";
import { formatNumber, t } from "./i18n";

export const FINAL: ReadonlySet<DownloadState> = new Set(["done", "failed", "cancelled"]);
const RANK: Record<DownloadState, number> = { queued: 0, running: 1, done: 2, failed: 2, cancelled: 2 };

/** "folder/name": a download's target, as a check names a missing model. */
export const targetKey = (folder: string, name: string): string => `${folder}/${name}`;

/**
 * The next view of one download. A finished download stays finished (a retry is a
 * new download with its own id). An event never moves it back (queued after
 * running is a late one); a GET answer may (the server queued it again after a
 * restart, resuming from its .part).
 */
export function reduceDownload(current: Download | undefined, next: Download, fetched: boolean): Download {
  if (!current) return next;
  if (FINAL.has(current.state) && !FINAL.has(next.state)) return current;
  if (FINAL.has(current.state) && FINAL.has(next.state) && !fetched) return current;
  if (!fetched && RANK[next.state] < RANK[current.state]) return current;
  return next;
}

type Listener = (changed: Download | null, before: Download | undefined) => void;

/** Running with no word from the server for this long: its speed and time left are old news. */
export const STALLED_MS = 5000;

export class DownloadStore {
  items = new Map<string, Download>();
  /** When each download's view last came (Date.now()). */
  private seenAt = new Map<string, number>();
  private listeners = new Set<Listener>();
  now: () => number = () => Date.now();

  subscribe(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** One view from an event (`fetched` false) or an answer. */
  apply(download: Download, fetched = false): void {
    const before = this.items.get(download.id);
    const after = reduceDownload(before, download, fetched);
    if (after === download) this.seenAt.set(download.id, this.now());
    if (after === before) return;
    this.items.set(after.id, after);
    this.listeners.forEach((l) => l(after, before));
  }

  applyAll(list: Download[]): void {
    for (const d of list) this.apply(d, true);
    this.listeners.forEach((l) => l(null, undefined));
  }

  /** The newest download of a target (its latest attempt). */
  forTarget(folder: string, name: string): Download | undefined {
    let newest: Download | undefined;
    for (const d of this.items.values()) if (d.folder === folder && d.name === name && (!newest || d.createdAt >= newest.createdAt)) newest = d;
    return newest;
  }

  /** Whether a running download has been silent long enough (the server sends progress only while bytes move). */
  stalled(download: Download): boolean {
    return download.state === "running" && this.now() - (this.seenAt.get(download.id) ?? this.now()) > STALLED_MS;
  }

  /** Newest first. */
  list(): Download[] {
    return [...this.items.values()].sort((a, b) => b.createdAt - a.createdAt);
  }

  /** Re-reads the queue and its history (a non-admin's 403 leaves the store as it is). */
  async refresh(): Promise<void> {
    try {
      this.applyAll(await downloads());
    } catch {
      // not an admin, or offline: the next resume tries again
    }
  }

  /** After the stream was away: re-read only when something was still on its way. */
  async resume(): Promise<void> {
    if ([...this.items.values()].some((d) => !FINAL.has(d.state))) await this.refresh();
  }
}

export const downloadStore = new DownloadStore();

/** Re-renders on every change of the store; returns the store's views newest first. */
export function useDownloads(): Download[] {
  const [list, setList] = useState(() => downloadStore.list());
  useEffect(() => {
    setList(downloadStore.list());
    return downloadStore.subscribe(() => setList(downloadStore.list()));
  }, []);
  return list;
}

/** Calls `onDone` with each download that finishes installing (its folder and name), while mounted. */
export function useInstalled(onDone: (download: Download) => void, deps: unknown[]): void {
  useEffect(
    () => downloadStore.subscribe((after, before) => after && after.state === "done" && before?.state !== "done" && onDone(after)),
    deps,
  );
}

// ---- how a download reads -------------------------------------------------------------------

const UNITS = ["byte", "kilobyte", "megabyte", "gigabyte", "terabyte"] as const;

/** 1000-based, as model hubs show sizes: "4.3 GB", "512 MB" (in the language's unit names). */
function scaled(bytes: number, per?: "second"): string {
  let value = Math.max(0, bytes);
  let unit = 0;
  while (value >= 1000 && unit < UNITS.length - 1) {
    value /= 1000;
    unit++;
  }
  const digits = unit === 0 || value >= 100 ? 0 : 1;
  return formatNumber(value, { style: "unit", unit: per ? `${UNITS[unit]}-per-${per}` : UNITS[unit], unitDisplay: "short", maximumFractionDigits: digits, minimumFractionDigits: 0 });
}
export const formatBytes = (bytes: number): string => scaled(bytes);
export const formatSpeed = (bytesPerSecond: number): string => scaled(bytesPerSecond, "second");

/** "40 sec", "3 min", "1 hr 5 min" (rounded up: a phone's ETA never promises too soon). */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.ceil(seconds));
  const unit = (n: number, u: string) => formatNumber(n, { style: "unit", unit: u, unitDisplay: "short" });
  if (s < 60) return unit(s, "second");
  const minutes = Math.ceil(s / 60);
  if (minutes < 60) return unit(minutes, "minute");
  const hours = Math.floor(minutes / 60);
  const rest = minutes % 60;
  return rest ? `${unit(hours, "hour")} ${unit(rest, "minute")}` : unit(hours, "hour");
}

/** A download's percent, from the server's or from its bytes (null while the size is unknown). */
export function downloadPercent(d: Download): number | null {
  if (d.state === "done") return 100;
  if (d.percent !== null) return Math.max(0, Math.min(100, d.percent));
  return d.total ? Math.max(0, Math.min(100, (d.done / d.total) * 100)) : null;
}

/** What a progress line shows: a title, the details (bytes, speed, time left or the error), the bar's percent. */
export function describeDownload(d: Download, stalled = false): { title: string; detail: string; percent: number | null } {
  const percent = downloadPercent(d);
  switch (d.state) {
    case "queued":
      return { title: t("download.queued"), detail: d.done ? t("download.resumes", { done: formatBytes(d.done) }) : "", percent: percent ?? 0 };
    case "running": {
      const parts = [d.total ? t("download.of", { done: formatBytes(d.done), total: formatBytes(d.total) }) : formatBytes(d.done)];
      if (stalled) parts.push(t("download.stalled"));
      else {
        if (d.speed !== null && d.speed > 0) parts.push(formatSpeed(d.speed));
        if (d.eta !== null && d.eta >= 0) parts.push(t("download.left", { time: formatDuration(d.eta) }));
      }
      const title = percent === null ? t("download.running") : t("download.percent", { percent: Math.floor(percent) });
      return { title, detail: parts.join(" · "), percent };
    }
    case "done":
      return { title: t("download.done"), detail: d.total ?? d.done ? formatBytes(d.total ?? d.done) : "", percent: 100 };
    case "failed":
      return { title: t("download.failed"), detail: d.error ?? d.code ?? "", percent };
    default:
      return { title: t("download.cancelled"), detail: "", percent };
  }
}
