// The prompt assistant over the generate form: the user's conversation, the answer streamed token by token, and
// each action as a chip. A field action (set_field, insert_tags) is applied to the form at once and its chip can
// undo it (the value before comes back); a queue action waits for Confirm, then its Undo cancels the jobs. Stop
// aborts the stream (the server cancels the provider's); the clear button empties the conversation.
import type { JSX } from "preact";
import { useEffect, useReducer, useRef, useState } from "preact/hooks";
import { ApiError, getJob, type Json, type Param } from "../api";
import {
  actionChange, chat, chatReducer, chipText, clearConversation, confirmAction, conversation, EMPTY_CHAT, llmStatus, undoAction, waitSeconds,
  type ActionView, type ChatMessage, type ChatState, type ChatStep,
} from "../assistant";
import { t } from "../i18n";
import { jobStore } from "../jobs";
import { Icon } from "./Icons";
import { message, toast } from "./ui";
import "./Assistant.css";

const MAX_MESSAGE = 4000;

interface FormBinding {
  workflow: string;
  params: Param[];
  values: Record<string, Json>;
  onSet: (name: string, value: Json) => void;
}

/** The generate screen's assistant: its button (for the top bar; none unless GET /cozygen/api/llm/status says one
 * answers) and its sheet (rendered outside the top bar, whose backdrop filter would hold a fixed sheet inside it). */
export function useAssistant(binding: FormBinding): { button: JSX.Element | null; sheet: JSX.Element | null } {
  const [available, setAvailable] = useState(false);
  const [open, setOpen] = useState(false);
  // the conversation outlives the sheet (closed and opened again, its chips can still undo)
  const [state, dispatch] = useReducer<ChatState, ChatStep>(chatReducer, EMPTY_CHAT);
  const loaded = useRef(false);
  useEffect(() => {
    let live = true;
    llmStatus().then((s) => live && setAvailable(s.available), () => live && setAvailable(false));
    return () => {
      live = false;
    };
  }, []);
  useEffect(() => {
    if (!open || loaded.current) return;
    loaded.current = true;
    conversation().then((messages) => dispatch({ type: "loaded", messages }), () => undefined);
  }, [open]);
  if (!available || !binding.params.length) return { button: null, sheet: null };
  return {
    button: (
      <button type="button" class="ghost assistant-open" id="assistant-open" aria-label={t("assistant.open")} title={t("assistant.open")}
        aria-haspopup="dialog" onClick={() => setOpen(true)}>
        <Icon name="chat" /> <span class="assistant-open-label">{t("assistant.open")}</span>
      </button>
    ),
    sheet: open ? <AssistantSheet {...binding} state={state} dispatch={dispatch} onClose={() => setOpen(false)} /> : null,
  };
}

/** The words for a refusal before the stream: the rate limit's wait and "no language model" in the language. */
export function refusal(error: unknown): string {
  if (error instanceof ApiError && error.status === 429) return t("assistant.rateLimited", { seconds: String(waitSeconds(error)) });
  if (error instanceof ApiError && error.code === "NO_LLM") return t("assistant.noLlm");
  return message(error);
}

