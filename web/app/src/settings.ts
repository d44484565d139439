// Preferences kept on this device (localStorage), with a tiny subscription so
// screens re-render when one changes.

import { useEffect, useState } from "preact/hooks";
import { isObj } from "./api";

export type Theme = "dark" | "light";
export type ThumbSize = "small" | "medium" | "large";
export interface Prefs {
  theme: Theme;
  thumbSize: ThumbSize;
  notify: boolean;
}

const KEY = "cozygen.prefs";
const DEFAULTS: Prefs = { theme: "dark", thumbSize: "medium", notify: false };
export const THUMB_MIN: Record<ThumbSize, number> = { small: 96, medium: 150, large: 220 };

function load(): Prefs {
  try {
    const stored: unknown = JSON.parse(localStorage.getItem(KEY) ?? "{}");
    const data = isObj(stored) ? stored : {};
    return {
      theme: data.theme === "light" ? "light" : "dark",
      thumbSize: data.thumbSize === "small" || data.thumbSize === "large" ? data.thumbSize : "medium",
      notify: data.notify === true,
    };
  } catch {
    return { ...DEFAULTS };
  }
}

let prefs: Prefs = typeof localStorage === "undefined" ? { ...DEFAULTS } : load();
const listeners = new Set<() => void>();

export function applyTheme(): void {
  document.documentElement.dataset.theme = prefs.theme;
  document.documentElement.style.setProperty("--thumb", `${THUMB_MIN[prefs.thumbSize]}px`);
  document.querySelector('meta[name="theme-color"]')?.setAttribute("content", prefs.theme === "light" ? "#f6f4f1" : "#14161b");
}

export function getPrefs(): Prefs {
  return prefs;
}

export function setPrefs(change: Partial<Prefs>): void {
  prefs = { ...prefs, ...change };
  try {
    localStorage.setItem(KEY, JSON.stringify(prefs));
  } catch {
    // storage unavailable: keep it for this visit
  }
  applyTheme();
  listeners.forEach((l) => l());
}

export function usePrefs(): Prefs {
  const [value, set] = useState(prefs);
  useEffect(() => {
    const l = () => set(prefs);
    listeners.add(l);
    return () => void listeners.delete(l);
  }, []);
  return value;
}
