import { afterEach, describe, expect, it } from "vitest";
import { ApiError, authStatus, parseJob, request, setFetcher, submitJob, workflowKind } from "../src/api";

const reply = (status: number, body: unknown, headers: Record<string, string> = {}) =>
  new Response(typeof body === "string" ? body : JSON.stringify(body), { status, headers: { "Content-Type": "application/json", ...headers } });

afterEach(() => setFetcher((input, init) => fetch(input, init)));

describe("the API client", () => {
  it("turns a 400 with fields into an ApiError naming them", async () => {
    setFetcher(async () => reply(400, { error: "1 invalid value: steps: 500 is above the maximum 50", code: "INVALID_VALUES", fields: { steps: "500 is above the maximum 50" } }));
    const error = await submitJob({ workflow: "w.json", values: { steps: 500 } }).catch((e: ApiError) => e) as ApiError;
    expect(error).toBeInstanceOf(ApiError);
    expect(error.status).toBe(400);
    expect(error.code).toBe("INVALID_VALUES");
    expect(error.fields).toEqual({ steps: "500 is above the maximum 50" });
  });

  it("keeps Retry-After of a 429", async () => {
    setFetcher(async () => reply(429, { error: "slow down", code: "RATE_LIMITED" }, { "Retry-After": "7" }));
    const error = await request("POST", "/x", {}).catch((e: ApiError) => e) as ApiError;
    expect(error.retryAfter).toBe(7);
  });

  it("explains a network failure and a non-JSON error", async () => {
    setFetcher(async () => { throw new TypeError("Failed to fetch"); });
    const offline = await request("GET", "/x").catch((e: ApiError) => e) as ApiError;
    expect(offline.code).toBe("NETWORK");
    expect(offline.message).toMatch(/did not answer/);
    setFetcher(async () => new Response("Bad Gateway", { status: 502 }));
    const proxy = await request("GET", "/x").catch((e: ApiError) => e) as ApiError;
    expect(proxy.status).toBe(502);
    expect(proxy.message).toBe("Bad Gateway");
  });

  it("reads the auth status from a 401 too", async () => {
    setFetcher(async () => reply(401, { authenticated: false, auth_enabled: true, setup_required: true, setup_available: false }));
    expect(await authStatus()).toMatchObject({ authEnabled: true, authenticated: false, setupRequired: true, setupAvailable: false });
  });

  it("parses a job, whatever is missing", () => {
    const job = parseJob({ job: { id: "j", status: "running", percent: 50, step: 3, total_steps: 6, node: 5, images: [{ filename: "a.png", subfolder: "s", type: "output" }, { nope: 1 }] } });
    expect(job).toMatchObject({ id: "j", status: "running", percent: 50, node: "5", images: [{ filename: "a.png", subfolder: "s", type: "output" }] });
    expect(parseJob(null).images).toEqual([]);
  });

  it("knows a workflow's kind from its mode or its name", () => {
    expect(workflowKind("x.json", "image-to-video")).toBe("i2v");
    expect(workflowKind("sd15_img2img.json", undefined)).toBe("i2i");
    expect(workflowKind("sdxl_txt2img.json", undefined)).toBe("t2i");
    expect(workflowKind("wan_video.json", undefined)).toBe("t2v");
    expect(workflowKind("mystery.json", undefined)).toBeNull();
  });
});
