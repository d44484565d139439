// Settings → Assistant: whether the prompt assistant answers (everyone), and for admins the language models it
// (and enrich, random prompts) uses: add, edit, test, make default, remove; the models read from the provider.
// A key is write-only: the server answers only whether one is stored, and the form sends one only when typed.
import type { JSX } from "preact";
import { useEffect, useState } from "preact/hooks";
import {
  addProvider, changeProvider, llmStatus, makeDefaultProvider, PROVIDER_KINDS, providerModels, providers, removeProvider, testNewProvider, testProvider,
  type LlmStatus, type Provider, type ProviderFields, type ProviderKind, type ProviderTest,
} from "../assistant";
import { formatNumber, t, type Key } from "../i18n";
import { Icon } from "./Icons";
import { Spinner, message, toast } from "./ui";
import "./Assistant.css";

const KIND_LABELS: Record<ProviderKind, Key> = {
  "openai-compatible": "assistantSettings.kindCompatible",
  ollama: "assistantSettings.kindOllama",
  openai: "assistantSettings.kindOpenai",
  claude: "assistantSettings.kindClaude",
  gemini: "assistantSettings.kindGemini",
};
const URL_EXAMPLES: Record<ProviderKind, string> = {
  "openai-compatible": "http://192.168.1.20:8080/v1",
  ollama: "http://192.168.1.20:11434",
  openai: "https://api.openai.com/v1",
  claude: "https://api.anthropic.com/v1",
  gemini: "https://generativelanguage.googleapis.com/v1beta",
};
/** The implicit provider of the old enrich settings: not stored, so only tested here. */
const FROM_SETTINGS = "settings";

/** The words for a test's outcome. */
export function providerTestSummary(result: ProviderTest): string {
  if (!result.ok) return t("assistantSettings.testFailed", { error: result.error ?? "?" });
  const ms = result.latencyMs === null ? "?" : formatNumber(Math.round(result.latencyMs));
  const shown = result.models.slice(0, 5).join(", ") + (result.models.length > 5 ? ", …" : "");
  return result.models.length ? t("assistantSettings.testOk", { ms, models: shown }) : t("assistantSettings.testOkNoModels", { ms });
}

export function AssistantSettings({ admin }: { admin: boolean }): JSX.Element {
  const [status, setStatus] = useState<LlmStatus | null>(null);
  const [list, setList] = useState<Provider[] | null>(null);
  const [error, setError] = useState("");
  const [adding, setAdding] = useState(false);
  const load = async () => {
    try {
      const [s, found] = await Promise.all([llmStatus(), admin ? providers() : Promise.resolve(null)]);
      setStatus(s);
      setList(found);
      setError("");
    } catch (e) {
      setError(message(e));
    }
  };
  useEffect(() => void load(), [admin]);
  const on = status?.available === true;
  return (
    <section class="card group stack" aria-labelledby="s-assistant" id="assistant-settings">
      <h3 id="s-assistant">{t("assistantSettings.title")}</h3>
      {error && <p class="error" role="alert">{error}</p>}
      {!status && !error && <Spinner />}
      {status && (
        <p class={`assistant-state${on ? " on" : ""}`} id="assistant-state">
          <span class="dot" aria-hidden="true" />
          <span>{on ? t("assistantSettings.on", { name: status.provider?.name ?? "?" }) : admin ? t("assistantSettings.offAdmin") : t("assistantSettings.off")}</span>
        </p>
      )}
      {admin && list && (
        <>
          <p class="small muted" style="margin:0">{t("assistantSettings.intro")}</p>
          {list.length > 0 && (
            <ul class="provider-list">
              {list.map((p) => <ProviderCard key={p.id} provider={p} onChanged={load} />)}
            </ul>
          )}
          {adding ? (
            <div class="provider stack" aria-labelledby="provider-add-title">
              <b id="provider-add-title">{t("assistantSettings.add")}</b>
              <ProviderForm onDone={(saved) => { setAdding(false); if (saved) void load(); }} />
            </div>
          ) : (
            <button type="button" class="wide" id="provider-add" onClick={() => setAdding(true)}><Icon name="plus" /> {t("assistantSettings.add")}</button>
          )}
        </>
      )}
    </section>
  );
}

