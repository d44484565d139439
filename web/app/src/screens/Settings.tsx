// This device's preferences and the account; the users for an admin.
import type { JSX } from "preact";
import { useEffect, useState } from "preact/hooks";
import { addUser, ApiError, backendSummaries, changePassword, logout, restartComfyUI, serverStartedAt, serverStats, users, type AuthStatus, type BackendSummary, type UserInfo } from "../api";
import { AssistantSettings } from "../components/AssistantSettings";
import { Icon } from "../components/Icons";
import { PushSettings } from "../components/PushSettings";
import { ServerSettings } from "../components/ServerSettings";
import { ServerStats } from "../components/ServerStats";
import { FINAL, useDownloads } from "../downloads";
import { hrefFor, linkClick } from "../router";
import { TopBar, message, toast } from "../components/ui";
import { setPrefs, usePrefs, type ThumbSize } from "../settings";
import { LanguagePicker } from "../components/LanguagePicker";
import { t, type Key } from "../i18n";

const THUMB_SIZES: Record<ThumbSize, Key> = { small: "settings.thumbSmall", medium: "settings.thumbMedium", large: "settings.thumbLarge" };
const ROLES: Record<string, Key> = { admin: "settings.roleAdmin", user: "settings.roleUser", viewer: "settings.roleViewer" };
/** A role in the language (a role the app does not know, as the server names it). */
const roleName = (role: string | null | undefined): string => (role && ROLES[role] ? t(ROLES[role]) : role ?? "");

export function Settings({ auth, onSignedOut }: { auth: AuthStatus; onSignedOut: () => void }): JSX.Element {
  const prefs = usePrefs();
  const [list, setList] = useState<UserInfo[] | null>(null);
  const admin = auth.authEnabled && auth.role === "admin";
  useEffect(() => {
    if (admin) users().then(setList, () => setList(null));
  }, [admin]);
  const notifications = "Notification" in window;
  const toggleNotify = async (on: boolean) => {
    if (on && notifications && Notification.permission !== "granted") {
      const answer = await Notification.requestPermission();
      if (answer !== "granted") return toast(t("push.blocked"));
    }
    setPrefs({ notify: on });
  };
  const signOut = async () => {
    try {
      await logout();
    } catch (e) {
      toast(message(e));
    }
    onSignedOut();
  };
  // "Signed in as {name}": the name (bold) goes where the language puts it
  const [signedInBefore, signedInAfter = ""] = t("settings.signedInAs", { name: "\u0001" }).split("\u0001");
  return (
    <>
      <TopBar title={t("nav.settings")} />
      <main class="stack">
        <section class="card group stack" aria-labelledby="s-look">
          <h3 id="s-look">{t("settings.appearance")}</h3>
          <div>
            <span class="label" id="theme-label">{t("settings.theme")}</span>
            <div class="seg" role="group" aria-labelledby="theme-label">
              <button type="button" aria-pressed={prefs.theme === "system"} onClick={() => setPrefs({ theme: "system" })} title={t("settings.themeSystemHint")}>{t("settings.themeSystem")}</button>
              <button type="button" aria-pressed={prefs.theme === "dark"} onClick={() => setPrefs({ theme: "dark" })}><Icon name="moon" /> {t("settings.themeDark")}</button>
              <button type="button" aria-pressed={prefs.theme === "light"} onClick={() => setPrefs({ theme: "light" })}><Icon name="sun" /> {t("settings.themeLight")}</button>
            </div>
          </div>
          <div>
            <span class="label" id="thumb-label">{t("settings.thumbSize")}</span>
            <div class="seg" role="group" aria-labelledby="thumb-label">
              {(["small", "medium", "large"] as ThumbSize[]).map((s) => (
                <button type="button" key={s} aria-pressed={prefs.thumbSize === s} onClick={() => setPrefs({ thumbSize: s })}>{t(THUMB_SIZES[s])}</button>
              ))}
            </div>
          </div>
          <LanguagePicker />
        </section>
        <section class="card group" aria-labelledby="s-notify">
          <h3 id="s-notify">{t("settings.notifications")}</h3>
          <div class="toggle">
            <label for="notify">{t("settings.notifyBackground")}</label>
            <input id="notify" type="checkbox" role="switch" checked={prefs.notify} disabled={!notifications} onChange={(e) => void toggleNotify(e.currentTarget.checked)} />
          </div>
          {!notifications && <p class="hint small muted">{t("settings.notifyNeedsHttps")}</p>}
          <PushSettings />
        </section>
        <section class="card group stack" aria-labelledby="s-account">
          <h3 id="s-account">{t("settings.account")}</h3>
          {auth.authEnabled ? (
            <>
              <p style="margin:0">{signedInBefore}<b id="account-name">{auth.user}</b>{signedInAfter} <span class="kind">{roleName(auth.role)}</span></p>
              <PasswordForm />
              <button type="button" id="sign-out" class="wide danger" onClick={signOut}>{t("settings.signOut")}</button>
            </>
          ) : (
            <p class="muted" style="margin:0">{t("settings.authOff")}</p>
          )}
        </section>
        {admin && list && (
          <section class="card group" aria-labelledby="s-users">
            <h3 id="s-users">{t("settings.users")}</h3>
            <ul class="list">
              {list.map((u) => (
                <li key={u.id} class="row" style="min-height:44px">
                  <span class="grow">{u.username}</span>
                  <span class="kind">{roleName(u.role)}</span>
                </li>
              ))}
            </ul>
            <AddUser onAdded={() => users().then(setList, () => undefined)} />
            <p class="small muted">{t("settings.rolesHint")}</p>
          </section>
        )}
        <ModelsLink manage={!auth.authEnabled || auth.role === "admin"} />
        {(!auth.authEnabled || auth.role === "admin") && <BackendsLink />}
        <AssistantSettings admin={!auth.authEnabled || auth.role === "admin"} />
        {(!auth.authEnabled || auth.role === "admin") && <ServerSettings />}
        <AboutBlock />
        <ServerStats />
        {(!auth.authEnabled || auth.role === "admin") && <RestartBlock />}
        <p class="small muted" style="text-align:center">CozyGen · <a href="/" target="_blank" rel="noopener">{t("settings.editor")}</a></p>
      </main>
    </>
  );
}

