// t(): every string the app shows, in the chosen language. English is bundled; the
// other catalogues load on demand (each its own chunk). A switch re-renders the app
// (useLang() in its root) without a reload. How to add a key: README.md here.
import { useEffect, useState } from "preact/hooks";
import { getPrefs, setPrefs } from "../settings";
import en from "./en";
import { detect, direction, intlTag, type Lang, type LangSetting } from "./languages";
import type { Key, Params } from "./types";

export { LANGUAGES, NATIVE_NAMES, detect, type Lang, type LangSetting } from "./languages";
export type { Key, Params } from "./types";

type Strings = Readonly<Record<string, string>>;
/** Each catalogue is checked against en.ts in its own file (`satisfies Catalogue<its plural forms>`). */
type Loader = () => Promise<{ default: Strings }>;

/** The non-English catalogues, each a dynamic import (a separate chunk). */
export const LOADERS: Record<Exclude<Lang, "en">, Loader> = {
  zh: () => import("./zh"),
  ja: () => import("./ja"),
  ko: () => import("./ko"),
  ru: () => import("./ru"),
  fr: () => import("./fr"),
  es: () => import("./es"),
};

const EN: Strings = en;
const EN_RULES = new Intl.PluralRules("en");

/** What the app is showing now. One per page, like the prefs in settings.ts. */
const state = { lang: "en" as Lang, tag: "en", strings: EN, rules: EN_RULES, numbers: new Intl.NumberFormat("en"), loading: 0 };
const listeners = new Set<() => void>();

const browserLanguages = (): readonly string[] =>
  typeof navigator === "undefined" ? [] : navigator.languages?.length ? navigator.languages : navigator.language ? [navigator.language] : [];

/** The language a setting means here: itself, or the browser's for "auto". */
export const resolveLang = (setting: LangSetting, preferred: readonly string[] = browserLanguages()): Lang =>
  setting === "auto" ? detect(preferred) : setting;

/** One entry of a catalogue: a plain key, or a plural's form for `count` (its "other" when the form is absent). */
function lookup(strings: Strings, rules: Intl.PluralRules, key: string, count: unknown): string | undefined {
  if (!(`${key}_other` in EN)) return strings[key];
  const n = typeof count === "number" && Number.isFinite(count) ? count : 0;
  return strings[`${key}_${rules.select(n)}`] ?? strings[`${key}_other`];
}

/** `{name}` replaced by params.name (a number in the language's digits and grouping; pass a string to keep it raw). */
function fill(text: string, params: Params | undefined): string {
  if (!params) return text;
  return text.replace(/\{(\w+)\}/g, (whole, name: string) => {
    const value = params[name];
    return value === undefined ? whole : typeof value === "number" ? state.numbers.format(value) : value;
  });
}

/** The text of `key` in the current language, else in English (never the raw key for a key of en.ts). */
export function t(key: Key, params?: Params): string {
  const text = lookup(state.strings, state.rules, key, params?.count) ?? lookup(EN, EN_RULES, key, params?.count);
  return fill(text ?? key, params);
}

export const currentLang = (): Lang => state.lang;
/** The BCP 47 tag for Intl (dates, numbers) in the current language. */
export const locale = (): string => state.tag;

/** A number in the current language (grouping, decimals). */
export const formatNumber = (n: number, options?: Intl.NumberFormatOptions): string => new Intl.NumberFormat(state.tag, options).format(n);

/** Shows `lang` (its catalogue loaded first): sets <html lang dir> and re-renders whoever uses useLang(). */
export async function setLanguage(lang: Lang): Promise<void> {
  const ticket = ++state.loading;
  let strings: Strings = EN;
  if (lang !== "en") {
    try {
      strings = (await LOADERS[lang]()).default;
    } catch {
      lang = "en"; // the chunk did not load (offline, say): English rather than nothing
    }
  }
  if (ticket !== state.loading) return; // a later choice won
  const tag = intlTag(lang, browserLanguages());
  Object.assign(state, { lang, tag, strings, rules: new Intl.PluralRules(tag), numbers: new Intl.NumberFormat(tag) });
  if (typeof document !== "undefined") {
    document.documentElement.lang = tag;
    document.documentElement.dir = direction(lang);
  }
  listeners.forEach((l) => l());
}

/** At start: the stored setting's language (call before the first render). */
export const initLanguage = (): Promise<void> => setLanguage(resolveLang(getPrefs().language));

/** The picker's choice: stored with the other prefs, then shown. */
export function chooseLanguage(setting: LangSetting): Promise<void> {
  setPrefs({ language: setting });
  return setLanguage(resolveLang(setting));
}

/** The current language; the component re-renders when it changes (the app's root uses it, so every screen follows). */
export function useLang(): Lang {
  const [lang, set] = useState(state.lang);
  useEffect(() => {
    const l = () => set(state.lang);
    listeners.add(l);
    l();
    return () => void listeners.delete(l);
  }, []);
  return lang;
}
