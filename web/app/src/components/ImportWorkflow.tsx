// Import a workflow from the phone: a .json file (either format: the editor's or the API's) or pasted JSON,
// saved as the user's own workflow under a new name; then its form opens.
import type { JSX } from "preact";
import { useEffect, useState } from "preact/hooks";
import { importWorkflow } from "../api";
import { navigate } from "../router";
import { t } from "../i18n";
import { Icon } from "./Icons";
import { message, toast } from "./ui";

export function ImportWorkflow({ onClose }: { onClose: () => void }): JSX.Element {
  const [text, setText] = useState("");
  const [name, setName] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState("");
  useEffect(() => {
    const esc = (e: KeyboardEvent) => e.key === "Escape" && onClose();
    window.addEventListener("keydown", esc);
    return () => window.removeEventListener("keydown", esc);
  }, []);
  const send = async (body: string, as: string) => {
    setBusy(true);
    setError("");
    try {
      const saved = await importWorkflow(body, as || "imported");
      toast(t("import.saved", { name: saved }));
      onClose();
      navigate(`/cozygen/generate/${encodeURIComponent(saved)}`);
    } catch (e) {
      setError(message(e));
    } finally {
      setBusy(false);
    }
  };
  const pick = async (event: Event) => {
    const file = (event.currentTarget as HTMLInputElement).files?.[0];
    if (!file) return;
    await send(await file.text(), name || file.name.replace(/\.json$/i, ""));
  };
  return (
    <div class="sheet-backdrop" onClick={(e) => e.target === e.currentTarget && onClose()}>
      <div class="sheet stack" role="dialog" aria-modal="true" aria-label={t("import.title")} id="import-workflow">
        <div class="row">
          <h2 class="grow">{t("import.title")}</h2>
          <button type="button" class="icon ghost" aria-label={t("common.close")} onClick={onClose}><Icon name="close" /></button>
        </div>
        <p class="small muted" style="margin:0">{t("import.hint")}</p>
        <div class="field">
          <label for="import-name">{t("import.name")}</label>
          <input id="import-name" type="text" value={name} onInput={(e) => setName(e.currentTarget.value)} />
        </div>
        <label class="btn" for="import-file"><Icon name="folder" /> {t("import.file")}</label>
        <input id="import-file" class="sr-only" type="file" accept=".json,application/json" disabled={busy} onChange={pick} />
        <div class="field">
          <label for="import-text">{t("import.paste")}</label>
          <textarea id="import-text" rows={6} value={text} spellcheck={false} onInput={(e) => setText(e.currentTarget.value)} />
        </div>
        {error && <p class="error" role="alert" id="import-error">{error}</p>}
        <button type="button" class="primary" id="import-go" disabled={busy || !text.trim()} onClick={() => send(text, name)}>
          <Icon name="plus" /> {busy ? t("gen.sending") : t("import.go")}
        </button>
      </div>
    </div>
  );
}
