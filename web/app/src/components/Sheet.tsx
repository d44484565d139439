// A bottom sheet: a titled dialog over a dimmed screen; Escape, the backdrop and × close it.
import type { ComponentChildren, JSX } from "preact";
import { useEffect, useRef } from "preact/hooks";
import { Icon } from "./Icons";
import { t } from "../i18n";

export function Sheet({ title, onClose, children, id, wide }: { title: string; onClose: () => void; children: ComponentChildren; id?: string; wide?: boolean }): JSX.Element {
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const esc = (e: KeyboardEvent) => {
      if (e.key !== "Escape") return;
      e.stopPropagation();
      onClose();
    };
    window.addEventListener("keydown", esc);
    const before = document.activeElement as HTMLElement | null;
    requestAnimationFrame(() => box.current?.querySelector<HTMLElement>("input, select, button:not(.sheet-close)")?.focus());
    return () => {
      window.removeEventListener("keydown", esc);
      before?.focus?.();
    };
  }, []);
  return (
    <div class="sheet-backdrop" onClick={(e) => e.target === e.currentTarget && onClose()}>
      <div class={`sheet stack${wide ? " wide" : ""}`} role="dialog" aria-modal="true" aria-label={title} id={id} ref={box}>
        <div class="row">
          <h2 class="grow">{title}</h2>
          <button type="button" class="icon ghost sheet-close" aria-label={t("common.close")} onClick={onClose}><Icon name="close" /></button>
        </div>
        {children}
      </div>
    </div>
  );
}

/** A question with a (maybe dangerous) yes and a cancel; `onYes` closes it (or asks the next question). */
export function Confirm({ title, text, yes, danger, onYes, onClose }: { title: string; text: string; yes: string; danger?: boolean; onYes: () => void; onClose: () => void }): JSX.Element {
  return (
    <Sheet title={title} onClose={onClose}>
      <p style="margin:0">{text}</p>
      <div class="row">
        <button type="button" class="grow" onClick={onClose}>{t("common.cancel")}</button>
        <button type="button" class={`grow ${danger ? "danger-fill" : "primary"}`} onClick={onYes}>{yes}</button>
      </div>
    </Sheet>
  );
}

/** A name to type (a new folder, a folder's new name). */
export function NameSheet({ title, label, initial, yes, onSubmit, onClose }: { title: string; label: string; initial: string; yes: string; onSubmit: (name: string) => Promise<string | null>; onClose: () => void }): JSX.Element {
  const input = useRef<HTMLInputElement>(null);
  const error = useRef<HTMLParagraphElement>(null);
  const submit = async (e: Event) => {
    e.preventDefault();
    const name = input.current?.value.trim() ?? "";
    if (!name) return;
    const problem = await onSubmit(name);
    if (problem === null) onClose();
    else if (error.current) error.current.textContent = problem;
  };
  return (
    <Sheet title={title} onClose={onClose}>
      <form class="stack" onSubmit={submit}>
        <div>
          <label for="name-sheet-input">{label}</label>
          <input id="name-sheet-input" ref={input} value={initial} autoComplete="off" maxLength={120} enterKeyHint="done" />
          <p class="error" role="alert" ref={error} />
        </div>
        <button type="submit" class="primary wide">{yes}</button>
      </form>
    </Sheet>
  );
}
