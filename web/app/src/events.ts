// Server-Sent Events that survive a phone locking or switching apps.
//
// EventSource reconnects by itself while the page lives, sending Last-Event-ID.
// A backgrounded phone may freeze or kill the connection without telling the
// page; so when the page becomes visible again (or the network comes back) a
// stream that is closed, or has been silent for longer than the server's
// heartbeat, is reopened with `?last_event_id=` (the server replays what was
// missed). Either way, and whenever the stream opens again after an error,
// `onResume` runs, for the caller to re-read state that may have changed while
// nothing was listening (a job that finished meanwhile).

export interface EventLike {
  readonly data: string;
  readonly lastEventId: string;
}
export interface SourceLike {
  readonly readyState: number;
  addEventListener(type: string, listener: (event: EventLike) => void): void;
  close(): void;
  onerror: ((event: unknown) => void) | null;
  onopen: ((event: unknown) => void) | null;
}
export type SourceFactory = (url: string) => SourceLike;

export interface StreamOptions {
  url: string;
  /** Named events to listen for; "message" receives unnamed ones. */
  events: string[];
  onEvent: (name: string, data: unknown) => void;
  onResume?: () => void;
  onStatus?: (connected: boolean) => void;
  factory?: SourceFactory;
  now?: () => number;
  /** Silence (ms) after which a visible page reopens the stream; the server sends a heartbeat every 15 s. */
  staleAfter?: number;
}

const CLOSED = 2;

/** The URL to (re)open: the base URL plus last_event_id when one was seen. */
export function resumeUrl(url: string, lastId: string | null): string {
  if (!lastId) return url;
  return `${url}${url.includes("?") ? "&" : "?"}last_event_id=${encodeURIComponent(lastId)}`;
}

export class ResumableStream {
  lastId: string | null = null;
  private source: SourceLike | null = null;
  private lastSeen = 0;
  private stopped = true;
  private readonly opts: Required<Pick<StreamOptions, "factory" | "now" | "staleAfter">> & StreamOptions;
  private broken = false;
  /** The page is visible again (or back online): reopen if needed, and catch up either way. */
  private readonly wake = () => {
    if (this.stopped || (typeof document !== "undefined" && document.visibilityState === "hidden")) return;
    if (!this.resumeIfNeeded()) this.opts.onResume?.();
  };

  constructor(opts: StreamOptions) {
    this.opts = {
      factory: (url) => new EventSource(url) as unknown as SourceLike,
      now: () => Date.now(),
      staleAfter: 40_000,
      ...opts,
    };
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.open();
    if (typeof document !== "undefined") {
      document.addEventListener("visibilitychange", this.wake);
      window.addEventListener("online", this.wake);
      window.addEventListener("pageshow", this.wake);
    }
  }

  stop(): void {
    this.stopped = true;
    this.source?.close();
    this.source = null;
    if (typeof document !== "undefined") {
      document.removeEventListener("visibilitychange", this.wake);
      window.removeEventListener("online", this.wake);
      window.removeEventListener("pageshow", this.wake);
    }
  }

  /** Reopens a dead or silent stream and asks the caller to catch up. */
  resumeIfNeeded(): boolean {
    if (this.stopped) return false;
    if (typeof document !== "undefined" && document.visibilityState === "hidden") return false;
    const dead = !this.source || this.source.readyState === CLOSED;
    const silent = this.opts.now() - this.lastSeen > this.opts.staleAfter;
    if (!dead && !silent) return false;
    this.source?.close();
    this.open();
    this.opts.onResume?.();
    return true;
  }

  private open(): void {
    const source = this.opts.factory(resumeUrl(this.opts.url, this.lastId));
    this.source = source;
    this.lastSeen = this.opts.now();
    const seen = (event: EventLike) => {
      this.lastSeen = this.opts.now();
      if (event.lastEventId) this.lastId = event.lastEventId;
    };
    for (const name of this.opts.events) {
      source.addEventListener(name, (event) => {
        seen(event);
        let data: unknown = null;
        try {
          data = JSON.parse(event.data);
        } catch {
          data = event.data;
        }
        this.opts.onEvent(name, data);
      });
    }
    source.onopen = () => {
      this.lastSeen = this.opts.now();
      this.opts.onStatus?.(true);
      if (this.broken) {
        // back after an error: what was missed may be older than the server's replay buffer
        this.broken = false;
        this.opts.onResume?.();
      }
    };
    source.onerror = () => {
      this.broken = true;
      this.opts.onStatus?.(false);
      // EventSource retries by itself unless it gave up (CLOSED): then retry later ourselves
      if (source.readyState === CLOSED && !this.stopped) setTimeout(() => this.source === source && this.resumeIfNeeded(), 3000);
    };
  }
}
