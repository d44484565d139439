import { describe, expect, it } from "vitest";
import { parseBackend, parseBackendCheck, parseBackendPins, parseBackendSummaries, parseBackendTest, parseJob, parseNoBackend } from "../src/api";
import { parseRoute, hrefFor } from "../src/router";
import { splitTags } from "../src/screens/Backends";

const attic = {
  id: "b1", name: "attic", url: "http://192.168.1.20:8188", local: false, auth: "bearer", auth_user: null, has_secret: true,
  enabled: true, max_jobs: 2, tags: ["sdxl", 5], subfolder: "backends/attic", active_jobs: 1, nodes_known: true,
  health: { state: "down", error: "connection refused", latency_ms: null, queue: { running: 0, pending: 3 }, comfyui_version: "0.3.75" },
};

describe("backends at the boundary", () => {
  it("parses a backend, keeping only what it knows and never a secret", () => {
    const b = parseBackend({ ...attic, secret: "leak" });
    expect(b).not.toBeNull();
    expect(b).toMatchObject({ id: "b1", name: "attic", auth: "bearer", hasSecret: true, maxJobs: 2, tags: ["sdxl"], activeJobs: 1 });
    expect(b?.health).toEqual({ state: "down", error: "connection refused", latencyMs: null, running: 0, pending: 3, comfyuiVersion: "0.3.75" });
    expect(JSON.stringify(b)).not.toContain("leak");
  });
  it("refuses what names no backend and reads odd values safely", () => {
    expect(parseBackend({ name: "x" })).toBeNull();
    expect(parseBackend(null)).toBeNull();
    const odd = parseBackend({ id: "local", name: "local", auth: "kerberos", health: { state: "melting" } });
    expect(odd).toMatchObject({ local: true, auth: "none", enabled: true, maxJobs: 1 });
    expect(odd?.health.state).toBe("unknown");
  });
  it("parses tests, checks, summaries and a 409 NO_BACKEND", () => {
    expect(parseBackendTest({ ok: true, latency_ms: 12.5, comfyui_version: "0.3.75", error: null, queue: { running: 1, pending: 0 }, nodes: 600 }))
      .toEqual({ ok: true, latencyMs: 12.5, comfyuiVersion: "0.3.75", error: null, running: 1, pending: 0, nodes: 600 });
    expect(parseBackendTest("nonsense").ok).toBe(false);
    const check = parseBackendCheck({ nodes_known: true, workflows: [{ workflow: "a.json", ok: false, missing: ["node CozyGenX", 3] }, { nope: 1 }, { workflow: "b.json", missing: [], error: "bad" }] });
    expect(check).toEqual({ nodesKnown: true, workflows: [{ workflow: "a.json", missing: ["node CozyGenX"], error: null }, { workflow: "b.json", missing: [], error: "bad" }] });
    expect(parseBackendSummaries({ backends: [{ id: "local", name: "local", state: "up", queue: { running: 1, pending: 2 } }, { name: "no id" }] }))
      .toEqual([{ id: "local", name: "local", state: "up", running: 1, pending: 2 }]);
    expect(parseNoBackend({ backends: [{ id: "b1", name: "attic", missing: ["model x.safetensors"], state: "up" }, "junk"] }))
      .toEqual([{ name: "attic", state: "up", missing: ["model x.safetensors"] }]);
  });
  it("parses pins, dropping what names no workflow or no backend", () => {
    const pins = parseBackendPins({ pins: [
      { workflow: "sub/blur.json", backend: "b1", name: "attic" }, { workflow: "x.json", backend: "local" },
      { workflow: "", backend: "b1" }, { workflow: "y.json", backend: 3 }, "nonsense",
    ] });
    expect(pins).toEqual([{ workflow: "sub/blur.json", backend: "b1", name: "attic" }, { workflow: "x.json", backend: "local", name: "local" }]);
    expect(parseBackendPins(null)).toEqual([]);
    expect(parseBackendPins({ pins: "x" })).toEqual([]);
  });
  it("reads a job's backend", () => {
    expect(parseJob({ id: "j", status: "running", backend: { id: "b1", name: "attic" } }).backend).toEqual({ id: "b1", name: "attic" });
    expect(parseJob({ id: "j", status: "running" }).backend).toBeNull();
    expect(parseJob({ id: "j", status: "running", backend: { id: 7 } }).backend).toBeNull();
  });
  it("splits tags and routes to the screen", () => {
    expect(splitTags(" SDXL, video  sdxl,,")).toEqual(["sdxl", "video"]);
    expect(parseRoute("/cozygen/settings/backends")).toEqual({ screen: "backends" });
    expect(hrefFor({ screen: "backends" })).toBe("/cozygen/settings/backends");
  });
});
