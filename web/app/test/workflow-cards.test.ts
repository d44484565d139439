import { describe, expect, it } from "vitest";
import { missingModel } from "../src/screens/Workflows";

describe("a workflow card's missing models", () => {
  it("reads as the file's name with what kind of model it is", () => {
    expect(missingModel("checkpoints/v1-5-pruned-emaonly.safetensors")).toEqual({ name: "v1-5-pruned-emaonly", hint: "checkpoint" });
    expect(missingModel("loras/style/film_grain.safetensors")).toEqual({ name: "film_grain", hint: "LoRA" });
    expect(missingModel("diffusion_models/flux1-dev.sft")).toEqual({ name: "flux1-dev", hint: "diffusion model" });
    expect(missingModel("photomaker/pm.bin")).toEqual({ name: "pm", hint: "photomaker" });
    expect(missingModel("model.ckpt")).toEqual({ name: "model", hint: "model" });
  });
});
