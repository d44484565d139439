// The languages the app ships (those of ComfyUI's own frontend), each named in itself,
// and which one a browser asks for. Pure: unit-tested.

export const LANGUAGES = ["en", "zh", "ja", "ko", "ru", "fr", "es"] as const;
export type Lang = (typeof LANGUAGES)[number];
/** "auto" follows the browser (navigator.languages). */
export type LangSetting = Lang | "auto";

/** Each language in its own name, for the picker. */
export const NATIVE_NAMES: Record<Lang, string> = {
  en: "English",
  zh: "中文",
  ja: "日本語",
  ko: "한국어",
  ru: "Русский",
  fr: "Français",
  es: "Español",
};

/** Right-to-left languages (none shipped yet; here so `dir` follows when one is). */
const RTL = new Set<string>(["ar", "fa", "he", "ur"]);
export const direction = (lang: string): "ltr" | "rtl" => (RTL.has(lang) ? "rtl" : "ltr");

export const isLang = (value: unknown): value is Lang => typeof value === "string" && (LANGUAGES as readonly string[]).includes(value);

/** The shipped language of one BCP 47 tag: "zh-TW" → zh, "fr-CA" → fr, "pt-BR" → null. */
export function langOf(tag: string): Lang | null {
  const base = tag.trim().toLowerCase().split(/[-_]/)[0];
  return isLang(base) ? base : null;
}

/** The first of the browser's languages the app ships, else English. */
export function detect(preferred: readonly string[]): Lang {
  for (const tag of preferred) {
    const lang = langOf(tag);
    if (lang) return lang;
  }
  return "en";
}

/** The tag Intl formats dates and numbers with: the browser's own tag when it is of this language (en-GB keeps day/month), else the language. */
export function intlTag(lang: Lang, preferred: readonly string[]): string {
  return preferred.find((tag) => langOf(tag) === lang) ?? lang;
}