function ProviderCard({ provider: p, onChanged }: { provider: Provider; onChanged: () => Promise<void> }): JSX.Element {
  const [editing, setEditing] = useState(false);
  const [busy, setBusy] = useState(false);
  const [result, setResult] = useState("");
  const [confirmRemove, setConfirmRemove] = useState(false);
  const implicit = p.id === FROM_SETTINGS;
  const run = async (work: () => Promise<unknown>, done?: string) => {
    setBusy(true);
    try {
      await work();
      if (done) toast(done);
      await onChanged();
    } catch (e) {
      toast(message(e));
    } finally {
      setBusy(false);
    }
  };
  if (editing) {
    return (
      <li class="provider stack" data-provider={p.id}>
        <b>{p.name}</b>
        <ProviderForm provider={p} onDone={(saved) => { setEditing(false); if (saved) void onChanged(); }} />
      </li>
    );
  }
  return (
    <li class="provider stack" data-provider={p.id} aria-label={p.name}>
      <div class="row" style="gap:8px">
        <b class="grow provider-name">{p.name}</b>
        {p.isDefault && <span class="kind provider-default">{t("assistantSettings.default")}</span>}
      </div>
      <div class="small muted provider-url">
        {[t(KIND_LABELS[p.kind]), p.url ?? "", p.defaultModel ? t("assistantSettings.modelIs", { model: p.defaultModel }) : "", p.hasKey ? t("assistantSettings.keyStored") : ""].filter(Boolean).join(" · ")}
      </div>
      {implicit && <div class="small muted">{t("assistantSettings.fromSettings")}</div>}
      {result && <div class="small provider-test" role="status">{result}</div>}
      {confirmRemove ? (
        <div class="row">
          <span class="grow small">{t("assistantSettings.removeAsk", { name: p.name })}</span>
          <button type="button" onClick={() => setConfirmRemove(false)}>{t("common.cancel")}</button>
          <button type="button" class="danger-fill provider-remove-yes" disabled={busy}
            onClick={() => void run(() => removeProvider(p.id), t("assistantSettings.removed", { name: p.name }))}>{t("common.delete")}</button>
        </div>
      ) : (
        <div class="provider-actions">
          <button type="button" class="provider-test-run" disabled={busy} onClick={() => void run(async () => setResult(providerTestSummary(await testProvider(p.id))))}>{t("assistantSettings.test")}</button>
          {!implicit && !p.isDefault && (
            <button type="button" class="provider-make-default" disabled={busy}
              onClick={() => void run(() => makeDefaultProvider(p.id), t("assistantSettings.defaultSet", { name: p.name }))}>{t("assistantSettings.makeDefault")}</button>
          )}
          {!implicit && <button type="button" class="provider-edit" disabled={busy} onClick={() => setEditing(true)}>{t("assistantSettings.edit")}</button>}
          {!implicit && <button type="button" class="danger provider-remove" disabled={busy} onClick={() => setConfirmRemove(true)}>{t("assistantSettings.remove")}</button>}
        </div>
      )}
    </li>
  );
}