function PasswordForm(): JSX.Element {
  const [open, setOpen] = useState(false);
  const [current, setCurrent] = useState("");
  const [next, setNext] = useState("");
  const [error, setError] = useState("");
  if (!open) return <button type="button" class="wide" onClick={() => setOpen(true)}>{t("settings.changePassword")}</button>;
  const submit = async (e: Event) => {
    e.preventDefault();
    setError("");
    try {
      await changePassword(current, next);
      setOpen(false);
      setCurrent("");
      setNext("");
      toast(t("settings.passwordChanged"));
    } catch (err) {
      setError(message(err));
    }
  };
  return (
    <form class="stack" onSubmit={submit} aria-label={t("settings.changePassword")}>
      <div>
        <label for="pw-current">{t("settings.currentPassword")}</label>
        <input id="pw-current" type="password" autocomplete="current-password" value={current} onInput={(e) => setCurrent(e.currentTarget.value)} required />
      </div>
      <div>
        <label for="pw-new">{t("settings.newPassword")}</label>
        <input id="pw-new" type="password" autocomplete="new-password" minLength={8} value={next} onInput={(e) => setNext(e.currentTarget.value)} required />
      </div>
      {error && <p class="error" role="alert">{error}</p>}
      <div class="row">
        <button type="button" class="grow" onClick={() => setOpen(false)}>{t("common.cancel")}</button>
        <button type="submit" class="grow primary">{t("settings.change")}</button>
      </div>
    </form>
  );
}

function AddUser({ onAdded }: { onAdded: () => void }): JSX.Element {
  const [name, setName] = useState("");
  const [password, setPassword] = useState("");
  const [role, setRole] = useState("user");
  const [error, setError] = useState("");
  const submit = async (e: Event) => {
    e.preventDefault();
    setError("");
    try {
      await addUser(name.trim(), password, role);
      toast(t("settings.userAdded", { name: name.trim() }));
      setName("");
      setPassword("");
      onAdded();
    } catch (err) {
      setError(message(err));
    }
  };
  return (
    <form class="stack" style="margin-top:14px" onSubmit={submit} aria-label={t("settings.addUserLabel")}>
      <div class="row">
        <div class="grow">
          <label for="new-user">{t("settings.newUser")}</label>
          <input id="new-user" autocapitalize="none" autocomplete="off" value={name} onInput={(e) => setName(e.currentTarget.value)} required />
        </div>
        <div style="width:120px">
          <label for="new-role">{t("settings.role")}</label>
          <select id="new-role" value={role} onChange={(e) => setRole(e.currentTarget.value)}>
            <option value="viewer">{t("settings.roleViewer")}</option>
            <option value="user">{t("settings.roleUser")}</option>
            <option value="admin">{t("settings.roleAdmin")}</option>
          </select>
        </div>
      </div>
      <div>
        <label for="new-password">{t("login.password")}</label>
        <input id="new-password" type="password" autocomplete="new-password" minLength={8} value={password} onInput={(e) => setPassword(e.currentTarget.value)} required />
      </div>
      {error && <p class="error" role="alert">{error}</p>}
      <button type="submit" class="wide">{t("settings.addUser")}</button>
    </form>
  );
}

