import { describe, expect, it } from "vitest";
import { parseParam, type Param } from "../src/api";
import { controlFor, groups, initialValues, lastSeed, loadRemembered, remember, splitFieldErrors, validate, SEARCH_THRESHOLD } from "../src/form";

const p = (data: Record<string, unknown>): Param => parseParam({ label: data.name, ...data }) as Param;
const prompt = p({ name: "prompt", type: "text", default: "a cat", group: "Prompt" });
const steps = p({ name: "steps", type: "int", default: 12, min: 1, max: 50, step: 1, group: "Sampling" });
const cfg = p({ name: "cfg", type: "float", default: 7.5, min: 0, max: 30, step: 0.5, group: "Sampling" });
const seed = p({ name: "seed", type: "seed", default: 42, min: 0, max: 18446744073709551615, randomize: true, group: "Sampling" });
const tiled = p({ name: "tiled", type: "boolean", default: false });
const sampler = p({ name: "sampler", type: "choice", default: "euler", choices: ["euler", "dpmpp_2m"] });
const model = p({ name: "ckpt", type: "choice", default: null, choices: Array.from({ length: SEARCH_THRESHOLD + 1 }, (_, i) => `m${i}.safetensors`) });
const image = p({ name: "image", type: "image", required: true });
const title = p({ name: "title", type: "string", default: "x" });
const all = [prompt, steps, cfg, seed, tiled, sampler, model, image, title];

describe("schema to form", () => {
  it("gives each parameter type its control", () => {
    expect(all.map(controlFor)).toEqual(["textarea", "number", "number", "seed", "toggle", "select", "search-select", "image", "text"]);
  });

  it("parses unknown types as strings and keeps bounds", () => {
    expect(p({ name: "x", type: "weird" }).type).toBe("string");
    expect(steps.min).toBe(1);
    expect(steps.max).toBe(50);
    expect(parseParam({ type: "int" })).toBeNull();
  });

  it("starts from the defaults, or the first choice", () => {
    expect(initialValues(all)).toEqual({
      prompt: "a cat", steps: 12, cfg: 7.5, seed: 42, tiled: false, sampler: "euler", ckpt: "m0.safetensors", image: "", title: "x",
    });
  });

  it("takes remembered values only where they still fit", () => {
    const v = initialValues(all, { prompt: "a dog", steps: "lots", sampler: "gone", cfg: 3, unknown: 1 });
    expect(v.prompt).toBe("a dog");
    expect(v.steps).toBe(12);
    expect(v.sampler).toBe("euler");
    expect(v.cfg).toBe(3);
    expect("unknown" in v).toBe(false);
  });

  it("checks bounds, whole numbers, choices and required images", () => {
    const v = { ...initialValues(all), steps: 51, cfg: -1, seed: 1.5, sampler: "nope", image: "" };
    expect(validate(all, v)).toEqual({
      steps: "51 is above the maximum 50",
      cfg: "-1 is below the minimum 0",
      seed: "enter a whole number",
      sampler: "pick one of the listed choices",
      image: "choose an image",
    });
    expect(validate(all, { ...initialValues(all), image: "cat.png" })).toEqual({});
    expect(validate([steps], { steps: "12a" })).toEqual({ steps: "enter a number" });
  });

  it("keeps a workflow's choice when the host lists none", () => {
    const none = p({ name: "ckpt", type: "choice", default: "v1-5.safetensors", choices: [] });
    expect(initialValues([none])).toEqual({ ckpt: "v1-5.safetensors" });
    expect(validate([none], { ckpt: "v1-5.safetensors" })).toEqual({});
  });

  it("puts the server's field errors beside their fields", () => {
    expect(splitFieldErrors(all, { steps: "500 is above the maximum 50", bogus: "unknown parameter" })).toEqual({
      byField: { steps: "500 is above the maximum 50" },
      other: ["bogus: unknown parameter"],
    });
    // a node setting changed in All settings keeps its error beside it there
    expect(splitFieldErrors(all, { "3.cfg": "above the maximum 100", bogus: "unknown" }, ["3.cfg"])).toEqual({
      byField: { "3.cfg": "above the maximum 100" },
      other: ["bogus: unknown"],
    });
  });

  it("groups in schema order", () => {
    expect(groups([prompt, steps, title, cfg]).map((g) => [g.name, g.params.map((x) => x.name)])).toEqual([
      ["Prompt", ["prompt"]],
      ["Sampling", ["steps", "cfg"]],
      ["", ["title"]],
    ]);
  });

  it("reuses the last job's resolved seeds", () => {
    expect(lastSeed(all, { seed: 777, steps: 3 })).toEqual({ seed: 777 });
    expect(lastSeed(all, null)).toEqual({});
  });

  it("remembers values per workflow and survives broken storage", () => {
    const store = new Map<string, string>();
    const storage = { getItem: (k: string) => store.get(k) ?? null, setItem: (k: string, v: string) => void store.set(k, v) };
    remember(storage, "a.json", { steps: 3 });
    expect(loadRemembered(storage, "a.json")).toEqual({ steps: 3 });
    expect(loadRemembered(storage, "b.json")).toEqual({});
    store.set("cozygen.values.c.json", "{not json");
    expect(loadRemembered(storage, "c.json")).toEqual({});
    const full = { getItem: () => null, setItem: () => { throw new Error("quota"); } };
    expect(() => remember(full, "a.json", {})).not.toThrow();
  });
});
