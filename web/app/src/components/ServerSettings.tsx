// Settings → Server (admins): the server-wide settings of GET /cozygen/api/settings, grouped, each saved on its
// own with PATCH. A secret (an API key or token: the server answers only `<name>_set`) is a write-only field that
// says whether it is set, with Save and Clear; it is never shown or sent back. A setting the app does not know
// yet is shown with the server's own description.
import type { JSX } from "preact";
import { useEffect, useState } from "preact/hooks";
import { changeServerSettings, serverSettings, type Json, type ServerSettings as Settings } from "../api";
import { t, type Key } from "../i18n";
import { humanKey } from "../labels";
import { Spinner, message, toast } from "./ui";

type Group = "access" | "enrich" | "downloads" | "cloud" | "other";
const GROUPS: { id: Group; title: Key }[] = [
  { id: "downloads", title: "serverSettings.downloads" },
  { id: "cloud", title: "serverSettings.cloud" },
  { id: "enrich", title: "serverSettings.enrich" },
  { id: "access", title: "serverSettings.access" },
  { id: "other", title: "serverSettings.other" },
];

interface Known {
  group: Group;
  label: Key;
  hint: Key;
  number?: { min: number; max: number; step: number };
  choices?: Record<string, Key>;
}
const KNOWN: Record<string, Known> = {
  guard_comfyui: { group: "access", label: "serverSettings.guardComfyui", hint: "serverSettings.guardComfyuiHint" },
  gallery_visibility: {
    group: "access", label: "serverSettings.galleryVisibility", hint: "serverSettings.galleryVisibilityHint",
    choices: { shared: "serverSettings.visibilityShared", per_user: "serverSettings.visibilityPerUser" },
  },
  enrich_url: { group: "enrich", label: "serverSettings.enrichUrl", hint: "serverSettings.enrichUrlHint" },
  enrich_model: { group: "enrich", label: "serverSettings.enrichModel", hint: "serverSettings.enrichModelHint" },
  enrich_api_key: { group: "enrich", label: "serverSettings.enrichApiKey", hint: "serverSettings.enrichApiKeyHint" },
  enrich_timeout: { group: "enrich", label: "serverSettings.enrichTimeout", hint: "serverSettings.enrichTimeoutHint", number: { min: 0.5, max: 300, step: 0.5 } },
  hf_token: { group: "downloads", label: "serverSettings.hfToken", hint: "serverSettings.hfTokenHint" },
  civitai_api_key: { group: "downloads", label: "serverSettings.civitaiApiKey", hint: "serverSettings.civitaiApiKeyHint" },
  download_hosts: { group: "downloads", label: "serverSettings.downloadHosts", hint: "serverSettings.downloadHostsHint" },
  download_private_hosts: { group: "downloads", label: "serverSettings.downloadPrivateHosts", hint: "serverSettings.downloadPrivateHostsHint" },
  download_concurrency: { group: "downloads", label: "serverSettings.downloadConcurrency", hint: "serverSettings.downloadConcurrencyHint", number: { min: 1, max: 8, step: 1 } },
  comfy_api_key: { group: "cloud", label: "serverSettings.comfyApiKey", hint: "serverSettings.comfyApiKeyHint" },
};

/** One setting as the screen shows it. */
export interface SettingView {
  name: string;
  kind: "secret" | "bool" | "choice" | "number" | "text";
  /** The value (a secret's: whether it is set). */
  value: Json;
  choices: Json[];
  group: Group;
}

/** The settings of an answer, in the screen's order: a secret is the name the description has, set or not. */
export function settingViews(settings: Settings): SettingView[] {
  const names = [...new Set([...Object.keys(settings.descriptions), ...Object.keys(settings.values).filter((n) => !n.endsWith("_set") || !(n.slice(0, -4) in settings.descriptions))])];
  const views = names.map((name): SettingView => {
    const group = KNOWN[name]?.group ?? "other";
    const choices = settings.choices[name] ?? [];
    if (!(name in settings.values) && typeof settings.values[`${name}_set`] === "boolean") return { name, kind: "secret", value: settings.values[`${name}_set`], choices, group };
    const value = settings.values[name] ?? null;
    const kind = choices.length ? "choice" : typeof value === "boolean" ? "bool" : typeof value === "number" ? "number" : "text";
    return { name, kind, value, choices, group };
  });
  const order = Object.keys(KNOWN);
  const rank = (n: string) => (order.includes(n) ? order.indexOf(n) : order.length);
  return views.sort((a, b) => rank(a.name) - rank(b.name));
}

