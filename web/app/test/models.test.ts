// Issue 19 on the phone: the download views and their reducer, the check's model sources, the model browser's
// answer, the server settings' secrets, and how a download reads (sizes, speed, time left) in two languages.
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { downloadMissing, parseCheck, parseDownload, parseModelLibrary, parseServerSettings, setFetcher, sourceLabel, startDownload, type Download } from "../src/api";
import { defaultName, formSource } from "../src/components/AddDownload";
import { getModel, missingWithSources } from "../src/components/MissingModels";
import { settingViews } from "../src/components/ServerSettings";
import { describeDownload, DownloadStore, downloadStore, formatBytes, formatDuration, formatSpeed, reduceDownload } from "../src/downloads";
import { setLanguage } from "../src/i18n";
import { DOWNLOAD_CHANGED, parseDownloadEvent } from "../src/live";
import { hrefFor, parseRoute } from "../src/router";
import { shortHash } from "../src/screens/Models";
import { modelsOnTheirWay } from "../src/screens/Workflows";

// what core/models/service.py's view holds
const view = (extra: Record<string, unknown> = {}) => ({
  id: "d1",
  folder: "checkpoints",
  name: "v1-5-pruned-emaonly.safetensors",
  source: { hf: { repo: "stable-diffusion-v1-5/stable-diffusion-v1-5", file: "v1-5-pruned-emaonly.safetensors", revision: "main" } },
  label: "stable-diffusion-v1-5/stable-diffusion-v1-5/v1-5-pruned-emaonly.safetensors",
  state: "running",
  done: 1_000_000_000,
  total: 4_000_000_000,
  percent: 25,
  speed: 12_500_000,
  eta: 240,
  sha256: null,
  sha256_expected: "6ce0161689b3853acaa03779ec93eafe75a02f4ced659bee03f50797806fa2fa",
  error: null,
  code: null,
  warning: null,
  created_by: "ada",
  created_at: 100,
  started_at: 101,
  finished_at: null,
  ...extra,
});
const parsed = (extra: Record<string, unknown> = {}): Download => {
  const d = parseDownload(view(extra));
  if (!d) throw new Error("the view did not parse");
  return d;
};
const reply = (status: number, body: unknown) => new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });

afterEach(() => {
  setFetcher((input, init) => fetch(input, init));
  downloadStore.items.clear();
});
afterAll(() => setLanguage("en"));

describe("a download's view", () => {
  it("parses what the service sends, and the event that carries it", () => {
    expect(parseDownload(view())).toMatchObject({
      id: "d1", folder: "checkpoints", state: "running", done: 1e9, total: 4e9, percent: 25, speed: 12.5e6, eta: 240,
      source: { kind: "hf", repo: "stable-diffusion-v1-5/stable-diffusion-v1-5", revision: "main" }, createdBy: "ada",
      sha256Expected: "6ce0161689b3853acaa03779ec93eafe75a02f4ced659bee03f50797806fa2fa",
    });
    expect(DOWNLOAD_CHANGED).toBe("download.changed");
    expect(parseDownloadEvent(view({ state: "done" }))?.state).toBe("done");
    expect(parseDownload({ download: view() })?.id).toBe("d1"); // a 409's body
    const url = parseDownload(view({ source: { url: "https://civitai.com/api/download/models/1" }, label: undefined }));
    expect(url?.source).toEqual({ kind: "url", url: "https://civitai.com/api/download/models/1" });
    expect(url?.label).toBe("https://civitai.com/api/download/models/1");
  });

  it("refuses a view without its id, target or a known state", () => {
    expect(parseDownload(view({ id: "" }))).toBeNull();
    expect(parseDownload(view({ state: "paused" }))).toBeNull();
    expect(parseDownload(view({ folder: 3 }))).toBeNull();
    expect(parseDownloadEvent("nope")).toBeNull();
  });

  it("reads a source as a line, without a query", () => {
    expect(sourceLabel({ kind: "hf", repo: "o/r", file: "a/b.safetensors", revision: "main" })).toBe("o/r/a/b.safetensors");
    expect(sourceLabel({ kind: "hf", repo: "o/r", file: "b.gguf", revision: "v2" })).toBe("o/r/b.gguf@v2");
    expect(sourceLabel({ kind: "url", url: "https://h.example/m.safetensors?x=1" })).toBe("https://h.example/m.safetensors");
  });
});

