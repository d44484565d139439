import { describe, expect, it } from "vitest";
import { LANGUAGES, LOADERS, currentLang, detect, locale, setLanguage, t } from "../src/i18n";
import en from "../src/i18n/en";
import { intlTag, langOf } from "../src/i18n/languages";
import { fieldLabel, humanKey } from "../src/labels";
import { parseParam, type Param } from "../src/api";

type Strings = Record<string, string>;
const EN: Strings = en;
const FORM = /_(zero|one|two|few|many|other)$/;
const bases = new Set(Object.keys(EN).filter((k) => k.endsWith("_other")).map((k) => k.replace(/_other$/, "")));
const baseOf = (key: string) => (FORM.test(key) && bases.has(key.replace(FORM, "")) ? key.replace(FORM, "") : null);
const placeholders = (text: string) => [...text.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();
/** The catalogues' source text (Vite's ?raw), to check the one-entry-a-line format. */
const SOURCES = import.meta.glob<string>("../src/i18n/*.ts", { query: "?raw", import: "default", eager: true });
const load = async (lang: string): Promise<Strings> => (lang === "en" ? EN : (await LOADERS[lang as keyof typeof LOADERS]()).default);

describe("the catalogues", () => {
  for (const lang of LANGUAGES) {
    it(`${lang}: exactly en's keys, its own plural forms, the same placeholders`, async () => {
      const strings = await load(lang);
      const categories = [...new Intl.PluralRules(lang).resolvedOptions().pluralCategories].sort();
      const plain = (o: Strings) => Object.keys(o).filter((k) => baseOf(k) === null).sort();
      expect(plain(strings)).toEqual(plain(EN));
      for (const base of bases) {
        const forms = Object.keys(strings).filter((k) => baseOf(k) === base).map((k) => k.slice(base.length + 1)).sort();
        expect(forms, `${lang} ${base}`).toEqual(categories);
        for (const form of forms) expect(placeholders(strings[`${base}_${form}`]), `${lang} ${base}_${form}`).toEqual(placeholders(EN[`${base}_other`]));
      }
      for (const key of plain(EN)) {
        expect(placeholders(strings[key]), `${lang} ${key}`).toEqual(placeholders(EN[key]));
        expect(strings[key].trim(), `${lang} ${key}`).not.toBe("");
      }
    });

    it(`${lang}: one entry a line, as tests/browser/test_i18n.py reads it`, async () => {
      const source = SOURCES[`../src/i18n/${lang}.ts`];
      const entries = source.split("\n").filter((l) => /^\s+"[\w.]+": ".*",$/.test(l));
      const parsed = Object.fromEntries(entries.map((l) => { const m = /^\s+"([\w.]+)": (".*"),$/.exec(l) as RegExpExecArray; return [m[1], JSON.parse(m[2]) as string]; }));
      expect(parsed).toEqual(await load(lang));
    });
  }
});

describe("t()", () => {
  it("fills placeholders and picks English plurals", async () => {
    await setLanguage("en");
    expect(t("preset.saved", { name: "Portrait" })).toBe("Saved “Portrait”");
    expect(t("job.images", { count: 1 })).toBe("1 image");
    expect(t("job.images", { count: 3 })).toBe("3 images");
    expect(t("job.step", { step: 2, total: 10 })).toBe("Step 2 of 10");
    expect(t("server.queueState", { running: 1200, pending: 0 })).toBe("1,200 running, 0 waiting");
    expect(t("seed.reuseValue", { seed: "1234567" })).toBe("Reuse the last seed (1234567)"); // a string stays as it is
    expect(t("field.slider", {})).toBe("{label} slider"); // a missing parameter shows its place, not "undefined"
  });

  it("switches language, with its plural rules and number format", async () => {
    await setLanguage("ru");
    expect(currentLang()).toBe("ru");
    expect(t("job.images", { count: 1 })).toBe("1 изображение");
    expect(t("job.images", { count: 3 })).toBe("3 изображения");
    expect(t("job.images", { count: 5 })).toBe("5 изображений");
    expect(t("job.images", { count: 21 })).toBe("21 изображение");
    expect(humanKey("width")).toBe("Ширина (пикс.)");
    await setLanguage("zh");
    expect(t("job.images", { count: 1 })).toBe("1 张图像");
    expect(humanKey("steps")).toBe("步数");
    expect(fieldLabel(parseParam({ name: "width", label: "Breite" }) as Param)).toBe("Breite (px)");
    await setLanguage("fr");
    expect(t("server.queueState", { running: 1200, pending: 1 })).toMatch(/^1\s200 en cours, 1 en attente$/);
    await setLanguage("en");
    expect(humanKey("width")).toBe("Width (px)");
  });

  it("never shows a raw key: every key of en gives text in every language", async () => {
    for (const lang of LANGUAGES) {
      await setLanguage(lang);
      for (const key of Object.keys(EN)) {
        const base = baseOf(key) ?? key;
        const text = t(base as never, { count: 2 });
        expect(text, `${lang} ${key}`).not.toBe(base);
        expect(text).not.toMatch(/^[a-z]+\.[a-zA-Z]+$/);
      }
    }
    await setLanguage("en");
  });
});

describe("the browser's language", () => {
  it("is the first one the app ships", () => {
    expect(detect(["zh-CN", "en"])).toBe("zh");
    expect(detect(["zh-TW"])).toBe("zh");
    expect(detect(["zh-Hant-HK"])).toBe("zh");
    expect(detect(["pt-BR", "fr-CA", "en"])).toBe("fr");
    expect(detect(["pt"])).toBe("en");
    expect(detect(["ja-JP"])).toBe("ja");
    expect(detect(["ko_KR"])).toBe("ko");
    expect(detect(["RU"])).toBe("ru");
    expect(detect(["es-419"])).toBe("es");
    expect(detect([])).toBe("en");
    expect(langOf("de-DE")).toBeNull();
  });

  it("keeps the browser's regional format for dates and numbers", async () => {
    expect(intlTag("en", ["en-GB", "fr"])).toBe("en-GB");
    expect(intlTag("fr", ["en-GB", "fr-CA"])).toBe("fr-CA");
    expect(intlTag("ja", ["en-US"])).toBe("ja");
    await setLanguage("en");
    expect(locale()).toMatch(/^en/);
  });
});
