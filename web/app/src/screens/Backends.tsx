// Settings → Backends (admins): the ComfyUI servers that run CozyGen's jobs. Each with its health, its queue,
// CozyGen's jobs there and what it lacks for each workflow; add, edit, test, disable and remove (this ComfyUI: only
// enabled, jobs at once and tags); which workflows are pinned to which backend. A token or password is write-only:
// the server answers only whether one is stored, and the form sends one only when typed.
import type { JSX } from "preact";
import { useEffect, useState } from "preact/hooks";
import {
  addBackend, ApiError, AUTH_KINDS, backendCheck, backends, changeBackend, removeBackend, testBackend, testNewBackend,
  type AuthKind, type Backend, type BackendCheck, type BackendFields, type BackendState, type BackendTest,
} from "../api";
import { BackendPins } from "../components/BackendPins";
import { Icon } from "../components/Icons";
import { Empty, Spinner, TopBar, message, toast } from "../components/ui";
import { formatNumber, t, type Key } from "../i18n";
import { BACKEND_CHANGED_WINDOW_EVENT } from "../live";
import { hrefFor, navigate } from "../router";
import { prettyName } from "./Workflows";

const STATES: Record<BackendState, Key> = { up: "backends.up", down: "backends.down", unknown: "backends.unknown", disabled: "backends.disabled" };
const AUTH_LABELS: Record<AuthKind, Key> = { none: "backends.authNone", bearer: "backends.authBearer", basic: "backends.authBasic" };
const POLL_MS = 10_000;

/** "sdxl, video" or "sdxl video" → ["sdxl", "video"]. */
export const splitTags = (text: string): string[] => [...new Set(text.split(/[\s,]+/).map((s) => s.trim().toLowerCase()).filter(Boolean))];

/** The screen's words for a test's outcome. */
export function testSummary(result: BackendTest): string {
  if (!result.ok) return t("backends.testFailed", { error: result.error ?? "?" });
  const latency = result.latencyMs === null ? "?" : formatNumber(Math.round(result.latencyMs));
  return t("backends.testOk", { version: result.comfyuiVersion ?? "?", ms: latency, nodes: result.nodes ?? 0 });
}

export function Backends(): JSX.Element {
  const [list, setList] = useState<Backend[] | null>(null);
  const [error, setError] = useState("");
  const [adding, setAdding] = useState(false);
  const load = () => backends().then((found) => { setList(found); setError(""); }, (e) => setError(message(e)));
  useEffect(() => {
    void load();
    const timer = setInterval(() => void load(), POLL_MS);
    const changed = () => void load();
    window.addEventListener(BACKEND_CHANGED_WINDOW_EVENT, changed);
    return () => {
      clearInterval(timer);
      window.removeEventListener(BACKEND_CHANGED_WINDOW_EVENT, changed);
    };
  }, []);
  return (
    <>
      <TopBar title={t("backends.title")} back={() => navigate(hrefFor({ screen: "settings" }))} />
      <main class="stack">
        <p class="small muted" style="margin:0 2px">{t("backends.intro")}</p>
        {error && <p class="error" role="alert">{error}</p>}
        {!list && !error && <Spinner />}
        {list?.length === 0 && <Empty>{t("backends.none")}</Empty>}
        <ul class="list backends">
          {list?.map((b) => <BackendCard key={b.id} backend={b} onChanged={load} />)}
        </ul>
        {adding ? (
          <section class="card group" aria-labelledby="backend-add-title">
            <h3 id="backend-add-title">{t("backends.add")}</h3>
            <BackendForm onDone={(saved) => { setAdding(false); if (saved) void load(); }} />
          </section>
        ) : (
          <button type="button" class="wide primary" id="backend-add" onClick={() => setAdding(true)}><Icon name="plus" /> {t("backends.add")}</button>
        )}
        {list && <BackendPins list={list} />}
      </main>
    </>
  );
}

