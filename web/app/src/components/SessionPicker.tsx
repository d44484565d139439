// Sessions group jobs (an evening's portraits, say): pick one, or start a new one.
import type { JSX } from "preact";
import { useEffect, useState } from "preact/hooks";
import { createSession, sessions, type Session } from "../api";
import { message, toast } from "./ui";
import { t } from "../i18n";

const KEY = "cozygen.session";
export const currentSession = (): string => localStorage.getItem(KEY) ?? "";
export const rememberSession = (id: string) => (id ? localStorage.setItem(KEY, id) : localStorage.removeItem(KEY));

export function SessionPicker({ id, value, onChange, none }: { id: string; value: string; onChange: (id: string) => void; none: string }): JSX.Element | null {
  const [list, setList] = useState<Session[] | null>(null);
  useEffect(() => {
    sessions().then(setList, () => setList(null));
  }, []);
  if (!list) return null; // no sessions API (or not allowed): no picker
  const pick = async (chosen: string) => {
    if (chosen !== "+") return onChange(chosen);
    const name = prompt(t("session.namePrompt"))?.trim();
    if (!name) return onChange(value);
    try {
      const made = await createSession(name);
      setList([made, ...list]);
      onChange(made.id);
    } catch (e) {
      toast(message(e));
    }
  };
  return (
    <select id={id} value={value} onChange={(e) => void pick(e.currentTarget.value)}>
      <option value="">{none}</option>
      {list.map((s) => <option key={s.id} value={s.id}>{s.name} ({s.jobCount})</option>)}
      <option value="+">{t("session.new")}</option>
    </select>
  );
}
