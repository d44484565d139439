// Which images the full-screen viewer shows (any screen may open it).
import { useEffect, useState } from "preact/hooks";
import { isObj, type ImageRef, type Job } from "./api";
import type { Marks } from "./gallery/marks";

export interface ViewerItem {
  ref: ImageRef;
  job?: Job;
  /** The caller's marks, when the opener knows them (the gallery): the viewer then shows and changes them. */
  marks?: Marks;
}
export interface ViewerState {
  items: ViewerItem[];
  index: number;
  onDeleted?: (ref: ImageRef) => void;
  onRestored?: (ref: ImageRef) => void;
  /** An image's marks changed (as the server now holds them). */
  onMarked?: (ref: ImageRef, marks: Marks) => void;
}

let state: ViewerState | null = null;
const listeners = new Set<() => void>();

export function openViewer(next: ViewerState): void {
  state = next;
  if (history.state?.viewer !== true) history.pushState({ viewer: true }, "", location.href);
  listeners.forEach((l) => l());
}
export function closeViewer(fromPopstate = false): void {
  if (!state) return;
  state = null;
  if (!fromPopstate && history.state?.viewer === true) history.back();
  listeners.forEach((l) => l());
}
export function useViewer(): ViewerState | null {
  const [value, set] = useState(state);
  useEffect(() => {
    const l = () => set(state);
    const pop = () => state && closeViewer(true);
    listeners.add(l);
    window.addEventListener("popstate", pop);
    return () => {
      listeners.delete(l);
      window.removeEventListener("popstate", pop);
    };
  }, []);
  return value;
}

/** Hands values (and maybe an image) from one screen to the generate form. */
export interface Handoff {
  workflow: string;
  values?: Record<string, unknown>;
  image?: string;
  submit?: boolean;
}
const HANDOFF = "cozygen.handoff";
export function setHandoff(h: Handoff): void {
  sessionStorage.setItem(HANDOFF, JSON.stringify(h));
  window.dispatchEvent(new Event("cozygen:handoff")); // for a form that is already open
}
/** A stored handoff, or null when there is none or it is not one. */
export function parseHandoff(data: unknown): Handoff | null {
  if (!isObj(data) || typeof data.workflow !== "string") return null;
  const h: Handoff = { workflow: data.workflow };
  if (isObj(data.values)) h.values = data.values;
  if (typeof data.image === "string") h.image = data.image;
  if (typeof data.submit === "boolean") h.submit = data.submit;
  return h;
}
export function takeHandoff(workflow: string): Handoff | null {
  try {
    const h = parseHandoff(JSON.parse(sessionStorage.getItem(HANDOFF) ?? "null"));
    if (!h || h.workflow !== workflow) return null;
    sessionStorage.removeItem(HANDOFF);
    return h;
  } catch {
    return null;
  }
}

/** A lowercase UUID v4 (crypto.randomUUID needs HTTPS; a phone on home Wi-Fi has plain HTTP). */
export function uuid(): string {
  const b = new Uint8Array(16);
  crypto.getRandomValues(b);
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}
