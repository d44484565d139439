// "All settings": every widget of every node of a workflow, grouped by node (collapsible), edited with the
// form's own fields. Not a graph editor: a linked input is shown, never edited. What is changed here goes
// into the next job as values["<node id>.<input>"], which the server checks as it checks the form's fields.
import type { JSX } from "preact";
import { useEffect, useState } from "preact/hooks";
import { workflowNodes, type Json, type NodeSettings } from "../api";
import type { Values } from "../form";
import { humanKey, ownWord } from "../labels";
import { t } from "../i18n";
import { Field } from "./Field";
import { Icon } from "./Icons";
import { Spinner, message } from "./ui";

export function AllSettings({ workflow, changes, errors, onChange, onClose }: {
  workflow: string;
  changes: Values;
  errors: Record<string, string>;
  onChange: (changes: Values) => void;
  onClose: () => void;
}): JSX.Element {
  const [nodes, setNodes] = useState<NodeSettings[] | null>(null);
  const [error, setError] = useState("");
  useEffect(() => {
    workflowNodes(workflow).then(setNodes, (e) => setError(message(e)));
    const esc = (e: KeyboardEvent) => e.key === "Escape" && onClose();
    window.addEventListener("keydown", esc);
    return () => window.removeEventListener("keydown", esc);
  }, [workflow]);
  const set = (name: string, value: Json) => onChange({ ...changes, [name]: value });
  const count = Object.keys(changes).length;
  return (
    <div class="sheet-backdrop" onClick={(e) => e.target === e.currentTarget && onClose()}>
      <div class="sheet stack all-settings" role="dialog" aria-modal="true" aria-label={t("allSettings.title")} id="all-settings">
        <div class="row">
          <h2 class="grow">{t("allSettings.title")}</h2>
          <button type="button" class="icon ghost" aria-label={t("common.close")} onClick={onClose}><Icon name="close" /></button>
        </div>
        <p class="small muted" style="margin:0">{t("allSettings.hint")}</p>
        {error && <p class="error" role="alert">{error}</p>}
        {!nodes && !error && <Spinner />}
        {nodes?.map((node) => {
          const changed = node.widgets.some((w) => w.name in changes);
          return (
            <details key={node.id} class="card node-settings" data-node={node.id} open={changed || undefined}>
              <summary>
                <span class="name">{ownWord(node.title)}</span>
                <span class="small muted"> #{node.id}{node.title !== node.classType ? ` · ${node.classType}` : ""}</span>
                {changed && <span class="dot" aria-label={t("allSettings.changed")} />}
              </summary>
              {node.widgets.map((w) => {
                const param = { ...w, label: humanKey(w.input) };
                return w.linked ? (
                  <div class="field linked" key={w.name} data-field={w.name}>
                    <span class="label">{param.label}</span>
                    <span class="small muted">{t("allSettings.linked")}</span>
                  </div>
                ) : (
                  <Field key={w.name} param={param} value={w.name in changes ? changes[w.name] : w.default} error={errors[w.name]}
                    onChange={(v) => set(w.name, v)} />
                );
              })}
            </details>
          );
        })}
        <div class="row">
          <button type="button" class="grow" disabled={!count} onClick={() => onChange({})}>{t("allSettings.reset")}</button>
          <button type="button" class="grow primary" onClick={onClose}>{count ? t("allSettings.done", { count }) : t("common.close")}</button>
        </div>
      </div>
    </div>
  );
}
