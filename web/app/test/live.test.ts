import { describe, expect, it } from "vitest";
import { concerns, GALLERY_FILE_EVENTS, JOB_EVENTS, parseGalleryEvent, parseJobEvent, parseWorkflowsChanged } from "../src/live";
import { JobStore } from "../src/jobs";

// what core/jobs/model.py's Job.to_dict() sends
const job = (extra: Record<string, unknown> = {}) => ({
  id: "j1",
  status: "running",
  queue_position: null,
  workflow: "w.json",
  username: "ann",
  session_id: null,
  node: "4",
  step: 3,
  total_steps: 6,
  percent: 50,
  images: [],
  error: null,
  created_at: 1000,
  finished_at: null,
  params: {},
  values: {},
  ...extra,
});
// what core/gallery/service.py publishes for a file change
const change = (event: string, extra: Record<string, unknown> = {}) => ({
  event,
  type: "output",
  subfolder: "",
  mtime: 1,
  item: { filename: "a.png", type: "output", subfolder: "", mtime: 1, id: 7, meta: { prompt: "a fox", model: "m.safetensors" } },
  prompt_id: null,
  ...extra,
});

describe("the jobs stream's events", () => {
  it("parses every job event the server sends", () => {
    for (const name of JOB_EVENTS.filter((n) => n !== "job.preview")) {
      const event = parseJobEvent(name, job());
      expect(event).toMatchObject({ type: name, job: { id: "j1", status: "running", step: 3, totalSteps: 6, percent: 50, node: "4" } });
    }
    const done = parseJobEvent("job.completed", job({ status: "completed", images: [{ filename: "a.png", subfolder: "", type: "output" }], from_record: true }));
    expect(done).toMatchObject({ type: "job.completed", job: { status: "completed", images: [{ filename: "a.png" }] } });
  });

  it("parses a preview (core/jobs/tracker.py)", () => {
    const data = { id: "j1", session_id: null, username: "ann", preview: 3, url: "/cozygen/api/jobs/j1/preview?n=3", step: 1, total_steps: 2, percent: 50 };
    expect(parseJobEvent("job.preview", data)).toEqual({ type: "job.preview", id: "j1", preview: "/cozygen/api/jobs/j1/preview?n=3" });
    expect(parseJobEvent("job.preview", { id: "j1", data: "data:image/jpeg;base64,xx" })).toEqual({ type: "job.preview", id: "j1", preview: "data:image/jpeg;base64,xx" });
  });

  it("refuses an event with a missing field", () => {
    const { id: _id, ...noId } = job();
    expect(parseJobEvent("job.progress", noId)).toBeNull();
    const { status: _status, ...noStatus } = job();
    expect(parseJobEvent("job.progress", noStatus)).toBeNull();
    expect(parseJobEvent("job.preview", { id: "j1", preview: 3 })).toBeNull();
    expect(parseJobEvent("job.preview", { url: "/x" })).toBeNull();
  });

  it("refuses an event with a field of the wrong type", () => {
    expect(parseJobEvent("job.progress", job({ id: 42 }))).toBeNull();
    expect(parseJobEvent("job.progress", job({ id: "" }))).toBeNull();
    expect(parseJobEvent("job.progress", job({ status: "done" }))).toBeNull();
    expect(parseJobEvent("job.progress", job({ status: 2 }))).toBeNull();
    expect(parseJobEvent("job.image", job({ images: "a.png" }))).toBeNull();
    expect(parseJobEvent("job.progress", "not json")).toBeNull();
    expect(parseJobEvent("job.progress", null)).toBeNull();
    expect(parseJobEvent("job.progress", [job()])).toBeNull();
  });

  it("refuses an event name the app does not know", () => {
    expect(parseJobEvent("job.created", job())).toBeNull();
    expect(parseJobEvent("reset", { event: "reset" })).toBeNull();
    expect(parseJobEvent("message", job())).toBeNull();
  });

  it("keeps lenient defaults for optional fields", () => {
    const event = parseJobEvent("job.queued", { id: "j1", status: "pending", percent: "half", node: null });
    expect(event).toMatchObject({ type: "job.queued", job: { id: "j1", status: "pending", percent: 0, node: null, images: [] } });
  });

  it("leaves the store unchanged by a malformed event", () => {
    const store = new JobStore();
    const seen: number[] = [];
    store.subscribe(() => seen.push(store.jobs.size));
    for (const [name, data] of [["job.progress", job({ id: 1 })], ["job.bogus", job()], ["job.preview", {}]] as const) {
      const event = parseJobEvent(name, data);
      if (event) store.dispatch(event);
    }
    expect(seen).toEqual([]);
    const event = parseJobEvent("job.progress", job());
    if (event) store.dispatch(event);
    expect(store.jobs.get("j1")?.status).toBe("running");
  });
});

