// The app: who is signed in, then the shell (screen + tab bar + viewer + toasts).
import type { JSX } from "preact";
import { useEffect, useState } from "preact/hooks";
import { authStatus, type AuthStatus, type Job } from "./api";
import { Icon } from "./components/Icons";
import { Spinner, Toasts, message, toast } from "./components/ui";
import { t, useLang, type Key } from "./i18n";
import { jobStore, TERMINAL } from "./jobs";
import { hrefFor, linkClick, useRoute, type Route } from "./router";
import { followSystemTheme, getPrefs } from "./settings";
import { Gallery } from "./screens/Gallery";
import { Generate } from "./screens/Generate";
import { History } from "./screens/History";
import { Login } from "./screens/Login";
import { Backends } from "./screens/Backends";
import { Models } from "./screens/Models";
import { Queue } from "./screens/Queue";
import { Settings } from "./screens/Settings";
import { Viewer } from "./screens/Viewer";
import { Workflows } from "./screens/Workflows";

/** Where to go after signing in: only a path on this server (never another site). */
export function nextPath(search: string): string | null {
  const next = new URLSearchParams(search).get("next");
  return next && next.startsWith("/") && !next.startsWith("//") && !next.startsWith("/\\") ? next : null;
}

export function App(): JSX.Element {
  const [auth, setAuth] = useState<AuthStatus | null>(null);
  const [error, setError] = useState<string | null>(null);
  useLang(); // a language switch re-renders the whole app from here
  const load = () => {
    setError(null);
    authStatus().then(setAuth, (e) => setError(message(e)));
  };
  useEffect(load, []);
  useEffect(followSystemTheme, []);
  useEffect(() => {
    const recheck = () => authStatus().then(setAuth, () => undefined);
    window.addEventListener("cozygen:unauthorized", recheck);
    return () => window.removeEventListener("cozygen:unauthorized", recheck);
  }, []);

  if (error)
    return (
      <main class="center">
        <div class="card stack auth" role="alert" style="text-align:center">
          <img class="logo" src="/cozygen/icon.svg" alt="" width={64} height={64} />
          <h1>{t("app.unreachable")}</h1>
          <p class="muted">{error}</p>
          <button type="button" class="primary wide" onClick={load}>{t("app.tryAgain")}</button>
        </div>
      </main>
    );
  if (!auth) return <main class="center"><Spinner /></main>;
  if (auth.authEnabled && !auth.authenticated)
    return (
      <Login
        status={auth}
        onSignedIn={() => {
          const next = nextPath(location.search);
          if (next) location.replace(next);
          else authStatus().then(setAuth, (e) => setError(message(e)));
        }}
      />
    );
  return <Shell auth={auth} onSignedOut={() => authStatus().then(setAuth, (e) => setError(message(e)))} />;
}

const TABS: { route: Route; label: Key; icon: string; match: Route["screen"][] }[] = [
  { route: { screen: "workflows" }, label: "nav.generate", icon: "spark", match: ["workflows", "generate"] },
  { route: { screen: "gallery", subfolder: "" }, label: "nav.gallery", icon: "grid", match: ["gallery"] },
  { route: { screen: "queue" }, label: "nav.queue", icon: "queue", match: ["queue", "history"] },
  { route: { screen: "settings" }, label: "nav.settings", icon: "gear", match: ["settings", "models", "backends"] },
];

function notifyDone(job: Job): void {
  const text =
    job.status === "completed" ? t("notify.done", { count: job.images.length })
    : job.status === "failed" ? t("notify.failed")
    : job.status === "cancelled" ? t("notify.cancelled")
    : t("notify.interrupted");
  if (document.visibilityState === "hidden" && getPrefs().notify && "Notification" in window && Notification.permission === "granted") {
    const body = job.workflow ? job.workflow.replace(/\.json$/, "") : "CozyGen";
    const plain = () => void new Notification(text, { body, icon: "/cozygen/icon-192.png" });
    navigator.serviceWorker?.getRegistration("/cozygen/").then(
      (reg) => (reg ? void reg.showNotification(text, { body, icon: "/cozygen/icon-192.png", tag: job.id }) : plain()),
      plain,
    );
  }
}

function Shell({ auth, onSignedOut }: { auth: AuthStatus; onSignedOut: () => void }): JSX.Element {
  const route = useRoute();
  const [active, setActive] = useState(0);
  useEffect(() => {
    jobStore.connect();
    jobStore.onFinished = notifyDone;
    const update = () => setActive([...jobStore.jobs.values()].filter((j) => !TERMINAL.has(j.status)).length);
    const off = jobStore.subscribe(update);
    return () => {
      off();
      jobStore.disconnect();
    };
  }, []);

  // what an admin may do (with sign-in off, everyone may): downloads, deleting models, the server's settings
  const admin = !auth.authEnabled || auth.role === "admin";
  let screen: JSX.Element;
  switch (route.screen) {
    case "generate":
      screen = <Generate key={route.workflow} workflow={route.workflow} admin={admin} />;
      break;
    case "gallery":
      screen = <Gallery subfolder={route.subfolder} root={route.root ?? "output"} />;
      break;
    case "queue":
      screen = <Queue admin={auth.authEnabled && auth.role === "admin"} />; // "all users" means nothing with sign-in off
      break;
    case "history":
      screen = <History admin={auth.authEnabled && auth.role === "admin"} />;
      break;
    case "settings":
      screen = <Settings auth={auth} onSignedOut={onSignedOut} />;
      break;
    case "models":
      screen = <Models admin={admin} />;
      break;
    case "backends":
      screen = admin ? <Backends /> : <Settings auth={auth} onSignedOut={onSignedOut} />; // admins only
      break;
    default:
      screen = <Workflows admin={admin} />;
  }
  return (
    <div class="app">
      <a class="sr-only" href="#content">{t("app.skipToContent")}</a>
      <div id="content">{screen}</div>
      <nav class="tabs" aria-label={t("nav.main")}>
        {TABS.map((tab) => (
          <a key={tab.label} href={hrefFor(tab.route)} onClick={linkClick} aria-current={tab.match.includes(route.screen) ? "page" : undefined}>
            <Icon name={tab.icon} />
            {t(tab.label)}
            {tab.label === "nav.queue" && active > 0 && <span class="badge" aria-label={t("nav.running", { count: active })}>{active}</span>}
          </a>
        ))}
      </nav>
      <Viewer />
      <Toasts />
    </div>
  );
}

export { toast };
