// Shared small pieces: toasts (with an action, for undo), the top bar, a spinner.
import type { ComponentChildren, JSX } from "preact";
import { useEffect, useState } from "preact/hooks";
import { Icon } from "./Icons";
import { t } from "../i18n";

export interface ToastItem {
  id: number;
  text: string;
  action?: { label: string; run: () => void };
}

let nextId = 1;
let toasts: ToastItem[] = [];
const listeners = new Set<() => void>();
const emit = () => listeners.forEach((l) => l());

export function toast(text: string, action?: ToastItem["action"], ms = 6000): void {
  const item = { id: nextId++, text, action };
  toasts = [...toasts.slice(-2), item];
  emit();
  setTimeout(() => dismiss(item.id), ms);
}
export function clearToasts(): void {
  toasts = [];
  emit();
}
export function dismiss(id: number): void {
  toasts = toasts.filter((t) => t.id !== id);
  emit();
}

export function Toasts(): JSX.Element {
  const [, set] = useState(0);
  useEffect(() => {
    const l = () => set((n) => n + 1);
    listeners.add(l);
    return () => void listeners.delete(l);
  }, []);
  return (
    <div class="toasts" role="status" aria-live="polite">
      {toasts.map((t) => (
        <div class="toast" key={t.id}>
          <span>{t.text}</span>
          {t.action && (
            <button type="button" onClick={() => { t.action?.run(); dismiss(t.id); }}>
              {t.action.label}
            </button>
          )}
        </div>
      ))}
    </div>
  );
}

export function TopBar({ title, back, children }: { title: ComponentChildren; back?: () => void; children?: ComponentChildren }): JSX.Element {
  return (
    <header class="top">
      {back && (
        <button type="button" class="icon ghost" onClick={back} aria-label={t("common.back")}>
          <Icon name="back" />
        </button>
      )}
      <h1>{title}</h1>
      {children}
    </header>
  );
}

export const Spinner = ({ label = t("common.loading") }: { label?: string }) => <div class="spin" role="progressbar" aria-label={label} />;

export function Empty({ children }: { children: ComponentChildren }): JSX.Element {
  return <div class="empty">{children}</div>;
}

/** Errors from the API as one sentence. */
export const message = (error: unknown): string => (error instanceof Error ? error.message : String(error));
