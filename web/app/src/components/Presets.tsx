// Saved sets of values for a workflow: apply, save, rename, delete.
import type { JSX } from "preact";
import { useEffect, useState } from "preact/hooks";
import { deletePreset, presets as listPresets, savePreset, type Preset } from "../api";
import type { Values } from "../form";
import { message, toast } from "./ui";
import { t } from "../i18n";

export function Presets({ workflow, values, onApply }: { workflow: string; values: Values; onApply: (v: Values) => void }): JSX.Element {
  const [items, setItems] = useState<Preset[]>([]);
  const [chosen, setChosen] = useState("");
  useEffect(() => {
    listPresets(workflow).then(setItems, () => setItems([]));
  }, [workflow]);
  const current = items.find((p) => p.id === chosen);

  const run = async (work: () => Promise<Preset[]>, done: string) => {
    try {
      const next = await work();
      setItems(next);
      toast(done);
      return next;
    } catch (e) {
      toast(message(e));
      return null;
    }
  };
  const save = async () => {
    const name = prompt(t("preset.namePrompt"), current?.name ?? "")?.trim();
    if (!name) return;
    const same = items.find((p) => p.name === name);
    const next = await run(() => savePreset(workflow, { id: same?.id, name, values }), t("preset.saved", { name }));
    const saved = next?.find((p) => p.name === name);
    if (saved) setChosen(saved.id);
  };
  const rename = async () => {
    if (!current) return;
    const name = prompt(t("preset.newName"), current.name)?.trim();
    if (!name || name === current.name) return;
    await run(() => savePreset(workflow, { id: current.id, name, values: current.values }), t("preset.renamed", { name }));
  };
  const remove = async () => {
    if (!current || !confirm(t("preset.confirmDelete", { name: current.name }))) return;
    await run(() => deletePreset(workflow, current.id), t("preset.deleted", { name: current.name }));
    setChosen("");
  };

  return (
    <section class="card group" aria-labelledby="presets-title">
      <h3 id="presets-title">{t("preset.title")}</h3>
      <div class="row">
        <label for="preset" class="sr-only">{t("preset.label")}</label>
        <select id="preset" class="grow" value={chosen} onChange={(e) => {
          const id = e.currentTarget.value;
          setChosen(id);
          const p = items.find((x) => x.id === id);
          if (p) { onApply(p.values); toast(t("preset.applied", { name: p.name })); }
        }}>
          <option value="">{items.length ? t("preset.choose") : t("preset.none")}</option>
          {items.map((p) => <option key={p.id} value={p.id}>{p.name}</option>)}
        </select>
        <button type="button" onClick={save}>{t("common.save")}</button>
      </div>
      {current && (
        <div class="row" style="margin-top:8px">
          <button type="button" class="grow" onClick={() => { onApply(current.values); toast(t("preset.applied", { name: current.name })); }}>{t("common.apply")}</button>
          <button type="button" class="grow" onClick={rename}>{t("common.rename")}</button>
          <button type="button" class="grow danger" onClick={remove}>{t("common.delete")}</button>
        </div>
      )}
    </section>
  );
}
