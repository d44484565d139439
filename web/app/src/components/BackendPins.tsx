// Settings → Backends → Pinned workflows (admins): a workflow pinned to a backend runs only there, unless a job
// names its own backend. Add, change and remove pins; the server answers every pin after each change.
import type { JSX } from "preact";
import { useEffect, useState } from "preact/hooks";
import { backendPins, pinWorkflow, unpinWorkflow, workflows, type Backend, type BackendPin } from "../api";
import { t } from "../i18n";
import { prettyName } from "../screens/Workflows";
import { Icon } from "./Icons";
import { Spinner, message, toast } from "./ui";

const label = (b: Backend): string => (b.local ? t("backends.localName") : b.name);

/** The backends a pin may name (the server drops a pin with its backend, so a pin's is always listed). */
function BackendSelect({ id, value, list, onChange, disabled }: { id: string; value: string; list: Backend[]; onChange: (id: string) => void; disabled?: boolean }): JSX.Element {
  return (
    <select id={id} class="grow" value={value} disabled={disabled} style="min-width:0" aria-label={t("backends.pinBackend")} onChange={(e) => onChange(e.currentTarget.value)}>
      {list.map((b) => <option key={b.id} value={b.id}>{label(b)}{b.enabled ? "" : ` (${t("backends.disabled")})`}</option>)}
    </select>
  );
}

export function BackendPins({ list }: { list: Backend[] }): JSX.Element {
  const [pins, setPins] = useState<BackendPin[] | null>(null);
  const [names, setNames] = useState<string[]>([]);
  const [workflow, setWorkflow] = useState("");
  const [target, setTarget] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState("");
  const ids = list.map((b) => b.id).join(" ");
  useEffect(() => {
    // read again when a backend comes or goes: removing a backend drops the pins naming it
    backendPins().then((found) => { setPins(found); setError(""); }, (e) => setError(message(e)));
  }, [ids]);
  useEffect(() => {
    workflows().then((found) => setNames(found.map((w) => w.name)), () => undefined);
  }, []);
  const change = async (work: () => Promise<BackendPin[]>, done: string) => {
    setBusy(true);
    try {
      setPins(await work());
      toast(done);
      return true;
    } catch (e) {
      toast(message(e));
      return false;
    } finally {
      setBusy(false);
    }
  };
  const pinned = new Set(pins?.map((p) => p.workflow));
  const free = names.filter((n) => !pinned.has(n));
  const chosen = workflow && free.includes(workflow) ? workflow : free[0] ?? "";
  const to = target && list.some((b) => b.id === target) ? target : list[0]?.id ?? "";
  const backendName = (id: string) => { const b = list.find((x) => x.id === id); return b ? label(b) : id; };
  const add = async () => {
    if (await change(() => pinWorkflow(chosen, to), t("backends.pinned", { workflow: prettyName(chosen), name: backendName(to) }))) setWorkflow("");
  };
  return (
    <section class="card group backend-pins" aria-labelledby="backend-pins-title">
      <h3 id="backend-pins-title">{t("backends.pinsTitle")}</h3>
      <p class="small muted" style="margin:0 0 10px">{t("backends.pinsHint")}</p>
      {error && <p class="error" role="alert">{error}</p>}
      {!pins && !error && <Spinner />}
      {pins?.length === 0 && <p class="small muted backend-pins-none" style="margin:0 0 10px">{t("backends.pinsNone")}</p>}
      {pins && pins.length > 0 && (
        <ul class="list pins">
          {pins.map((p) => {
            const id = `pin-${p.workflow.replace(/[^A-Za-z0-9_-]/g, "_")}`;
            return (
              <li key={p.workflow} class="pin" data-workflow={p.workflow}>
                <label for={id} class="pin-workflow" title={p.workflow}>{prettyName(p.workflow)}</label>
                <div class="row">
                  <BackendSelect id={id} value={p.backend} list={list} disabled={busy}
                    onChange={(b) => void change(() => pinWorkflow(p.workflow, b), t("backends.pinned", { workflow: prettyName(p.workflow), name: backendName(b) }))} />
                  <button type="button" class="icon pin-remove" disabled={busy} aria-label={t("backends.unpinLabel", { workflow: prettyName(p.workflow) })}
                    onClick={() => void change(() => unpinWorkflow(p.workflow), t("backends.unpinned", { workflow: prettyName(p.workflow) }))}>
                    <Icon name="close" />
                  </button>
                </div>
              </li>
            );
          })}
        </ul>
      )}
      {pins && free.length > 0 && list.length > 0 && (
        <div class="pin-add stack" style="margin-top:12px">
          <label for="pin-new-workflow">{t("backends.pinWorkflow")}</label>
          <select id="pin-new-workflow" value={chosen} onChange={(e) => setWorkflow(e.currentTarget.value)}>
            {free.map((n) => <option key={n} value={n}>{prettyName(n)}</option>)}
          </select>
          <div class="row">
            <BackendSelect id="pin-new-backend" value={to} list={list} onChange={setTarget} />
            <button type="button" class="pin-add-btn" disabled={busy || !chosen || !to} onClick={() => void add()}>
              <Icon name="plus" /> {t("backends.pinAdd")}
            </button>
          </div>
        </div>
      )}
    </section>
  );
}
