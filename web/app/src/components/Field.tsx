// One form field per schema parameter: the control its type calls for, its
// bounds, its hint and, beside it, the error (the client's or the server's).
import type { JSX } from "preact";
import { useMemo, useRef, useState } from "preact/hooks";
import type { Json, Param } from "../api";
import { controlFor, formatNumber, parseNumber, randomSeed } from "../form";
import { fieldLabel } from "../labels";
import { Icon } from "./Icons";
import { ImageField } from "./ImageField";
import { PromptBox } from "./PromptBox";
import { t } from "../i18n";

export interface FieldProps {
  param: Param;
  value: Json;
  error?: string;
  onChange: (value: Json) => void;
  seedRandom?: boolean;
  onSeedRandom?: (on: boolean) => void;
  lastSeed?: number | null;
  tags?: boolean;
}

export const fieldId = (name: string) => `f-${name.replace(/[^a-zA-Z0-9_-]/g, "_")}`;

export function Field(props: FieldProps): JSX.Element {
  const { param, error } = props;
  const id = fieldId(param.name);
  const label = fieldLabel(param);
  const control = controlFor(param);
  const described = [param.description ? `${id}-hint` : "", error ? `${id}-error` : ""].filter(Boolean).join(" ") || undefined;
  const common = { id, "aria-invalid": error ? ("true" as const) : undefined, "aria-describedby": described };

  let body: JSX.Element;
  switch (control) {
    case "textarea":
    case "text":
      body = <PromptBox common={common} multiline={control === "textarea"} value={String(props.value ?? "")} onChange={props.onChange} tags={props.tags === true} />;
      break;
    case "number":
      body = <NumberInput common={common} param={param} value={props.value} onChange={props.onChange} />;
      break;
    case "toggle":
      return (
        <div class="field" data-field={param.name}>
          <div class="toggle">
            <label for={id}>{label}</label>
            <input type="checkbox" role="switch" {...common} checked={props.value === true} onChange={(e) => props.onChange(e.currentTarget.checked)} />
          </div>
          <Hint id={id} param={param} error={error} />
        </div>
      );
    case "select":
      body = (
        <select {...common} value={String(props.value ?? "")} onChange={(e) => props.onChange(e.currentTarget.value)}>
          {!param.choices?.length && <option value={String(props.value ?? "")}>{props.value ? t("field.notOnServer", { value: String(props.value) }) : t("field.nothingInstalled")}</option>}
          {(param.choices ?? []).map((c) => <option key={c} value={c}>{c}</option>)}
        </select>
      );
      break;
    case "search-select":
      body = <SearchSelect common={common} param={param} value={String(props.value ?? "")} onChange={props.onChange} />;
      break;
    case "seed":
      body = <SeedInput {...props} common={common} />;
      break;
    case "image":
      body = <ImageField common={common} value={String(props.value ?? "")} onChange={props.onChange} label={label} />;
      break;
  }
  return (
    <div class="field" data-field={param.name}>
      {control === "image" ? <span class="label" id={`${id}-label`}>{label}</span> : <label for={id}>{label}{param.required ? " *" : ""}</label>}
      {body}
      <Hint id={id} param={param} error={error} />
    </div>
  );
}

function Hint({ id, param, error }: { id: string; param: Param; error?: string }): JSX.Element {
  return (
    <>
      {param.description && <div class="hint" id={`${id}-hint`}>{param.description}</div>}
      {error && <div class="error" id={`${id}-error`} role="alert" data-error-for={param.name}>{error}</div>}
    </>
  );
}

type Common = Record<string, unknown> & { id: string };

