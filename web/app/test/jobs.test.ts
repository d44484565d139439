import { describe, expect, it } from "vitest";
import { parseJob, type Job } from "../src/api";
import { describe as describeJob, JobStore, reduceJob } from "../src/jobs";

const job = (status: string, extra: Record<string, unknown> = {}): Job => parseJob({ id: "j", status, ...extra });

describe("the job lifecycle", () => {
  it("moves forward through the stream's events", () => {
    let s = reduceJob(undefined, { type: "job.queued", job: job("pending", { queue_position: 2 }) });
    expect(describeJob(s!).detail).toBe("Position 2 in the queue");
    s = reduceJob(s, { type: "job.progress", job: job("running", { percent: 50, step: 3, total_steps: 6, node: "4" }) });
    expect(describeJob(s!)).toEqual({ title: "Generating · 50 %", detail: "Step 3 of 6 · node 4", percent: 50 });
    s = reduceJob(s, { type: "job.preview", id: "j", preview: "data:image/jpeg;base64,xx" });
    expect(s!.preview).toBe("data:image/jpeg;base64,xx");
    s = reduceJob(s, { type: "job.completed", job: job("completed", { percent: 100, images: [{ filename: "a.png" }] }) });
    expect(describeJob(s!).title).toBe("Done · 100 %");
    expect(s!.preview).toBeNull();
  });

  it("ignores a late event from before, and anything after the end", () => {
    const running = reduceJob(undefined, { type: "job.started", job: job("running") });
    expect(reduceJob(running, { type: "job.queued", job: job("pending") })).toBe(running);
    const done = reduceJob(running, { type: "job.completed", job: job("completed", { images: [{ filename: "a.png" }] }) });
    expect(reduceJob(done, { type: "job.progress", job: job("running") })).toBe(done);
    expect(reduceJob(done, { type: "job.preview", id: "j", preview: "x" })).toBe(done);
    expect(reduceJob(done, { type: "job.cancelled", job: job("cancelled") })).toBe(done);
  });

  it("keeps a finish the stream told before the POST answered", () => {
    const done = reduceJob(undefined, { type: "job.completed", job: job("completed", { images: [{ filename: "a.png" }] }) });
    expect(reduceJob(done, { type: "fetched", job: job("pending") })).toBe(done);
  });

  it("lets a GET revive an interrupted job the server queued again", () => {
    const lost = reduceJob(undefined, { type: "job.interrupted", job: job("interrupted") });
    expect(reduceJob(lost, { type: "fetched", job: job("pending") })!.status).toBe("pending");
  });

  it("takes a fetched job as the truth (a finish missed while asleep)", () => {
    const running = reduceJob(undefined, { type: "job.started", job: job("running") });
    const fetched = reduceJob(running, { type: "fetched", job: job("completed", { images: [{ filename: "a.png" }] }) });
    expect(fetched!.status).toBe("completed");
  });

  it("tells the store's listener when a job finishes", () => {
    const store = new JobStore();
    const finished: string[] = [];
    store.onFinished = (j) => finished.push(j.status);
    store.track(job("running"));
    store.dispatch({ type: "job.failed", job: job("failed", { error: "boom" }) });
    expect(finished).toEqual(["failed"]);
    expect(describeJob(store.jobs.get("j")!).detail).toBe("boom");
  });
});
