// The app's language: "Automatic (browser)" or one of the shipped languages, each in its own name.
// Stored with the other prefs (settings.ts); the switch re-renders the app without a reload.
import type { JSX } from "preact";
import { chooseLanguage, LANGUAGES, NATIVE_NAMES, t, type LangSetting } from "../i18n";
import { isLang } from "../i18n/languages";
import { usePrefs } from "../settings";

export function LanguagePicker({ id = "language" }: { id?: string }): JSX.Element {
  const prefs = usePrefs();
  return (
    <div class="field">
      <label for={id}>{t("language.label")}</label>
      <select id={id} value={prefs.language}
        onChange={(e) => {
          const value = e.currentTarget.value;
          void chooseLanguage((isLang(value) ? value : "auto") as LangSetting);
        }}>
        <option value="auto">{t("language.auto")}</option>
        {LANGUAGES.map((lang) => <option key={lang} value={lang} lang={lang}>{NATIVE_NAMES[lang]}</option>)}
      </select>
    </div>
  );
}
