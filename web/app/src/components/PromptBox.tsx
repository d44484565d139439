// A prompt field with tag autocomplete (when the server has the tags API):
// suggestions for the word being typed, picked by tap or arrow keys + Enter.
import type { JSX } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import type { Json } from "../api";
import { tagSearch } from "../api";
import { t } from "../i18n";

/** The comma-separated token around the caret: its start, end and text. */
export function tokenAt(text: string, caret: number): { start: number; end: number; word: string } {
  const start = text.lastIndexOf(",", caret - 1) + 1;
  const nextComma = text.indexOf(",", caret);
  const end = nextComma === -1 ? text.length : nextComma;
  const raw = text.slice(start, end);
  const lead = raw.length - raw.trimStart().length;
  return { start: start + lead, end: start + raw.trimEnd().length, word: raw.trim() };
}

export function insertTag(text: string, caret: number, tag: string): { text: string; caret: number } {
  const { start, end } = tokenAt(text, caret);
  const before = text.slice(0, start);
  const after = text.slice(end).replace(/^\s*,?\s*/, "");
  const joined = `${before}${tag}, ${after}`;
  return { text: joined, caret: before.length + tag.length + 2 };
}

/** ``token`` added at the end of a prompt, after a comma when the prompt does not end with one. */
export function appendToken(text: string, token: string): string {
  return `${text}${text && !/[,\s]$/.test(text) ? ", " : ""}${token}`;
}

export function PromptBox({ common, multiline, value, onChange, tags }: {
  common: Record<string, unknown> & { id: string };
  multiline: boolean;
  value: string;
  onChange: (v: Json) => void;
  tags: boolean;
}): JSX.Element {
  const ref = useRef<HTMLTextAreaElement & HTMLInputElement>(null);
  const [suggestions, setSuggestions] = useState<string[]>([]);
  const [active, setActive] = useState(0);
  const timer = useRef<number>(0);
  const abort = useRef<AbortController | null>(null);

  useEffect(() => () => abort.current?.abort(), []);

  const lookup = (text: string, caret: number) => {
    if (!tags) return;
    window.clearTimeout(timer.current);
    const { word } = tokenAt(text, caret);
    if (word.length < 2) return setSuggestions([]);
    timer.current = window.setTimeout(() => {
      abort.current?.abort();
      abort.current = new AbortController();
      tagSearch(word, abort.current.signal).then((found) => {
        const shown = [...new Set(found.map((t) => t.replace(/_/g, " ")))].filter((t) => t !== word);
        setSuggestions(shown);
        setActive(0);
      }, () => undefined);
    }, 150);
  };
  const pick = (tag: string) => {
    const el = ref.current;
    const next = insertTag(value, el?.selectionStart ?? value.length, tag);
    onChange(next.text);
    setSuggestions([]);
    requestAnimationFrame(() => { el?.focus(); el?.setSelectionRange(next.caret, next.caret); });
  };
  const onKeyDown = (e: KeyboardEvent) => {
    if (!suggestions.length) return;
    if (e.key === "ArrowDown" || e.key === "ArrowUp") {
      e.preventDefault();
      setActive((a) => (a + (e.key === "ArrowDown" ? 1 : suggestions.length - 1)) % suggestions.length);
    } else if (e.key === "Enter" || e.key === "Tab") {
      e.preventDefault();
      pick(suggestions[active]);
    } else if (e.key === "Escape") setSuggestions([]);
  };
  const props = {
    ...common,
    ref,
    value,
    autocomplete: "off",
    "aria-autocomplete": tags ? ("list" as const) : undefined,
    "aria-controls": suggestions.length ? `${common.id}-tags` : undefined,
    onInput: (e: Event) => {
      const el = e.currentTarget as HTMLInputElement;
      onChange(el.value);
      lookup(el.value, el.selectionStart ?? el.value.length);
    },
    onKeyDown,
    onBlur: () => setTimeout(() => setSuggestions([]), 150),
  };
  return (
    <>
      {multiline ? <textarea rows={3} {...props} /> : <input {...props} />}
      {suggestions.length > 0 && (
        <ul class="suggest" id={`${common.id}-tags`} role="listbox" aria-label={t("prompt.suggestions")}>
          {suggestions.map((t, i) => (
            <li key={t}>
              <button type="button" role="option" aria-selected={i === active} onMouseDown={(e) => e.preventDefault()} onClick={() => pick(t)}>
                {t}
              </button>
            </li>
          ))}
        </ul>
      )}
    </>
  );
}