function BackendCard({ backend: b, onChanged }: { backend: Backend; onChanged: () => Promise<void> }): JSX.Element {
  const [editing, setEditing] = useState(false);
  const [busy, setBusy] = useState(false);
  const [result, setResult] = useState("");
  const [lacks, setLacks] = useState<BackendCheck | null>(null);
  const [lacksOpen, setLacksOpen] = useState(false);
  const [confirmRemove, setConfirmRemove] = useState(false);
  const state = b.enabled ? b.health.state : "disabled";
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
  const test = () => run(async () => setResult(testSummary(await testBackend(b.id))));
  const toggle = () => run(() => changeBackend(b.id, { enabled: !b.enabled }), b.enabled ? t("backends.disabledToast", { name: b.name }) : t("backends.enabledToast", { name: b.name }));
  const remove = () => run(() => removeBackend(b.id), t("backends.removed", { name: b.name }));
  const showLacks = async () => {
    setLacksOpen(!lacksOpen);
    if (lacksOpen) return;
    try {
      setLacks(await backendCheck(b.id));
    } catch (e) {
      setLacksOpen(false);
      toast(message(e));
    }
  };
  const lacking = lacks?.workflows.filter((w) => w.missing.length || w.error) ?? [];
  return (
    <li class="card backend stack" data-backend={b.id} aria-label={b.name}>
      <div class="row" style="gap:8px">
        <span class={`bk-state ${state}`}>{t(STATES[state])}</span>
        <b class="grow backend-name" style="overflow:hidden;text-overflow:ellipsis;white-space:nowrap">{b.local ? t("backends.localName") : b.name}</b>
        {b.tags.map((tag) => <span key={tag} class="kind">{tag}</span>)}
      </div>
      <div class="small muted backend-url" style="overflow-wrap:anywhere">{b.local ? t("backends.localHint") : b.url}</div>
      <div class="small backend-queue">
        {[
          t("backends.queue", { running: b.health.running, pending: b.health.pending }),
          t("backends.ours", { count: b.activeJobs }),
          t("backends.atOnce", { count: b.maxJobs }),
          b.health.latencyMs !== null && state === "up" ? t("backends.latency", { ms: Math.round(b.health.latencyMs) }) : "",
          b.health.comfyuiVersion ? `ComfyUI ${b.health.comfyuiVersion}` : "",
        ].filter(Boolean).join(" · ")}
      </div>
      {b.health.error && state === "down" && <p class="error backend-error" style="margin:0">{b.health.error}</p>}
      {result && <p class="small backend-test" role="status" style="margin:0">{result}</p>}
      {lacksOpen && (
        <div class="backend-lacks small" aria-live="polite">
          {!lacks && <Spinner />}
          {lacks && !lacks.nodesKnown && <p class="muted" style="margin:0">{t("backends.nodesUnknown")}</p>}
          {lacks && lacks.nodesKnown && !lacking.length && <p class="ok" style="margin:0">{t("backends.lacksNothing")}</p>}
          {lacks && lacks.nodesKnown && lacking.length > 0 && (
            <ul class="lacks">
              {lacking.map((w) => (
                <li key={w.workflow}>
                  <b>{prettyName(w.workflow)}</b>: {w.error ?? w.missing.join(", ")}
                </li>
              ))}
            </ul>
          )}
        </div>
      )}
      {editing ? (
        <BackendForm backend={b} onDone={(saved) => { setEditing(false); if (saved) void onChanged(); }} />
      ) : confirmRemove ? (
        <div class="row">
          <span class="grow danger small">{t("backends.removeAsk", { name: b.name })}</span>
          <button type="button" onClick={() => setConfirmRemove(false)}>{t("common.cancel")}</button>
          <button type="button" class="danger backend-remove-confirm" disabled={busy} onClick={() => void remove()}>{t("backends.remove")}</button>
        </div>
      ) : (
        <div class="row backend-actions" style="flex-wrap:wrap;gap:6px">
          <button type="button" class="chip backend-test-btn" disabled={busy} onClick={() => void test()}>{t("backends.test")}</button>
          <button type="button" class="chip backend-lacks-btn" aria-expanded={lacksOpen} onClick={() => void showLacks()}>{t("backends.lacks")}</button>
          <button type="button" class="chip backend-edit" onClick={() => setEditing(true)}>{t("backends.edit")}</button>
          <button type="button" class="chip backend-toggle" disabled={busy} onClick={() => void toggle()}>{b.enabled ? t("backends.disable") : t("backends.enable")}</button>
          {!b.local && <button type="button" class="chip danger backend-remove" onClick={() => setConfirmRemove(true)}>{t("backends.remove")}</button>}
        </div>
      )}
    </li>
  );
}

/** Add (no `backend`) or edit a backend; `onDone(true)` once saved. This ComfyUI's own form has only what the
 * server lets change there (jobs at once and tags; enabled is the card's toggle). */