describe("the downloads' reducer and store", () => {
  it("moves a download forward only on events, and keeps a finished one finished", () => {
    const running = parsed();
    const queued = parsed({ state: "queued", done: 0, percent: 0 });
    expect(reduceDownload(running, queued, false)).toBe(running); // a late event
    expect(reduceDownload(running, queued, true)).toBe(queued); // the server queued it again (a restart)
    const done = parsed({ state: "done", done: 4e9, percent: 100 });
    expect(reduceDownload(running, done, false)).toBe(done);
    expect(reduceDownload(done, running, true)).toBe(done); // a stale GET after the event
    expect(reduceDownload(done, parsed({ state: "failed" }), false)).toBe(done);
    const further = parsed({ done: 2e9, percent: 50 });
    expect(reduceDownload(running, further, false)).toBe(further);
  });

  it("finds a target's newest download and tells who listens when one finishes", () => {
    const store = new DownloadStore();
    const finished: string[] = [];
    store.subscribe((after, before) => after?.state === "done" && before?.state !== "done" && finished.push(after.id));
    store.apply(parsed({ id: "old", state: "failed", created_at: 50 }), true);
    store.apply(parsed({ id: "new", created_at: 90 }), true);
    expect(store.forTarget("checkpoints", "v1-5-pruned-emaonly.safetensors")?.id).toBe("new");
    expect(store.forTarget("loras", "v1-5-pruned-emaonly.safetensors")).toBeUndefined();
    store.apply(parsed({ id: "new", state: "done", created_at: 90 }));
    store.apply(parsed({ id: "new", state: "done", created_at: 90 })); // the same again: no second call
    expect(finished).toEqual(["new"]);
    expect(store.list().map((d) => d.id)).toEqual(["new", "old"]);
  });
});

describe("a download that went quiet", () => {
  it("drops its speed and time left once the server has said nothing for a while", async () => {
    await setLanguage("en");
    const store = new DownloadStore();
    let now = 1000;
    store.now = () => now;
    store.apply(parsed(), true);
    const d = store.items.get("d1") as Download;
    expect(store.stalled(d)).toBe(false);
    now += 6000;
    expect(store.stalled(d)).toBe(true);
    expect(describeDownload(d, true).detail).toBe("1 GB of 4 GB · waiting for data");
    store.apply(parsed({ done: 2e9, percent: 50 }));
    expect(store.stalled(store.items.get("d1") as Download)).toBe(false);
    expect(store.stalled(parsed({ state: "queued" }))).toBe(false);
  });
});

