// Sign in, or create the first admin on a fresh install (offered on the server's own machine only).
import type { JSX } from "preact";
import { useState } from "preact/hooks";
import { login, setup, type AuthStatus } from "../api";
import { message } from "../components/ui";
import { t } from "../i18n";

export function Login({ status, onSignedIn }: { status: AuthStatus; onSignedIn: () => void }): JSX.Element {
  const mode = status.setupRequired ? "setup" : "login";
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);
  const blocked = mode === "setup" && !status.setupAvailable;

  const submit = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setError("");
    try {
      await (mode === "setup" ? setup(username, password) : login(username, password));
      setPassword("");
      onSignedIn();
    } catch (e) {
      setError(message(e));
    } finally {
      setBusy(false);
    }
  };

  return (
    <main class="center">
      <form id="auth" class="card stack auth" onSubmit={submit} data-mode={mode} aria-labelledby="auth-title">
        <img class="logo" src="/cozygen/icon.svg" alt="" width={64} height={64} />
        <h1 id="auth-title" style="text-align:center">{mode === "setup" ? t("login.setupTitle") : t("login.title")}</h1>
        <p class="muted small" id="auth-hint" style="text-align:center;margin-top:6px">
          {mode === "setup"
            ? blocked
              ? t("login.setupBlocked")
              : t("login.setupWelcome")
            : t("login.protected")}
        </p>
        <div>
          <label for="username">{t("login.username")}</label>
          <input id="username" value={username} onInput={(e) => setUsername(e.currentTarget.value)} autocomplete="username"
            autocapitalize="none" autocorrect="off" spellcheck={false} required autoFocus />
        </div>
        <div>
          <label for="password">{t("login.password")}</label>
          <input id="password" type="password" value={password} onInput={(e) => setPassword(e.currentTarget.value)}
            autocomplete={mode === "setup" ? "new-password" : "current-password"} minLength={mode === "setup" ? 8 : undefined} required />
        </div>
        <button id="auth-go" type="submit" class="primary wide big" disabled={busy || blocked}>
          {mode === "setup" ? t("login.setupGo") : busy ? t("login.signingIn") : t("login.go")}
        </button>
        <div id="auth-message" class="error" role="alert">{error}</div>
      </form>
    </main>
  );
}
