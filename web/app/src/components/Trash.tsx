// Recently deleted files (the server keeps them 30 days): restore some or all.
import type { JSX } from "preact";
import { useEffect, useState } from "preact/hooks";
import { restoreIds, trash, type TrashItem } from "../api";
import { Icon } from "./Icons";
import { Spinner, clearToasts, message, toast } from "./ui";
import { t } from "../i18n";
import { formatDate } from "../labels";

export function Trash({ onClose, onRestored }: { onClose: () => void; onRestored: () => void }): JSX.Element {
  const [items, setItems] = useState<TrashItem[] | null>(null);
  const [chosen, setChosen] = useState<Set<string>>(new Set());
  const [error, setError] = useState("");
  useEffect(() => {
    clearToasts(); // an undo offer is moot here, and would cover the list
    trash().then(setItems, (e) => setError(message(e)));
    const esc = (e: KeyboardEvent) => e.key === "Escape" && onClose();
    window.addEventListener("keydown", esc);
    return () => window.removeEventListener("keydown", esc);
  }, []);
  const put = async (ids: string[]) => {
    try {
      await restoreIds(ids);
      setItems((cur) => (cur ?? []).filter((i) => !ids.includes(i.id)));
      setChosen(new Set());
      toast(t("trash.restored", { count: ids.length }));
      onRestored();
    } catch (e) {
      toast(message(e));
    }
  };
  const toggle = (id: string) => {
    const next = new Set(chosen);
    if (next.has(id)) next.delete(id);
    else next.add(id);
    setChosen(next);
  };
  return (
    <div class="sheet-backdrop" onClick={(e) => e.target === e.currentTarget && onClose()}>
      <div class="sheet stack" role="dialog" aria-modal="true" aria-label={t("trash.title")}>
        <div class="row">
          <h2 class="grow">{t("trash.title")}</h2>
          <button type="button" class="icon ghost" aria-label={t("common.close")} onClick={onClose}><Icon name="close" /></button>
        </div>
        <p class="small muted" style="margin:0">{t("trash.keep")}</p>
        {error && <p class="error">{error}</p>}
        {!items && !error && <Spinner />}
        {items?.length === 0 && <p class="muted">{t("common.nothingHere")}</p>}
        <ul class="list" aria-label={t("trash.list")}>
          {items?.map((item) => (
            <li key={item.id} class="toggle">
              <label for={`trash-${item.id}`} class="grow" style="overflow-wrap:anywhere">
                {item.subfolder ? `${item.subfolder}/` : ""}{item.filename}
                <span class="small muted" style="display:block">{formatDate(item.deletedAt)}{item.deletedBy ? ` · ${item.deletedBy}` : ""}</span>
              </label>
              <input id={`trash-${item.id}`} type="checkbox" checked={chosen.has(item.id)} onChange={() => toggle(item.id)} />
            </li>
          ))}
        </ul>
        {items && items.length > 0 && (
          <div class="row">
            <button type="button" class="grow" disabled={!chosen.size} onClick={() => put([...chosen])}>{chosen.size ? t("trash.restoreSome", { count: chosen.size }) : t("trash.restore")}</button>
            <button type="button" class="grow primary" onClick={() => put(items.map((i) => i.id))}>{t("trash.restoreAll")}</button>
          </div>
        )}
      </div>
    </div>
  );
}