export function ServerSettings(): JSX.Element {
  const [settings, setSettings] = useState<Settings | null>(null);
  const [error, setError] = useState("");
  const [open, setOpen] = useState<Group | null>(null);
  useEffect(() => {
    serverSettings().then(setSettings, (e) => setError(message(e)));
    if (location.hash === "#server-settings") setOpen("cloud");
  }, []);
  useEffect(() => {
    if (settings && location.hash === "#server-settings") requestAnimationFrame(() => document.getElementById("server-settings")?.scrollIntoView({ block: "start" }));
  }, [settings]);
  /** Saves one change; the error to show beside the field, or "" when saved. */
  const save = async (name: string, value: Json): Promise<string> => {
    try {
      setSettings(await changeServerSettings({ [name]: value }));
      toast(t("serverSettings.saved"));
      return "";
    } catch (e) {
      return message(e);
    }
  };
  const views = settings ? settingViews(settings) : [];
  return (
    <section class="card group" aria-labelledby="s-server-settings" id="server-settings">
      <h3 id="s-server-settings">{t("serverSettings.title")}</h3>
      {error && <p class="error" role="alert">{error}</p>}
      {!settings && !error && <Spinner />}
      {GROUPS.map((g) => {
        const inGroup = views.filter((v) => v.group === g.id);
        if (!inGroup.length) return null;
        return (
          <details key={g.id} class="settings-group" id={`settings-${g.id}`} open={open === g.id || undefined}>
            <summary>{t(g.title)}</summary>
            <div class="stack">
              {inGroup.map((v) => <SettingField key={v.name} view={v} description={settings?.descriptions[v.name] ?? ""} save={save} />)}
            </div>
          </details>
        );
      })}
    </section>
  );
}

function SettingField({ view, description, save }: { view: SettingView; description: string; save: (name: string, value: Json) => Promise<string> }): JSX.Element {
  const known = KNOWN[view.name];
  const label = known ? t(known.label) : humanKey(view.name);
  const hint = known ? t(known.hint) : description;
  const id = `setting-${view.name}`;
  const shown = view.kind === "secret" ? "" : view.value === null ? "" : String(view.value);
  const [draft, setDraft] = useState(shown);
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);
  useEffect(() => setDraft(shown), [shown]);
  const send = async (value: Json) => {
    setBusy(true);
    const problem = await save(view.name, value);
    setBusy(false);
    setError(problem);
    if (!problem && view.kind === "secret") setDraft("");
  };
  const submit = (e: Event) => {
    e.preventDefault();
    if (view.kind === "number") {
      const n = Number(draft);
      if (draft.trim() === "" || !Number.isFinite(n)) return setError(t("serverSettings.notNumber"));
      void send(n);
    } else void send(draft.trim());
  };
  const hintLine = hint ? <p class="hint small muted" id={`${id}-hint`}>{hint}</p> : null;
  const errorLine = error ? <p class="error" role="alert">{error}</p> : null;
  if (view.kind === "bool") {
    return (
      <div class="setting" data-setting={view.name}>
        <div class="toggle">
          <label for={id}>{label}</label>
          <input id={id} type="checkbox" role="switch" checked={view.value === true} disabled={busy} aria-describedby={hint ? `${id}-hint` : undefined}
            onChange={(e) => void send(e.currentTarget.checked)} />
        </div>
        {hintLine}
        {errorLine}
      </div>
    );
  }
  if (view.kind === "choice") {
    return (
      <div class="setting" data-setting={view.name}>
        <label for={id}>{label}</label>
        <select id={id} value={String(view.value)} disabled={busy} aria-describedby={hint ? `${id}-hint` : undefined}
          onChange={(e) => void send(view.choices.find((c) => String(c) === e.currentTarget.value) ?? e.currentTarget.value)}>
          {view.choices.map((c) => <option key={String(c)} value={String(c)}>{known?.choices?.[String(c)] ? t(known.choices[String(c)]) : String(c)}</option>)}
        </select>
        {hintLine}
        {errorLine}
      </div>
    );
  }
  if (view.kind === "secret") {
    const set = view.value === true;
    return (
      <form class="setting secret" data-setting={view.name} onSubmit={submit} noValidate>
        <div class="row" style="margin-bottom:6px">
          <label for={id} class="grow" style="margin:0">{label}</label>
          {set && (
            <button type="button" class="ghost danger setting-clear" disabled={busy} onClick={() => void send("")}>{t("serverSettings.clear")}</button>
          )}
          <span class={`kind secret-state${set ? " on" : ""}`} id={`${id}-state`}>{set ? t("serverSettings.set") : t("serverSettings.notSet")}</span>
        </div>
        <div class="row">
          <input id={id} class="grow" type="password" autocomplete="new-password" spellcheck={false} value={draft} disabled={busy}
            placeholder={set ? t("serverSettings.replaceSecret") : t("serverSettings.pasteSecret")} aria-describedby={hint ? `${id}-hint` : undefined}
            onInput={(e) => setDraft(e.currentTarget.value)} />
          <button type="submit" class={draft.trim() ? "primary" : undefined} disabled={busy || !draft.trim()}>{t("common.save")}</button>
        </div>
        {hintLine}
        {errorLine}
      </form>
    );
  }
  const dirty = draft.trim() !== shown;
  return (
    <form class="setting" data-setting={view.name} onSubmit={submit} noValidate>
      <label for={id}>{label}</label>
      <div class="row">
        <input id={id} class="grow" value={draft} disabled={busy} autocapitalize="none" autocomplete="off" spellcheck={false}
          aria-describedby={hint ? `${id}-hint` : undefined}
          {...(view.kind === "number" ? { type: "number", inputMode: known?.number?.step === 1 ? "numeric" : "decimal", min: known?.number?.min, max: known?.number?.max, step: known?.number?.step ?? "any" } : {})}
          onInput={(e) => setDraft(e.currentTarget.value)} />
        <button type="submit" class={dirty ? "primary" : undefined} disabled={busy || !dirty}>{t("common.save")}</button>
      </div>
      {hintLine}
      {errorLine}
    </form>
  );
}
