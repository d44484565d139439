// Preferences kept on this device (localStorage), with a tiny subscription so
// screens re-render when one changes.

import { useEffect, useState } from "preact/hooks";
import { isLang, type LangSetting } from "./i18n/languages";

export type Theme = "system" | "dark" | "light";
export type ThumbSize = "small" | "medium" | "large";
export interface Prefs {
  theme: Theme;
  thumbSize: ThumbSize;
  notify: boolean;
  /** The app's language: "auto" follows the browser (i18n/). */
  language: LangSetting;
}

const KEY = "cozygen.prefs";
// not api.ts's isObj: the prefs load while the modules load, and api.ts imports i18n, which imports this module
const isObj = (value: unknown): value is Record<string, unknown> => typeof value === "object" && value !== null && !Array.isArray(value);
const DEFAULTS: Prefs = { theme: "system", thumbSize: "medium", notify: false, language: "auto" };
export const THUMB_MIN: Record<ThumbSize, number> = { small: 96, medium: 150, large: 220 };

function load(): Prefs {
  try {
    const stored: unknown = JSON.parse(localStorage.getItem(KEY) ?? "{}");
    const data = isObj(stored) ? stored : {};
    return {
      theme: data.theme === "light" || data.theme === "dark" ? data.theme : "system",
      thumbSize: data.thumbSize === "small" || data.thumbSize === "large" ? data.thumbSize : "medium",
      notify: data.notify === true,
      language: isLang(data.language) ? data.language : "auto",
    };
  } catch {
    return { ...DEFAULTS };
  }
}

let prefs: Prefs = typeof localStorage === "undefined" ? { ...DEFAULTS } : load();
const listeners = new Set<() => void>();

/** The colours in use: the chosen theme, or the system's (prefers-color-scheme) for "system". */
export function resolveTheme(theme: Theme, prefersLight: boolean): "dark" | "light" {
  return theme === "system" ? (prefersLight ? "light" : "dark") : theme;
}

const lightQuery = () => (typeof matchMedia === "function" ? matchMedia("(prefers-color-scheme: light)") : null);

export function applyTheme(): void {
  const theme = resolveTheme(prefs.theme, lightQuery()?.matches === true);
  document.documentElement.dataset.theme = theme;
  document.documentElement.style.setProperty("--thumb", `${THUMB_MIN[prefs.thumbSize]}px`);
  document.querySelector('meta[name="theme-color"]')?.setAttribute("content", theme === "light" ? "#f6f4f1" : "#14161b");
}

/** Follows the system's light or dark while the theme is "system" (call once at start). */
export function followSystemTheme(): void {
  lightQuery()?.addEventListener("change", () => prefs.theme === "system" && applyTheme());
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