export function AssistantSheet({ workflow, params, values, onSet, state, dispatch, onClose }: FormBinding & {
  state: ChatState;
  dispatch: (step: ChatStep) => void;
  onClose: () => void;
}): JSX.Element {
  const [draft, setDraft] = useState("");
  const [error, setError] = useState("");
  const abort = useRef<AbortController | null>(null);
  const list = useRef<HTMLDivElement>(null);
  const input = useRef<HTMLTextAreaElement>(null);
  // the form as it is now, also between renders (two actions in one burst each see the other's change)
  const form = useRef(values);
  form.current = values;
  const streaming = state.streaming !== null;

  useEffect(() => {
    requestAnimationFrame(() => input.current?.focus());
    const esc = (e: KeyboardEvent) => {
      if (e.key !== "Escape") return;
      e.stopPropagation();
      onClose();
    };
    window.addEventListener("keydown", esc);
    return () => {
      window.removeEventListener("keydown", esc);
      abort.current?.abort(); // closing the sheet ends the stream
    };
  }, []);
  useEffect(() => {
    const el = list.current;
    if (el) el.scrollTop = el.scrollHeight;
  }, [state]);

  const setField = (name: string, value: Json) => {
    form.current = { ...form.current, [name]: value };
    onSet(name, value);
  };
  const onAction = (action: ActionView) => {
    if (action.confirm) return dispatch({ type: "applied", action: { ...action, state: "waiting" } });
    const change = actionChange(action, params, form.current);
    if (!change) return dispatch({ type: "applied", action: { ...action, state: "past" } });
    if ("problem" in change) return dispatch({ type: "applied", action: { ...action, state: "failed", problem: t("assistant.noField", { field: change.problem }) } });
    const previous = form.current[change.field] ?? null;
    setField(change.field, change.value);
    dispatch({ type: "applied", action: { ...action, state: "applied", field: change.field, previous } });
  };

  const send = async (e?: Event) => {
    e?.preventDefault();
    const text = draft.trim();
    if (!text || streaming) return;
    setError("");
    const controller = new AbortController();
    abort.current = controller;
    const sent = { workflow, values: { ...form.current }, message: text.slice(0, MAX_MESSAGE) };
    dispatch({ type: "sent", id: `m${Date.now().toString(36)}`, text });
    setDraft("");
    try {
      await chat(sent, (event) => {
        if (event.type === "action") onAction({ ...event.action, state: "applied" });
        else dispatch({ type: "event", event });
      }, controller.signal);
      dispatch({ type: "stopped", error: undefined });
    } catch (err) {
      if (err instanceof DOMException && err.name === "AbortError") {
        dispatch({ type: "stopped" });
      } else {
        if (err instanceof ApiError) {
          // refused before it started: the message goes back into the box to send again, the reason above it
          dispatch({ type: "refused" });
          setError(refusal(err));
          setDraft((d) => d || text);
        } else {
          dispatch({ type: "stopped", error: refusal(err) });
        }
      }
    } finally {
      if (abort.current === controller) abort.current = null;
    }
  };
  const stop = () => abort.current?.abort();
  const clear = async () => {
    try {
      await clearConversation();
      dispatch({ type: "cleared" });
      toast(t("assistant.cleared"));
    } catch (err) {
      setError(message(err));
    }
  };

  const undo = (a: ActionView) => {
    if (a.field === undefined) return;
    setField(a.field, a.previous ?? null);
    dispatch({ type: "actionState", id: a.id, state: "undone" });
    undoAction(a.id).catch(() => undefined); // the kept conversation says so too; the form is what counts here
  };
  const confirm = async (a: ActionView) => {
    dispatch({ type: "actionState", id: a.id, state: "queued", jobs: [] });
    try {
      const jobs = await confirmAction(a.id, { ...form.current });
      dispatch({ type: "actionState", id: a.id, state: "queued", jobs }); // the chip says how many (a toast would cover the sheet)
      for (const id of jobs) getJob(id).then((job) => jobStore.track(job), () => undefined);
    } catch (err) {
      dispatch({ type: "actionState", id: a.id, state: "waiting" });
      toast(message(err));
    }
  };
  const cancel = async (a: ActionView) => {
    try {
      await undoAction(a.id);
      dispatch({ type: "actionState", id: a.id, state: "cancelled" });
    } catch (err) {
      toast(message(err));
    }
  };

  return (
    <div class="sheet-backdrop" onClick={(e) => e.target === e.currentTarget && onClose()}>
      <div class="sheet assistant-sheet" role="dialog" aria-modal="true" aria-labelledby="assistant-title" id="assistant">
        <div class="row assistant-head">
          <h2 class="grow" id="assistant-title"><Icon name="chat" /> {t("assistant.title")}</h2>
          <button type="button" class="icon ghost" id="assistant-clear" aria-label={t("assistant.clear")} title={t("assistant.clear")}
            disabled={streaming || state.messages.length === 0} onClick={() => void clear()}><Icon name="trash" /></button>
          <button type="button" class="icon ghost sheet-close" aria-label={t("common.close")} onClick={onClose}><Icon name="close" /></button>
        </div>
        <div class="assistant-log" ref={list} role="log" aria-live="polite" aria-label={t("assistant.conversation")}>
          {state.messages.length === 0 && <p class="muted small assistant-empty">{t("assistant.intro")}</p>}
          {state.messages.map((m) => <Bubble key={m.id} m={m} onUndo={undo} onConfirm={(a) => void confirm(a)} onCancel={(a) => void cancel(a)} />)}
        </div>
        {error && <p class="error" role="alert">{error}</p>}
        <form class="assistant-compose" onSubmit={(e) => void send(e)}>
          <label for="assistant-input" class="sr-only">{t("assistant.placeholder")}</label>
          <textarea id="assistant-input" ref={input} rows={2} maxLength={MAX_MESSAGE} value={draft} placeholder={t("assistant.placeholder")}
            enterkeyhint="send" onInput={(e) => setDraft(e.currentTarget.value)}
            onKeyDown={(e) => { if (e.key === "Enter" && !e.shiftKey && !e.isComposing) void send(e); }} />
          {streaming ? (
            <button type="button" class="icon assistant-stop" id="assistant-stop" aria-label={t("assistant.stop")} title={t("assistant.stop")} onClick={stop}>
              <Icon name="stop" />
            </button>
          ) : (
            <button type="submit" class="icon primary" id="assistant-send" aria-label={t("assistant.send")} title={t("assistant.send")} disabled={!draft.trim()}>
              <Icon name="send" />
            </button>
          )}
        </form>
      </div>
    </div>
  );
}