/** Settings → Models: the downloads and the model browser (admins), the installed models (everyone). */
function ModelsLink({ manage }: { manage: boolean }): JSX.Element {
  const running = useDownloads().filter((d) => !FINAL.has(d.state)).length;
  return (
    <section class="card group" aria-labelledby="s-models">
      <h3 id="s-models">{t("models.title")}</h3>
      <a class="link-row" id="models-open" href={hrefFor({ screen: "models" })} onClick={linkClick}>
        <Icon name="download" />
        <span class="grow">{manage ? t("settings.modelsManage") : t("settings.modelsBrowse")}</span>
        {running > 0 && <span class="badge" aria-label={t("settings.modelsRunning", { count: running })}>{running}</span>}
        <Icon name="chev" />
      </a>
    </section>
  );
}

/** Settings → Backends (admins): the ComfyUI servers that run the jobs, with how many are down. */
function BackendsLink(): JSX.Element {
  const [list, setList] = useState<BackendSummary[]>([]);
  useEffect(() => {
    backendSummaries().then(setList, () => undefined);
  }, []);
  const down = list.filter((b) => b.state === "down").length;
  return (
    <section class="card group" aria-labelledby="s-backends">
      <h3 id="s-backends">{t("backends.title")}</h3>
      <a class="link-row" id="backends-open" href={hrefFor({ screen: "backends" })} onClick={linkClick}>
        <Icon name="queue" />
        <span class="grow">{list.length > 1 ? t("backends.linkMany", { count: list.length }) : t("backends.link")}</span>
        {down > 0 && <span class="badge" aria-label={t("backends.downCount", { count: down })}>{down}</span>}
        <Icon name="chev" />
      </a>
    </section>
  );
}

/** The versions this server runs (from /cozygen/api/health). */
function AboutBlock(): JSX.Element {
  const [about, setAbout] = useState<{ version: string; comfyui: string } | null>(null);
  useEffect(() => {
    fetch("/cozygen/api/health", { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then((r) => (r.ok ? r.json() : null))
      .then((d: { version?: unknown; comfyui_version?: unknown } | null) => d && setAbout({ version: String(d.version ?? "?"), comfyui: String(d.comfyui_version ?? "?") }))
      .catch(() => undefined);
  }, []);
  return (
    <section class="card group" aria-labelledby="s-about">
      <h3 id="s-about">{t("settings.about")}</h3>
      <p style="margin:0" id="about-version">CozyGen {about ? about.version : "…"}{about ? ` · ComfyUI ${about.comfyui}` : ""}</p>
    </section>
  );
}

const RESTART_WAIT_MS = 180_000;

/** Admins: restart ComfyUI, after a confirm step that names what is lost; then wait for it and reload. */
function RestartBlock(): JSX.Element {
  const [step, setStep] = useState<"idle" | "confirm" | "restarting" | "stuck">("idle");
  const [jobs, setJobs] = useState(0);
  const [error, setError] = useState("");
  const ask = async () => {
    setError("");
    try {
      const stats = await serverStats();
      setJobs(stats.queue.running + stats.queue.pending);
    } catch {
      setJobs(0);
    }
    setStep("confirm");
  };
  const restart = async () => {
    setError("");
    let before: number | null;
    try {
      before = (await restartComfyUI(jobs > 0)).startedAt;
    } catch (e) {
      if (e instanceof ApiError && e.code === "JOBS_ON_QUEUE") setJobs(Math.max(jobs, 1));
      setError(message(e));
      return;
    }
    setStep("restarting");
    const deadline = Date.now() + RESTART_WAIT_MS;
    for (;;) {
      await new Promise((resolve) => setTimeout(resolve, 1000));
      const now = await serverStartedAt();
      if (now !== null && now !== before) return window.location.reload();
      if (Date.now() > deadline) return setStep("stuck");
    }
  };
  return (
    <section class="card group stack" aria-labelledby="s-restart" id="restart">
      <h3 id="s-restart">{t("settings.restart")}</h3>
      {step === "idle" && (
        <>
          <p class="small muted" style="margin:0">{t("settings.restartHint")}</p>
          <button type="button" class="wide" id="restart-ask" onClick={() => void ask()}>{t("settings.restartAsk")}</button>
        </>
      )}
      {step === "confirm" && (
        <>
          <p class="restart-warning" role="alert" style="margin:0">
            {jobs > 0 ? t("settings.restartLoses", { count: jobs }) : t("settings.restartNothing")} {t("settings.restartDowntime")}
          </p>
          {error && <p class="error" role="alert">{error}</p>}
          <div class="row">
            <button type="button" class="grow" onClick={() => setStep("idle")}>{t("common.cancel")}</button>
            <button type="button" class="grow primary restart-confirm" id="restart-confirm" onClick={() => void restart()}>
              {jobs > 0 ? t("settings.restartAnyway") : t("settings.restartNow")}
            </button>
          </div>
        </>
      )}
      {step === "restarting" && (
        <p class="small" role="status" aria-live="polite" id="restart-status" style="margin:0">
          <span class="restart-spinner" aria-hidden="true" /> {t("settings.restarting")}
        </p>
      )}
      {step === "stuck" && (
        <p class="error" role="alert" style="margin:0">{t("settings.restartTimeout")}</p>
      )}
    </section>
  );
}