function ProviderForm({ provider, onDone }: { provider?: Provider; onDone: (saved: boolean) => void }): JSX.Element {
  const [name, setName] = useState(provider?.name ?? "");
  const [kind, setKind] = useState<ProviderKind>(provider?.kind ?? "openai-compatible");
  const [url, setUrl] = useState(provider?.url ?? "");
  const [key, setKey] = useState("");
  const [model, setModel] = useState(provider?.defaultModel ?? "");
  const [timeout, setTimeoutText] = useState(provider?.timeout !== null && provider?.timeout !== undefined ? String(provider.timeout) : "");
  const [models, setModels] = useState<string[]>([]);
  const [result, setResult] = useState("");
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);
  const id = provider ? `pv-${provider.id}` : "pv-new";
  const fields = (): ProviderFields => {
    const f: ProviderFields = { name: name.trim(), kind, url: url.trim(), default_model: model.trim() };
    if (key.trim()) f.api_key = key.trim();
    const seconds = Number(timeout);
    if (timeout.trim() && Number.isFinite(seconds)) f.timeout = seconds;
    return f;
  };
  const work = async (step: () => Promise<void>) => {
    setBusy(true);
    setError("");
    try {
      await step();
    } catch (e) {
      setError(message(e));
    } finally {
      setBusy(false);
    }
  };
  const test = () => work(async () => {
    const found = provider && !key.trim() ? await testProvider(provider.id) : await testNewProvider(fields());
    setResult(providerTestSummary(found));
    if (found.models.length) setModels(found.models);
  });
  const loadModels = () => work(async () => setModels(provider ? await providerModels(provider.id) : (await testNewProvider(fields())).models));
  const save = (e: Event) => {
    e.preventDefault();
    if (!name.trim()) return setError(t("assistantSettings.needName"));
    void work(async () => {
      if (provider) await changeProvider(provider.id, fields());
      else await addProvider(fields());
      toast(t("assistantSettings.saved", { name: name.trim() }));
      onDone(true);
    });
  };
  return (
    <form class="stack provider-form" onSubmit={save} noValidate>
      <div>
        <label for={`${id}-name`}>{t("assistantSettings.name")}</label>
        <input id={`${id}-name`} value={name} maxLength={80} autocomplete="off" placeholder={t("assistantSettings.namePlaceholder")} onInput={(e) => setName(e.currentTarget.value)} />
      </div>
      <div>
        <label for={`${id}-kind`}>{t("assistantSettings.kind")}</label>
        <select id={`${id}-kind`} value={kind} onChange={(e) => setKind(e.currentTarget.value as ProviderKind)}>
          {PROVIDER_KINDS.map((k) => <option key={k} value={k}>{t(KIND_LABELS[k])}</option>)}
        </select>
      </div>
      <div>
        <label for={`${id}-url`}>{t("assistantSettings.url")}</label>
        <input id={`${id}-url`} type="url" inputMode="url" value={url} autocapitalize="none" autocomplete="off" spellcheck={false}
          placeholder={URL_EXAMPLES[kind]} aria-describedby={`${id}-url-hint`} onInput={(e) => setUrl(e.currentTarget.value)} />
        <p class="hint small muted" id={`${id}-url-hint`}>{kind === "openai-compatible" ? t("assistantSettings.urlHintCompatible") : kind === "ollama" ? t("assistantSettings.urlHintOllama") : t("assistantSettings.urlHintVendor")}</p>
      </div>
      <div>
        <label for={`${id}-key`}>{t("assistantSettings.key")}</label>
        <input id={`${id}-key`} type="password" autocomplete="new-password" spellcheck={false} value={key}
          placeholder={provider?.hasKey ? t("assistantSettings.keyReplace") : t("assistantSettings.keyOptional")} onInput={(e) => setKey(e.currentTarget.value)} />
      </div>
      <div>
        <label for={`${id}-model`}>{t("assistantSettings.model")}</label>
        <div class="row">
          <input id={`${id}-model`} class="grow" value={model} list={`${id}-models`} autocapitalize="none" autocomplete="off" spellcheck={false}
            placeholder={t("assistantSettings.modelPlaceholder")} onInput={(e) => setModel(e.currentTarget.value)} />
          <button type="button" class="provider-models" disabled={busy} onClick={() => void loadModels()}>{t("assistantSettings.loadModels")}</button>
        </div>
        <datalist id={`${id}-models`}>{models.map((m) => <option key={m} value={m} />)}</datalist>
        {models.length > 0 && (
          <div class="chips provider-model-list" aria-label={t("assistantSettings.models")}>
            {models.slice(0, 12).map((m) => <button type="button" key={m} class="chip" aria-pressed={m === model} onClick={() => setModel(m)}>{m}</button>)}
          </div>
        )}
      </div>
      <div>
        <label for={`${id}-timeout`}>{t("assistantSettings.timeout")}</label>
        <input id={`${id}-timeout`} type="number" inputMode="numeric" min={1} max={600} step={1} value={timeout} placeholder="60"
          onInput={(e) => setTimeoutText(e.currentTarget.value)} />
      </div>
      {result && <p class="small provider-form-test" role="status" style="margin:0">{result}</p>}
      {error && <p class="error" role="alert">{error}</p>}
      <div class="row">
        <button type="button" class="grow" onClick={() => onDone(false)}>{t("common.cancel")}</button>
        <button type="button" class="grow provider-form-try" disabled={busy} onClick={() => void test()}>{t("assistantSettings.test")}</button>
        <button type="submit" class="grow primary provider-form-save" disabled={busy}>{t("common.save")}</button>
      </div>
    </form>
  );
}