describe("what a workflow lacks and where it comes from", () => {
  const check = parseCheck({
    ok: false,
    missing_nodes: [],
    missing_models: { checkpoints: ["v1-5-pruned-emaonly.safetensors"], loras: ["mine.safetensors"] },
    model_sources: [
      { folder: "checkpoints", name: "v1-5-pruned-emaonly.safetensors", known: true, source: view().source, label: "sd/v1-5", origin: "catalogue", sha256: "ab", download: view({ state: "failed", error: "boom" }) },
      { folder: "loras", name: "mine.safetensors", known: false, source: null, label: null, origin: null, sha256: null, download: null },
    ],
  });

  it("parses model_sources and a missing key", () => {
    expect(check.missingModels).toEqual(["checkpoints/v1-5-pruned-emaonly.safetensors", "loras/mine.safetensors"]);
    expect(check.modelSources[0]).toMatchObject({ folder: "checkpoints", label: "sd/v1-5", sha256: "ab", source: { kind: "hf" }, download: { state: "failed", error: "boom" } });
    expect(check.modelSources[1].source).toBeNull();
    expect(check.missingKey).toBeNull();
    expect(parseCheck({ ok: false, missing_key: "comfy_api_key" })).toMatchObject({ ok: false, missingKey: "comfy_api_key", modelSources: [] });
    expect(parseCheck({ ok: true }).modelSources).toEqual([]); // the list's warnings carry none
  });

  it("pairs each missing model with its source, none when the check named none", () => {
    const models = missingWithSources({ ...check, modelSources: [check.modelSources[0]] });
    expect(models.map((m) => [m.folder, m.name, m.source?.kind ?? null])).toEqual([
      ["checkpoints", "v1-5-pruned-emaonly.safetensors", "hf"],
      ["loras", "mine.safetensors", null],
    ]);
  });

  it("sums the downloads on their way for a card", () => {
    expect(modelsOnTheirWay(check.missingModels)).toEqual({ count: 0, percent: null });
    downloadStore.apply(parsed({ done: 1e9, total: 4e9 }), true);
    downloadStore.apply(parsed({ id: "d2", folder: "loras", name: "mine.safetensors", done: 1e9, total: 1e9, percent: 100 }), true);
    expect(modelsOnTheirWay(check.missingModels)).toEqual({ count: 2, percent: 40 });
    downloadStore.apply(parsed({ id: "d2", folder: "loras", name: "mine.safetensors", state: "done" }));
    expect(modelsOnTheirWay(check.missingModels)).toEqual({ count: 1, percent: 25 });
  });

  it("Get it follows the download that already exists (409 DOWNLOAD_EXISTS)", async () => {
    const sent: unknown[] = [];
    setFetcher(async (_input, init) => {
      sent.push(JSON.parse(String(init?.body)));
      return reply(409, { error: "already downloading", code: "DOWNLOAD_EXISTS", download: view({ id: "there" }) });
    });
    await getModel(check.modelSources[0]);
    expect(sent).toEqual([{ source: { hf: { repo: "stable-diffusion-v1-5/stable-diffusion-v1-5", file: "v1-5-pruned-emaonly.safetensors", revision: "main" } }, folder: "checkpoints", name: "v1-5-pruned-emaonly.safetensors", sha256: "ab" }]);
    expect(downloadStore.items.get("there")?.state).toBe("running");
  });

  it("Get all reads what was queued, unknown and refused", async () => {
    setFetcher(async (input, init) => {
      expect(input).toBe("/cozygen/api/downloads/missing");
      expect(JSON.parse(String(init?.body))).toEqual({ workflow: "sd15_txt2img.json" });
      return reply(200, { queued: [view({ state: "queued" })], unknown: [{ folder: "loras", name: "mine.safetensors" }], already: [], refused: [{ folder: "vae", name: "x.safetensors", error: "host not allowed", code: "HOST_NOT_ALLOWED" }] });
    });
    const answer = await downloadMissing("sd15_txt2img.json");
    expect(answer.queued.map((d) => d.state)).toEqual(["queued"]);
    expect(answer.unknown).toEqual([{ folder: "loras", name: "mine.safetensors" }]);
    expect(answer.refused).toEqual([{ folder: "vae", name: "x.safetensors", error: "host not allowed" }]);
  });
});

describe("Add a download", () => {
  it("builds the source and the name the server would give", () => {
    expect(formSource("hf", " owner/name/ ", "/sub/model.safetensors", "", "")).toEqual({ kind: "hf", repo: "owner/name", file: "sub/model.safetensors", revision: "main" });
    expect(formSource("hf", "owner/name", "", "", "")).toBeNull();
    expect(formSource("url", "", "", "", "  https://h.example/a%20b.safetensors?dl=1 ")).toEqual({ kind: "url", url: "https://h.example/a%20b.safetensors?dl=1" });
    expect(defaultName({ kind: "hf", repo: "o/r", file: "split_files/vae/ae.safetensors", revision: "main" })).toBe("ae.safetensors");
    expect(defaultName({ kind: "url", url: "https://h.example/a%20b.safetensors?dl=1" })).toBe("a b.safetensors");
    expect(defaultName({ kind: "url", url: "https://civitai.com/" })).toBe("");
    expect(defaultName(null)).toBe("");
  });

  it("posts only what was given", async () => {
    let body: unknown = null;
    setFetcher(async (_input, init) => {
      body = JSON.parse(String(init?.body));
      return reply(202, view({ state: "queued" }));
    });
    const made = await startDownload({ source: { kind: "url", url: "https://h.example/m.safetensors" }, folder: "loras" });
    expect(body).toEqual({ source: { url: "https://h.example/m.safetensors" }, folder: "loras" });
    expect(made.state).toBe("queued");
  });
});

describe("the model browser's answer", () => {
  it("parses folders, models and the hashing count", () => {
    const lib = parseModelLibrary({
      folders: [{ name: "checkpoints", count: 2 }, { name: "", count: 1 }],
      models: [
        { folder: "checkpoints", name: "sub/a.safetensors", size: 10, mtime: 5, sha256: null, preview: true, pickle: false },
        { folder: "checkpoints", name: "b.ckpt", size: 20, mtime: 6, sha256: "0123456789abcdef", preview: false, pickle: true },
        { name: "no folder" },
      ],
      total: 2,
      hashing: 1,
    });
    expect(lib.folders).toEqual([{ name: "checkpoints", count: 2 }]);
    expect(lib.models.map((m) => [m.name, m.preview, m.pickle, m.sha256])).toEqual([["sub/a.safetensors", true, false, null], ["b.ckpt", false, true, "0123456789abcdef"]]);
    expect(lib.hashing).toBe(1);
    expect(shortHash("0123456789abcdef")).toBe("0123456789");
  });
});