function BackendForm({ backend, onDone }: { backend?: Backend; onDone: (saved: boolean) => void }): JSX.Element {
  const id = backend ? `bk-${backend.id}` : "bk-new";
  const [name, setName] = useState(backend?.name ?? "");
  const [url, setUrl] = useState(backend?.url ?? "");
  const [auth, setAuth] = useState<AuthKind>(backend?.auth ?? "none");
  const [user, setUser] = useState(backend?.authUser ?? "");
  const [secret, setSecret] = useState("");
  const [maxJobs, setMaxJobs] = useState(String(backend?.maxJobs ?? 1));
  const [tags, setTags] = useState(backend?.tags.join(", ") ?? "");
  const [error, setError] = useState("");
  const [field, setField] = useState("");
  const [result, setResult] = useState("");
  const [busy, setBusy] = useState(false);
  const local = backend?.local === true;
  const fields = (): BackendFields => {
    if (local) return { max_jobs: Number(maxJobs) || 1, tags: splitTags(tags) };
    const out: BackendFields = { name: name.trim(), url: url.trim(), auth, max_jobs: Number(maxJobs) || 1, tags: splitTags(tags) };
    if (auth === "basic") out.auth_user = user.trim();
    if (auth !== "none" && secret) out.secret = secret; // write-only: sent only when typed
    return out;
  };
  const fail = (e: unknown) => {
    setError(message(e));
    setField(e instanceof ApiError && typeof e.body.field === "string" ? e.body.field : "");
  };
  const tryIt = async () => {
    setBusy(true);
    setError("");
    try {
      const { url: u, auth: a, auth_user: au, secret: s } = fields();
      setResult(testSummary(await testNewBackend({ url: u, auth: a, auth_user: au, secret: s })));
    } catch (e) {
      fail(e);
    } finally {
      setBusy(false);
    }
  };
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError("");
    try {
      const saved = backend ? await changeBackend(backend.id, fields()) : await addBackend(fields());
      toast(backend ? t("backends.saved", { name: local ? t("backends.localName") : saved.name }) : t("backends.added", { name: saved.name }));
      onDone(true);
    } catch (err) {
      fail(err);
    } finally {
      setBusy(false);
    }
  };
  const invalid = (f: string) => (field === f ? true : undefined);
  return (
    <form class="stack backend-form" onSubmit={submit} aria-label={backend ? t("backends.editLabel", { name: local ? t("backends.localName") : backend.name }) : t("backends.add")}>
      {local ? <p class="hint small muted backend-local-hint" style="margin:0">{t("backends.localFormHint")}</p> : <>
      <div>
        <label for={`${id}-name`}>{t("backends.name")}</label>
        <input id={`${id}-name`} value={name} autocomplete="off" autocapitalize="none" required aria-invalid={invalid("name")} placeholder="attic-pc" onInput={(e) => setName(e.currentTarget.value)} />
      </div>
      <div>
        <label for={`${id}-url`}>{t("backends.url")}</label>
        <input id={`${id}-url`} type="url" inputMode="url" value={url} autocomplete="off" autocapitalize="none" required aria-invalid={invalid("url")} placeholder="http://192.168.1.20:8188" aria-describedby={`${id}-url-hint`} onInput={(e) => setUrl(e.currentTarget.value)} />
        <p class="hint small muted" id={`${id}-url-hint`}>{t("backends.urlHint")}</p>
      </div>
      <div class="toggle">
        <label for={`${id}-auth`}>{t("backends.auth")}</label>
        <select id={`${id}-auth`} value={auth} style="width:auto" onChange={(e) => setAuth(e.currentTarget.value as AuthKind)}>
          {AUTH_KINDS.map((k) => <option key={k} value={k}>{t(AUTH_LABELS[k])}</option>)}
        </select>
      </div>
      {auth === "basic" && (
        <div>
          <label for={`${id}-user`}>{t("backends.user")}</label>
          <input id={`${id}-user`} value={user} autocomplete="off" autocapitalize="none" aria-invalid={invalid("auth_user")} onInput={(e) => setUser(e.currentTarget.value)} />
        </div>
      )}
      {auth !== "none" && (
        <div>
          <label for={`${id}-secret`}>{auth === "bearer" ? t("backends.token") : t("backends.password")}</label>
          <input id={`${id}-secret`} type="password" value={secret} autocomplete="new-password" aria-invalid={invalid("secret")}
            placeholder={backend?.hasSecret ? t("backends.secretKept") : ""} onInput={(e) => setSecret(e.currentTarget.value)} />
          <p class="hint small muted">{backend?.hasSecret ? t("backends.secretKeptHint") : t("backends.secretHint")}</p>
        </div>
      )}
      </>}
      <div class="row">
        <div style="width:110px">
          <label for={`${id}-max`}>{t("backends.maxJobs")}</label>
          <input id={`${id}-max`} type="number" inputMode="numeric" min={1} max={64} value={maxJobs} aria-invalid={invalid("max_jobs")} onInput={(e) => setMaxJobs(e.currentTarget.value)} />
        </div>
        <div class="grow">
          <label for={`${id}-tags`}>{t("backends.tags")}</label>
          <input id={`${id}-tags`} value={tags} autocomplete="off" autocapitalize="none" placeholder="sdxl, video" aria-invalid={invalid("tags")} onInput={(e) => setTags(e.currentTarget.value)} />
        </div>
      </div>
      {result && <p class="small backend-form-test" role="status" style="margin:0">{result}</p>}
      {error && <p class="error" role="alert">{error}</p>}
      <div class="row">
        <button type="button" class="grow" onClick={() => onDone(false)}>{t("common.cancel")}</button>
        {!local && <button type="button" class="grow backend-form-try" disabled={busy || !url.trim()} onClick={() => void tryIt()}>{t("backends.test")}</button>}
        <button type="submit" class="grow primary backend-form-save" disabled={busy}>{t("backends.save")}</button>
      </div>
    </form>
  );
}
