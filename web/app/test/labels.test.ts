import { describe, expect, it } from "vitest";
import { parseParam, type Param } from "../src/api";
import { batchParam, howMany, initialCount, MAX_IMAGES } from "../src/form";
import { fieldLabel, fileStem, formatDate, humanKey } from "../src/labels";

const p = (data: Record<string, unknown>): Param => parseParam(data) as Param;

describe("readable labels", () => {
  it("turns raw keys into words, with units", () => {
    expect(humanKey("positive")).toBe("Positive prompt");
    expect(humanKey("negative")).toBe("Negative prompt");
    expect(humanKey("batch_size")).toBe("Batch size");
    expect(humanKey("steps")).toBe("Steps");
    expect(humanKey("cfg")).toBe("CFG");
    expect(humanKey("width")).toBe("Width (px)");
    expect(humanKey("height")).toBe("Height (px)");
    expect(humanKey("sampler_name")).toBe("Sampler");
    expect(humanKey("lora_strength")).toBe("LoRA strength");
    expect(humanKey("upscaleFactor")).toBe("Upscale factor");
  });

  it("keeps the server's label, adds a unit, and reads a raw one", () => {
    expect(fieldLabel(p({ name: "positive", label: "Prompt" }))).toBe("Prompt");
    expect(fieldLabel(p({ name: "width", label: "Width" }))).toBe("Width (px)");
    expect(fieldLabel(p({ name: "width", label: "Width (px)" }))).toBe("Width (px)");
    expect(fieldLabel(p({ name: "batch_size" }))).toBe("Batch size");
    expect(fieldLabel(p({ name: "x", label: "denoise_strength" }))).toBe("X");
    expect(fieldLabel(p({ name: "cfg", label: "cfg" }))).toBe("CFG");
  });

  it("reads file stems", () => {
    expect(fileStem("ComfyUI_00012_.png")).toBe("ComfyUI 00012");
    expect(fileStem("CozyGen/demo_00001_.webp")).toBe("demo 00001");
    expect(fileStem(".png")).toBe(".png");
  });

  it("formats a date with the year", () => {
    expect(formatDate(Date.UTC(2026, 0, 2, 12) / 1000, "en-GB")).toMatch(/2026/);
  });
});

describe("how many images: one control", () => {
  const batch = p({ name: "batch_size", label: "Batch size", type: "int", default: 1, min: 1, max: 16 });
  const steps = p({ name: "steps", type: "int", default: 12 });

  it("finds the workflow's batch size", () => {
    expect(batchParam([steps, batch])).toBe(batch);
    expect(batchParam([steps])).toBeUndefined();
  });

  it("starts from the batch size, within 1..8", () => {
    expect(initialCount([batch], { batch_size: 4 })).toBe(4);
    expect(initialCount([batch], { batch_size: 16 })).toBe(MAX_IMAGES);
    expect(initialCount([batch], { batch_size: "x" })).toBe(1);
    expect(initialCount([steps], { steps: 4 })).toBe(1);
  });

  it("sends one run per image: batch size 1 and num_images", () => {
    expect(howMany([steps, batch], { steps: 3, batch_size: 4 }, 4)).toEqual({ values: { steps: 3, batch_size: 1 }, numImages: 4 });
    expect(howMany([steps, batch], { steps: 3, batch_size: 1 }, 1)).toEqual({ values: { steps: 3, batch_size: 1 }, numImages: undefined });
    expect(howMany([steps], { steps: 3 }, 3)).toEqual({ values: { steps: 3 }, numImages: 3 });
    expect(howMany([steps], { steps: 3 }, 99).numImages).toBe(MAX_IMAGES);
  });
});
