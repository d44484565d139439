import { describe, expect, it } from "vitest";
import { ResumableStream, resumeUrl, type EventLike, type SourceLike } from "../src/events";

class FakeSource implements SourceLike {
  readyState = 1;
  listeners = new Map<string, ((e: EventLike) => void)[]>();
  onerror: ((e: unknown) => void) | null = null;
  onopen: ((e: unknown) => void) | null = null;
  constructor(readonly url: string) {}
  addEventListener(type: string, l: (e: EventLike) => void) {
    this.listeners.set(type, [...(this.listeners.get(type) ?? []), l]);
  }
  close() {
    this.readyState = 2;
  }
  emit(type: string, data: unknown, id = "") {
    for (const l of this.listeners.get(type) ?? []) l({ data: JSON.stringify(data), lastEventId: id });
  }
}

function setup() {
  const sources: FakeSource[] = [];
  let clock = 0;
  const got: [string, unknown][] = [];
  let resumed = 0;
  const stream = new ResumableStream({
    url: "/cozygen/api/events?job_id=j",
    events: ["job.progress", "job.completed"],
    onEvent: (name, data) => got.push([name, data]),
    onResume: () => resumed++,
    factory: (url) => { const s = new FakeSource(url); sources.push(s); return s; },
    now: () => clock,
    staleAfter: 1000,
  });
  return { stream, sources, got, tick: (ms: number) => (clock += ms), resumed: () => resumed };
}

describe("resumable events", () => {
  it("adds last_event_id to the URL", () => {
    expect(resumeUrl("/e", null)).toBe("/e");
    expect(resumeUrl("/e", "a-1")).toBe("/e?last_event_id=a-1");
    expect(resumeUrl("/e?job_id=j", "a 2")).toBe("/e?job_id=j&last_event_id=a%202");
  });

  it("delivers named events and remembers the last id", () => {
    const { stream, sources, got } = setup();
    stream.start();
    sources[0].emit("job.progress", { percent: 50 }, "x-1");
    sources[0].emit("job.completed", { percent: 100 }, "x-2");
    expect(got).toEqual([["job.progress", { percent: 50 }], ["job.completed", { percent: 100 }]]);
    expect(stream.lastId).toBe("x-2");
  });

  it("reopens a dead stream from the last id and asks the caller to catch up", () => {
    const { stream, sources, resumed } = setup();
    stream.start();
    sources[0].emit("job.progress", {}, "x-7");
    expect(stream.resumeIfNeeded()).toBe(false); // alive and recent: nothing to do
    sources[0].close(); // the phone slept and the connection died
    expect(stream.resumeIfNeeded()).toBe(true);
    expect(sources).toHaveLength(2);
    expect(sources[1].url).toBe("/cozygen/api/events?job_id=j&last_event_id=x-7");
    expect(resumed()).toBe(1);
  });

  it("catches up after the stream comes back from an error", () => {
    const { stream, sources, resumed } = setup();
    stream.start();
    sources[0].onopen?.({});
    expect(resumed()).toBe(0);
    sources[0].onerror?.({}); // the browser reconnects by itself...
    sources[0].onopen?.({});
    expect(resumed()).toBe(1); // ...and the caller re-reads what it follows
    expect(sources).toHaveLength(1);
  });

  it("reopens a stream that went silent, and none after stop", () => {
    const { stream, sources, tick } = setup();
    stream.start();
    tick(1500);
    expect(stream.resumeIfNeeded()).toBe(true);
    expect(sources[0].readyState).toBe(2);
    stream.stop();
    tick(5000);
    expect(stream.resumeIfNeeded()).toBe(false);
  });
});
