// Readable labels for the raw keys a workflow's parameters and an image's
// metadata use (`positive`, `batch_size`, `cfg`), with units where they have
// one, and readable dates. Pure functions, unit-tested.

import type { Param } from "./api";

const KNOWN: Record<string, string> = {
  prompt: "Prompt",
  text: "Prompt",
  positive: "Positive prompt",
  negative: "Negative prompt",
  negative_prompt: "Negative prompt",
  batch_size: "Batch size",
  num_images: "Images",
  steps: "Steps",
  cfg: "CFG",
  guidance: "Guidance",
  seed: "Seed",
  noise_seed: "Seed",
  sampler: "Sampler",
  sampler_name: "Sampler",
  scheduler: "Scheduler",
  denoise: "Denoise",
  model: "Model",
  ckpt_name: "Model",
  unet_name: "Model",
  lora: "LoRA",
  lora_name: "LoRA",
  vae: "VAE",
  vae_name: "VAE",
  width: "Width",
  height: "Height",
  size: "Size",
  workflow: "Workflow",
  date: "Date",
  error: "Error",
};
const UNITS: Record<string, string> = { width: "px", height: "px", size: "px", duration: "s", fps: "fps" };
const ACRONYMS: Record<string, string> = { cfg: "CFG", vae: "VAE", lora: "LoRA", clip: "CLIP", fps: "FPS", id: "ID", url: "URL" };

/** `batch_size` -> "Batch size", `positive` -> "Positive prompt", `width` -> "Width (px)". */
export function humanKey(key: string): string {
  const bare = key.trim();
  const lower = bare.toLowerCase();
  const words = bare.split(/[_\s.-]+|(?<=[a-z])(?=[A-Z])/).filter(Boolean);
  const base = KNOWN[lower] ?? words.map((w, i) => ACRONYMS[w.toLowerCase()] ?? (i === 0 ? w[0].toUpperCase() + w.slice(1) : w.toLowerCase())).join(" ");
  const unit = UNITS[lower];
  return unit ? `${base || bare} (${unit})` : base || bare;
}

/** A form field's label: the server's label when it is one, else the key made readable; with its unit. */
export function fieldLabel(param: Pick<Param, "name" | "label">): string {
  const label = param.label.trim();
  if (!label || label === param.name || /^[a-z0-9]+(_[a-z0-9]+)+$/.test(label)) return humanKey(param.name);
  const unit = UNITS[param.name.toLowerCase()] ?? UNITS[label.toLowerCase()];
  return unit && !label.includes("(") ? `${label} (${unit})` : label;
}

/** A file name without its folder and extension, words spaced: `ComfyUI_00012_.png` -> "ComfyUI 00012". */
export function fileStem(name: string): string {
  const base = name.split("/").pop() ?? name;
  const stem = base.replace(/\.[a-z0-9]{1,5}$/i, "");
  return stem.replace(/[_]+/g, " ").trim() || base;
}

/** A date and time in the reader's locale (seconds since the epoch). */
export function formatDate(seconds: number, locale?: string): string {
  return new Date(seconds * 1000).toLocaleString(locale, { year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" });
}