function NumberInput({ common, param, value, onChange }: { common: Common; param: Param; value: Json; onChange: (v: Json) => void }): JSX.Element {
  const [text, setText] = useState<string | null>(null);
  // what was typed, while it still means the value (a preset or reset replaces it)
  const typed = text !== null && (parseNumber(text, param) === value || text === value);
  const shown = typed ? text : typeof value === "number" ? formatNumber(value, param) : String(value ?? "");
  const slider = param.min !== null && param.max !== null && param.max - param.min <= 10000;
  const set = (raw: string) => {
    setText(raw);
    const n = parseNumber(raw, param);
    onChange(Number.isNaN(n) ? (raw as Json) : n);
  };
  const input = (
    <input {...common} type="number" inputMode={param.type === "float" ? "decimal" : "numeric"} value={shown}
      min={param.min ?? undefined} max={param.max ?? undefined} step={param.step ?? (param.type === "float" ? "any" : 1)}
      onInput={(e) => set(e.currentTarget.value)} onBlur={() => setText(null)} />
  );
  if (!slider) return input;
  return (
    <div class="num">
      <input type="range" aria-label={t("field.slider", { label: fieldLabel(param) })} min={param.min ?? 0} max={param.max ?? 100} step={param.step ?? (param.type === "float" ? 0.01 : 1)}
        value={typeof value === "number" ? value : param.min ?? 0} onInput={(e) => { setText(null); onChange(Number(e.currentTarget.value)); }} />
      {input}
    </div>
  );
}

function SearchSelect({ common, param, value, onChange }: { common: Common; param: Param; value: string; onChange: (v: Json) => void }): JSX.Element {
  const [query, setQuery] = useState("");
  const [open, setOpen] = useState(false);
  const list = useMemo(() => {
    const words = query.toLowerCase().split(/\s+/).filter(Boolean);
    return (param.choices ?? []).filter((c) => words.every((w) => c.toLowerCase().includes(w))).slice(0, 200);
  }, [query, param.choices]);
  return (
    <div>
      <button type="button" class="wide" style="justify-content:space-between" aria-expanded={open} onClick={() => setOpen(!open)} aria-describedby={common["aria-describedby"] as string}>
        <span style="overflow:hidden;text-overflow:ellipsis;white-space:nowrap">{value || t("field.choose")}</span>
        <Icon name="chev" />
      </button>
      {open && (
        <div style="margin-top:6px">
          <div class="search">
            <Icon name="search" />
            <input {...common} type="search" placeholder={t("field.searchChoices", { count: param.choices?.length ?? 0 })} value={query}
              onInput={(e) => setQuery(e.currentTarget.value)} autoFocus />
          </div>
          <div class="choices" role="listbox" aria-label={fieldLabel(param)}>
            {list.map((c) => (
              <button type="button" key={c} role="option" aria-pressed={c === value} aria-selected={c === value}
                onClick={() => { onChange(c); setOpen(false); setQuery(""); }}>
                {c}
              </button>
            ))}
            {list.length === 0 && <div class="muted small" style="padding:12px">{t("field.noMatch")}</div>}
          </div>
        </div>
      )}
    </div>
  );
}

function SeedInput(props: FieldProps & { common: Common }): JSX.Element {
  const { common, value, onChange, seedRandom, onSeedRandom, lastSeed, param } = props;
  const ref = useRef<HTMLInputElement>(null);
  return (
    <div class="stack">
      <div class="row">
        <input {...common} ref={ref} class="grow" type="number" inputMode="numeric" min={param.min ?? 0} value={typeof value === "number" ? String(value) : String(value ?? "")}
          onInput={(e) => { const n = parseNumber(e.currentTarget.value, param); onChange(Number.isNaN(n) ? e.currentTarget.value : n); }} />
        <button type="button" class="labelled" aria-label={t("seed.newRandom")} title={t("seed.newRandom")} onClick={() => onChange(randomSeed())}>
          <Icon name="dice" /><span>{t("seed.random")}</span>
        </button>
        <button type="button" class="labelled" aria-label={t("seed.reuse")} title={typeof lastSeed === "number" ? t("seed.reuseValue", { seed: String(lastSeed) }) : t("seed.reuseNone")} disabled={lastSeed === null || lastSeed === undefined}
          onClick={() => lastSeed !== null && lastSeed !== undefined && onChange(lastSeed)}>
          <Icon name="redo" /><span>{t("seed.last")}</span>
        </button>
      </div>
      <div class="toggle">
        <label for={`${common.id}-random`} style="font-size:.92rem">{t("seed.everyJob")}</label>
        <input id={`${common.id}-random`} type="checkbox" role="switch" checked={seedRandom === true} onChange={(e) => onSeedRandom?.(e.currentTarget.checked)} />
      </div>
    </div>
  );
}
