// Readable labels for the raw keys a workflow's parameters and an image's
// metadata use (`positive`, `batch_size`, `cfg`), with units where they have
// one, and readable dates. Pure functions, unit-tested.

import type { Param } from "./api";
import { locale, t, type Key } from "./i18n";
import en from "./i18n/en";

/** The raw keys with a label of their own in the catalogue (i18n/en.ts, "param.*"). */
const KNOWN: Record<string, Key> = {
  prompt: "param.prompt",
  text: "param.prompt",
  positive: "param.positive",
  negative: "param.negative",
  negative_prompt: "param.negative",
  batch_size: "param.batchSize",
  num_images: "param.images",
  steps: "param.steps",
  cfg: "param.cfg",
  guidance: "param.guidance",
  seed: "param.seed",
  noise_seed: "param.seed",
  sampler: "param.sampler",
  sampler_name: "param.sampler",
  scheduler: "param.scheduler",
  denoise: "param.denoise",
  model: "param.model",
  ckpt_name: "param.model",
  unet_name: "param.model",
  lora: "param.lora",
  lora_name: "param.lora",
  vae: "param.vae",
  vae_name: "param.vae",
  width: "param.width",
  height: "param.height",
  size: "param.size",
  workflow: "param.workflow",
  date: "param.date",
  error: "param.error",
  file: "param.file",
};
const UNITS: Record<string, Key> = { width: "unit.px", height: "unit.px", size: "unit.px", duration: "unit.s", fps: "unit.fps" };
const ACRONYMS: Record<string, string> = { cfg: "CFG", vae: "VAE", lora: "LoRA", clip: "CLIP", fps: "FPS", id: "ID", url: "URL" };

/** `batch_size` -> "Batch size", `positive` -> "Positive prompt", `width` -> "Width (px)". */
export function humanKey(key: string): string {
  const bare = key.trim();
  const lower = bare.toLowerCase();
  const words = bare.split(/[_\s.-]+|(?<=[a-z])(?=[A-Z])/).filter(Boolean);
  const known = KNOWN[lower];
  const base = known ? t(known) : words.map((w, i) => ACRONYMS[w.toLowerCase()] ?? (i === 0 ? w[0].toUpperCase() + w.slice(1) : w.toLowerCase())).join(" ");
  const unit = UNITS[lower];
  return unit ? `${base || bare} (${t(unit)})` : base || bare;
}

/** A workflow's own word (a group's name) in the app's language when it is the catalogue's English for its key
 * ("Prompt", "Sampler"); any other word as the workflow says it. */
export function ownWord(text: string): string {
  const key = KNOWN[text.trim().toLowerCase()];
  return key !== undefined && en[key as keyof typeof en]?.toLowerCase() === text.trim().toLowerCase() ? t(key) : text;
}

/** A form field's label: the server's label when it is one, else the key made readable; with its unit. */
export function fieldLabel(param: Pick<Param, "name" | "label">): string {
  const label = param.label.trim();
  if (!label || label === param.name || /^[a-z0-9]+(_[a-z0-9]+)+$/.test(label)) return humanKey(param.name);
  // a label that is the catalogue's own English word for its key ("Steps" for steps) reads in the app's language
  const same = (key: Key | undefined) => key !== undefined && en[key as keyof typeof en]?.toLowerCase() === label.toLowerCase();
  if (same(KNOWN[param.name.toLowerCase()])) return humanKey(param.name);
  if (same(KNOWN[label.toLowerCase()])) return humanKey(label);
  const unit = UNITS[param.name.toLowerCase()] ?? UNITS[label.toLowerCase()];
  return unit && !label.includes("(") ? `${label} (${t(unit)})` : label;
}

/** A file name without its folder and extension, words spaced: `ComfyUI_00012_.png` -> "ComfyUI 00012". */
export function fileStem(name: string): string {
  const base = name.split("/").pop() ?? name;
  const stem = base.replace(/\.[a-z0-9]{1,5}$/i, "");
  return stem.replace(/[_]+/g, " ").trim() || base;
}

/** A date and time in the app's language (i18n's locale()) or the one given (seconds since the epoch). */
export function formatDate(seconds: number, tag: string = locale()): string {
  return new Date(seconds * 1000).toLocaleString(tag, { year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" });
}