describe("the gallery stream's events", () => {
  it("parses every file change", () => {
    for (const name of GALLERY_FILE_EVENTS) {
      expect(parseGalleryEvent(change(name))).toEqual({
        event: name,
        item: {
          filename: "a.png", subfolder: "", type: "output", id: 7, mtime: 1, isDir: false, prompt: "a fox", model: "m.safetensors",
          marks: { favourite: false, rejected: false, rating: 0 }, size: null, kind: null, width: null, height: null, created: null, // none sent
        },
        from: null,
      });
    }
    const moved = parseGalleryEvent(change("moved", { from: { filename: "b.png", type: "output", subfolder: "old", mtime: 1, id: 7 } }));
    expect(moved).toMatchObject({ event: "moved", item: { filename: "a.png" }, from: { filename: "b.png", subfolder: "old" } });
  });

  it("parses the whole-gallery events", () => {
    expect(parseGalleryEvent({ event: "reset" })).toEqual({ event: "reset" });
    expect(parseGalleryEvent({ event: "reindexed" })).toEqual({ event: "reindexed" });
  });

  it("refuses a file change with a missing field", () => {
    const { item: _item, ...noItem } = change("created");
    expect(parseGalleryEvent(noItem)).toBeNull();
    expect(parseGalleryEvent(change("created", { item: { type: "output", subfolder: "" } }))).toBeNull();
    expect(parseGalleryEvent({ item: change("created").item })).toBeNull();
  });

  it("refuses a field of the wrong type", () => {
    expect(parseGalleryEvent(change("created", { item: "a.png" }))).toBeNull();
    expect(parseGalleryEvent(change("created", { item: { filename: 7, type: "output" } }))).toBeNull();
    expect(parseGalleryEvent(change("created", { event: 1 }))).toBeNull();
    expect(parseGalleryEvent("reset")).toBeNull();
    expect(parseGalleryEvent(null)).toBeNull();
  });

  it("refuses an event name the app does not know", () => {
    expect(parseGalleryEvent(change("renamed"))).toBeNull();
    expect(parseGalleryEvent(change("file.created"))).toBeNull();
  });
});

describe("workflows.changed", () => {
  it("parses the server's payload and ignores anything else", () => {
    expect(parseWorkflowsChanged({ source: "editor", editor: "ann_0a1b", names: ["editor/a.json", 3] })).toEqual({ source: "editor", names: ["editor/a.json"] });
    expect(parseWorkflowsChanged({ source: "cozygen", editor: null, names: [] })).toEqual({ source: "cozygen", names: [] });
    expect(parseWorkflowsChanged({ source: "elsewhere" })).toBeNull();
    expect(parseWorkflowsChanged("editor")).toBeNull();
  });

  it("concerns the named editor workflows, or any of CozyGen's own", () => {
    const editor = { source: "editor" as const, names: ["editor/Portraits/face.json"] };
    expect(concerns(editor, "editor/Portraits/face.json")).toBe(true);
    expect(concerns(editor, "editor/other.json")).toBe(false);
    expect(concerns(editor, "portrait.json")).toBe(false);
    const own = { source: "cozygen" as const, names: [] };
    expect(concerns(own, "portrait.json")).toBe(true);
    expect(concerns(own, "editor/Portraits/face.json")).toBe(false);
  });
});
