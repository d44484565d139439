// From a workflow's schema to the generate form and back: which control each
// parameter gets, its first value, the client-side check (the server checks
// again and its answer wins), and the values remembered per workflow.

import type { Json, Param } from "./api";
import { t } from "./i18n";

export type Values = Record<string, Json>;
export type Control = "textarea" | "text" | "number" | "toggle" | "select" | "search-select" | "seed" | "image";

/** Lists longer than this get a search box instead of a plain select. */
export const SEARCH_THRESHOLD = 12;
const MAX_SAFE_SEED = Number.MAX_SAFE_INTEGER;

export function controlFor(param: Param): Control {
  switch (param.type) {
    case "text":
      return "textarea";
    case "string":
      return /prompt/i.test(param.name) ? "textarea" : "text";
    case "int":
    case "float":
      return "number";
    case "boolean":
      return "toggle";
    case "seed":
      return "seed";
    case "image":
      return "image";
    case "choice":
      return (param.choices?.length ?? 0) > SEARCH_THRESHOLD ? "search-select" : "select";
  }
}

export function defaultValue(param: Param): Json {
  const d = param.default;
  switch (param.type) {
    case "int":
    case "float":
    case "seed":
      return typeof d === "number" ? d : param.min ?? 0;
    case "boolean":
      return d === true;
    case "choice":
      // an empty list (no model of that kind installed) keeps the workflow's own value: the server judges it
      return typeof d === "string" && (!param.choices?.length || param.choices.includes(d)) ? d : param.choices?.[0] ?? "";
    case "image":
      return typeof d === "string" ? d : "";
    default:
      return typeof d === "string" ? d : d === null ? "" : String(d);
  }
}

/** Whether a remembered value still fits the parameter (workflows change). */
export function fits(param: Param, value: unknown): value is Json {
  switch (param.type) {
    case "int":
    case "float":
    case "seed":
      return typeof value === "number" && Number.isFinite(value);
    case "boolean":
      return typeof value === "boolean";
    case "choice":
      return typeof value === "string" && (!param.choices?.length || param.choices.includes(value));
    default:
      return typeof value === "string";
  }
}

export function initialValues(params: Param[], remembered: Record<string, unknown> = {}): Values {
  const values: Values = {};
  for (const p of params) values[p.name] = fits(p, remembered[p.name]) ? (remembered[p.name] as Json) : defaultValue(p);
  return values;
}

const decimals = (step: number | null) => (step && step < 1 ? Math.min(6, Math.ceil(-Math.log10(step))) : 0);
export const formatNumber = (value: number, param: Param) =>
  param.type === "float" ? String(Number(value.toFixed(Math.max(decimals(param.step), 2)))) : String(value);

/** The client-side check: one message per bad field, as the server words it. */
export function validate(params: Param[], values: Values): Record<string, string> {
  const errors: Record<string, string> = {};
  for (const p of params) {
    const v = values[p.name];
    if (p.type === "int" || p.type === "float" || p.type === "seed") {
      if (typeof v !== "number" || !Number.isFinite(v)) errors[p.name] = t("form.number");
      else if (p.type !== "float" && !Number.isInteger(v)) errors[p.name] = t("form.wholeNumber");
      else if (p.min !== null && v < p.min) errors[p.name] = t("form.belowMin", { value: String(v), min: String(p.min) });
      else if (p.max !== null && v > p.max) errors[p.name] = t("form.aboveMax", { value: String(v), max: String(p.max) });
    } else if (p.type === "choice" && p.choices?.length && !p.choices.includes(String(v))) {
      errors[p.name] = t("form.pickChoice");
    } else if ((p.type === "image" || p.required) && p.type !== "boolean" && (v === "" || v === null || v === undefined)) {
      if (p.required || p.type === "image") errors[p.name] = p.type === "image" ? t("form.chooseImage") : t("form.required");
    }
  }
  return errors;
}

/** Parses what a number input holds; NaN when it is not a number yet. */
export function parseNumber(text: string, param: Param): number {
  const trimmed = text.trim();
  if (!trimmed) return Number.NaN;
  const n = Number(trimmed);
  return param.type === "float" ? n : Number.isFinite(n) ? n : Number.NaN;
}

export function randomSeed(random: () => number = Math.random): number {
  return Math.floor(random() * MAX_SAFE_SEED);
}

/** The seed of the last job, for "reuse last". */
export function lastSeed(params: Param[], lastParams: Values | null): Values {
  const out: Values = {};
  if (!lastParams) return out;
  for (const p of params) if (p.type === "seed" && typeof lastParams[p.name] === "number") out[p.name] = lastParams[p.name];
  return out;
}

/** Puts the server's field errors beside their fields; errors for unknown names go to the form. */
/** The server's field errors by form field (and by All settings' "<node>.<input>" names in `also`), the rest as lines. */
export function splitFieldErrors(params: Param[], fields: Record<string, string>, also: string[] = []): { byField: Record<string, string>; other: string[] } {
  const names = new Set([...params.map((p) => p.name), ...also]);
  const byField: Record<string, string> = {};
  const other: string[] = [];
  for (const [name, message] of Object.entries(fields)) {
    if (names.has(name)) byField[name] = message;
    else other.push(`${name}: ${message}`);
  }
  return { byField, other };
}

/** Groups parameters in schema order, keeping each group where its first member was. */
export function groups(params: Param[]): { name: string; params: Param[] }[] {
  const out: { name: string; params: Param[] }[] = [];
  for (const p of params) {
    const name = p.group || "";
    let group = out.find((g) => g.name === name);
    if (!group) out.push((group = { name, params: [] }));
    group.params.push(p);
  }
  return out;
}

// ---- remembered values --------------------------------------------------------------------

export interface StorageLike {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
}
const key = (workflow: string) => `cozygen.values.${workflow}`;

export function loadRemembered(storage: StorageLike, workflow: string): Record<string, unknown> {
  try {
    const data: unknown = JSON.parse(storage.getItem(key(workflow)) ?? "{}");
    return typeof data === "object" && data !== null && !Array.isArray(data) ? (data as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

export function remember(storage: StorageLike, workflow: string, values: Values): void {
  try {
    storage.setItem(key(workflow), JSON.stringify(values));
  } catch {
    // private mode or full storage: the form simply forgets
  }
}

// ---- how many images -----------------------------------------------------------------------

/** At most this many images for one tap (the server's MAX_IMAGES). */
export const MAX_IMAGES = 8;
const BATCH = "batch_size";

/** The workflow's own batch size, which the form shows as the one "Images" control instead. */
export function batchParam(params: Param[]): Param | undefined {
  return params.find((p) => p.name === BATCH && p.type === "int");
}

const clampCount = (n: unknown): number => (typeof n === "number" && Number.isFinite(n) ? Math.min(MAX_IMAGES, Math.max(1, Math.round(n))) : 1);

/** The count the form starts with: the remembered (or workflow's) batch size, else 1. */
export function initialCount(params: Param[], values: Values): number {
  const batch = batchParam(params);
  return batch ? clampCount(values[batch.name]) : 1;
}

/** What the server receives for `count` images: one run per image (batch size 1, seed + i each),
 * so every image has its own seed and can be made again alone. */
export function howMany(params: Param[], values: Values, count: number): { values: Values; numImages: number | undefined } {
  const n = clampCount(count);
  const batch = batchParam(params);
  const out = { ...values };
  if (batch) out[batch.name] = Math.max(1, batch.min ?? 1);
  return { values: out, numImages: n > 1 ? n : undefined };
}