function Bubble({ m, onUndo, onConfirm, onCancel }: { m: ChatMessage; onUndo: (a: ActionView) => void; onConfirm: (a: ActionView) => void; onCancel: (a: ActionView) => void }): JSX.Element {
  return (
    <div class={`bubble ${m.role}${m.streaming ? " streaming" : ""}`} data-role={m.role}>
      {m.role === "user" && <span class="sr-only">{t("assistant.you")}: </span>}
      {(m.text || m.streaming) && <div class="bubble-text">{m.text || (m.actions.length ? "" : <span class="muted">{t("assistant.thinking")}</span>)}</div>}
      {m.actions.length > 0 && (
        <ul class="action-chips">
          {m.actions.map((a) => <ActionChip key={a.id} a={a} onUndo={onUndo} onConfirm={onConfirm} onCancel={onCancel} />)}
        </ul>
      )}
      {m.error && <p class="error small bubble-error" role="alert">{m.error}</p>}
      {m.cancelled && <p class="muted small bubble-note">{t("assistant.stopped")}</p>}
    </div>
  );
}

function ActionChip({ a, onUndo, onConfirm, onCancel }: { a: ActionView; onUndo: (a: ActionView) => void; onConfirm: (a: ActionView) => void; onCancel: (a: ActionView) => void }): JSX.Element {
  const icon = a.tool === "queue" ? "spark" : a.tool === "insert_tags" ? "plus" : "check";
  return (
    <li class={`action-chip ${a.state}`} data-tool={a.tool} data-state={a.state} data-action={a.id}>
      <Icon name={icon} />
      <span class="grow action-summary">
        {chipText(a)}
        {a.state === "undone" && <span class="muted"> · {t("assistant.undone")}</span>}
        {a.state === "cancelled" && <span class="muted"> · {t("assistant.cancelled")}</span>}
        {a.state === "queued" && a.jobs && a.jobs.length > 0 && <span class="muted"> · {t("assistant.queued", { count: a.jobs.length })}</span>}
        {a.state === "failed" && a.problem && <span class="action-problem"> · {a.problem}</span>}
      </span>
      {a.state === "applied" && <button type="button" class="chip action-undo" onClick={() => onUndo(a)}>{t("common.undo")}</button>}
      {a.state === "waiting" && <button type="button" class="chip primary action-confirm" onClick={() => onConfirm(a)}>{t("assistant.confirm")}</button>}
      {a.state === "queued" && a.jobs && a.jobs.length > 0 && <button type="button" class="chip action-undo" onClick={() => onCancel(a)}>{t("common.undo")}</button>}
    </li>
  );
}