describe("the server's settings", () => {
  const answer = parseServerSettings({
    settings: { guard_comfyui: true, gallery_visibility: "shared", enrich_api_key_set: false, hf_token_set: true, civitai_api_key_set: false, comfy_api_key_set: false, download_hosts: "huggingface.co civitai.com", download_private_hosts: "", download_concurrency: 2, enrich_timeout: 8, brand_new: "x" },
    descriptions: { guard_comfyui: "g", gallery_visibility: "v", enrich_api_key: "k", hf_token: "t", civitai_api_key: "c", comfy_api_key: "ck", download_hosts: "h", download_private_hosts: "p", download_concurrency: "n", enrich_timeout: "s", brand_new: "new" },
    choices: { gallery_visibility: ["shared", "per_user"] },
  });

  it("shows each secret as write-only, set or not, and every other setting by its kind", () => {
    const views = Object.fromEntries(settingViews(answer).map((v) => [v.name, v]));
    expect(views.hf_token).toMatchObject({ kind: "secret", value: true, group: "downloads" });
    expect(views.comfy_api_key).toMatchObject({ kind: "secret", value: false, group: "cloud" });
    expect(views.civitai_api_key.kind).toBe("secret");
    expect(views.enrich_api_key.kind).toBe("secret");
    expect("hf_token_set" in views).toBe(false);
    expect(views.download_concurrency).toMatchObject({ kind: "number", value: 2, group: "downloads" });
    expect(views.download_hosts).toMatchObject({ kind: "text", value: "huggingface.co civitai.com" });
    expect(views.guard_comfyui.kind).toBe("bool");
    expect(views.gallery_visibility).toMatchObject({ kind: "choice", choices: ["shared", "per_user"] });
    expect(views.brand_new).toMatchObject({ kind: "text", group: "other" });
    expect(settingViews(answer).at(-1)?.name).toBe("brand_new");
  });
});

describe("how a download reads", () => {
  it("in English", async () => {
    await setLanguage("en");
    expect(formatBytes(4_300_000_000)).toBe("4.3 GB");
    expect(formatBytes(512_000_000)).toBe("512 MB");
    expect(formatBytes(999)).toBe("999 byte");
    expect(formatSpeed(12_500_000)).toBe("12.5 MB/s");
    expect(formatDuration(40)).toBe("40 sec");
    expect(formatDuration(121)).toBe("3 min");
    expect(formatDuration(3900)).toBe("1 hr 5 min");
    expect(describeDownload(parsed())).toEqual({ title: "Downloading… 25%", detail: "1 GB of 4 GB · 12.5 MB/s · 4 min left", percent: 25 });
    expect(describeDownload(parsed({ total: null, percent: null, eta: null }))).toEqual({ title: "Downloading…", detail: "1 GB · 12.5 MB/s", percent: null });
    expect(describeDownload(parsed({ state: "queued", done: 0 })).title).toBe("Waiting to start");
    expect(describeDownload(parsed({ state: "failed", error: "sha256 mismatch: expected ab, got cd" }))).toMatchObject({ title: "Failed", detail: "sha256 mismatch: expected ab, got cd" });
    expect(describeDownload(parsed({ state: "done" }))).toMatchObject({ title: "Installed", percent: 100 });
  });

  it("in Japanese", async () => {
    await setLanguage("ja");
    expect(describeDownload(parsed())).toEqual({ title: "ダウンロード中… 25%", detail: "1 GB / 4 GB · 12.5 MB/秒 · 残り 4 分", percent: 25 });
    expect(describeDownload(parsed({ state: "queued", done: 2_000_000 })).detail).toBe("2 MB から再開します");
    await setLanguage("en");
  });
});

describe("the Models screen's place", () => {
  it("is Settings → Models", () => {
    expect(parseRoute("/cozygen/settings/models")).toEqual({ screen: "models" });
    expect(parseRoute("/cozygen/settings")).toEqual({ screen: "settings" });
    expect(hrefFor({ screen: "models" })).toBe("/cozygen/settings/models");
  });
});
