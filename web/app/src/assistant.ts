// The prompt assistant's client: the providers (Settings → Assistant), the chat stream and its actions.
// POST /cozygen/api/assistant/chat answers text/event-stream; EventSource cannot POST, so the stream is read
// from fetch's body and parsed here (SseParser). Every answer and event is parsed at this boundary; the chat
// sheet's state is a pure reducer (chatReducer) over named events.
import { errorFrom, isObj, num, request, str, type ApiError, type Json } from "./api";
import { t } from "./i18n";

type Obj = Record<string, unknown>;
const arr = (value: unknown): unknown[] => (Array.isArray(value) ? value : []);
const enc = encodeURIComponent;
const LLM = "/cozygen/api/llm";
const ASSISTANT = "/cozygen/api/assistant";

// ---- providers ----------------------------------------------------------------------------

export const PROVIDER_KINDS = ["openai-compatible", "ollama", "openai", "claude", "gemini"] as const;
export type ProviderKind = (typeof PROVIDER_KINDS)[number];
const isKind = (value: unknown): value is ProviderKind => (PROVIDER_KINDS as readonly unknown[]).includes(value);

/** A provider as the server answers it: users see id, name, kind, default model, default; admins the rest too. */
export interface Provider {
  id: string;
  name: string;
  kind: ProviderKind;
  defaultModel: string | null;
  isDefault: boolean;
  url: string | null;
  hasKey: boolean;
  timeout: number | null;
}

export function parseProvider(data: unknown): Provider | null {
  if (!isObj(data) || typeof data.id !== "string" || !data.id) return null;
  return {
    id: data.id,
    name: str(data.name, data.id),
    kind: isKind(data.kind) ? data.kind : "openai-compatible",
    defaultModel: typeof data.default_model === "string" && data.default_model ? data.default_model : null,
    isDefault: data.is_default === true,
    url: typeof data.url === "string" ? data.url : null,
    hasKey: data.has_key === true,
    timeout: typeof data.timeout === "number" && Number.isFinite(data.timeout) ? data.timeout : null,
  };
}

export interface LlmStatus {
  available: boolean;
  provider: Provider | null;
}
export function parseLlmStatus(data: unknown): LlmStatus {
  const d = isObj(data) ? data : {};
  return { available: d.available === true, provider: parseProvider(d.provider) };
}
export const llmStatus = async (): Promise<LlmStatus> => parseLlmStatus(await request("GET", `${LLM}/status`));

export async function providers(): Promise<Provider[]> {
  const data = await request("GET", `${LLM}/providers`);
  const list = isObj(data) ? arr(data.providers) : arr(data);
  return list.map(parseProvider).filter((p): p is Provider => p !== null);
}

/** What an admin sends: a key only when typed; url "" for the vendor's own. */
export interface ProviderFields {
  name: string;
  kind: ProviderKind;
  url: string;
  api_key?: string;
  default_model: string;
  timeout?: number;
}
const providerBody = (fields: Partial<ProviderFields>): Record<string, Json> => {
  const body: Record<string, Json> = {};
  for (const [k, v] of Object.entries(fields)) if (v !== undefined) body[k] = k === "url" || k === "default_model" ? (v === "" ? null : v) : v;
  return body;
};
const providerOf = (data: unknown): Provider => {
  const found = parseProvider(isObj(data) && isObj(data.provider) ? data.provider : data);
  if (!found) throw errorFrom(502, { error: "the server answered no provider" });
  return found;
};
export const addProvider = async (fields: ProviderFields) => providerOf(await request("POST", `${LLM}/providers`, providerBody(fields)));
export const changeProvider = async (id: string, fields: Partial<ProviderFields>) => providerOf(await request("PATCH", `${LLM}/providers/${enc(id)}`, providerBody(fields)));
export const removeProvider = (id: string) => request("DELETE", `${LLM}/providers/${enc(id)}`);
export const makeDefaultProvider = async (id: string) => providerOf(await request("POST", `${LLM}/providers/${enc(id)}/default`, {}));

export interface ProviderTest {
  ok: boolean;
  latencyMs: number | null;
  models: string[];
  error: string | null;
}
export function parseProviderTest(data: unknown): ProviderTest {
  const d = isObj(data) ? data : {};
  return {
    ok: d.ok === true,
    latencyMs: typeof d.latency_ms === "number" && Number.isFinite(d.latency_ms) ? d.latency_ms : null,
    models: arr(d.models).filter((m): m is string => typeof m === "string"),
    error: typeof d.error === "string" ? d.error : null,
  };
}
export const testProvider = async (id: string) => parseProviderTest(await request("POST", `${LLM}/providers/${enc(id)}/test`, {}));
export const testNewProvider = async (fields: ProviderFields) => parseProviderTest(await request("POST", `${LLM}/providers/test`, providerBody(fields)));
export async function providerModels(id: string): Promise<string[]> {
  const data = await request("GET", `${LLM}/providers/${enc(id)}/models`);
  const list = isObj(data) ? arr(data.models) : arr(data);
  return list.map((m) => (typeof m === "string" ? m : isObj(m) ? str(m.id, str(m.name)) : "")).filter(Boolean);
}

// ---- the stream ---------------------------------------------------------------------------

export interface SseEvent {
  event: string;
  data: string;
}

/** Server-Sent Events from chunks of text: `event:` and `data:` lines, an event ending at a blank line. */
export class SseParser {
  private buffer = "";
  private event = "";
  private data: string[] = [];

  push(chunk: string): SseEvent[] {
    this.buffer += chunk;
    const out: SseEvent[] = [];
    let cut: number;
    while ((cut = this.buffer.indexOf("\n")) !== -1) {
      const line = this.buffer.slice(0, cut).replace(/\r$/, "");
      this.buffer = this.buffer.slice(cut + 1);
      if (line === "") {
        if (this.data.length) out.push({ event: this.event || "message", data: this.data.join("\n") });
        this.event = "";
        this.data = [];
        continue;
      }
      if (line.startsWith(":")) continue;
      const colon = line.indexOf(":");
      const field = colon === -1 ? line : line.slice(0, colon);
      let value = colon === -1 ? "" : line.slice(colon + 1);
      if (value.startsWith(" ")) value = value.slice(1);
      if (field === "event") this.event = value;
      else if (field === "data") this.data.push(value);
    }
    return out;
  }
}

export interface AssistantAction {
  id: string;
  tool: string;
  args: Record<string, Json>;
  summary: string;
  confirm: boolean;
}

/** One event of the chat stream, parsed; null for an event the app does not know (skipped). */
export type ChatEvent =
  | { type: "token"; text: string }
  | { type: "action"; action: AssistantAction }
  | { type: "error"; code: string; message: string }
  | { type: "done"; reason: string };

export function parseAction(data: unknown): AssistantAction | null {
  if (!isObj(data) || typeof data.id !== "string" || typeof data.tool !== "string") return null;
  return { id: data.id, tool: data.tool, args: isObj(data.args) ? (data.args as Record<string, Json>) : {}, summary: str(data.summary, data.tool), confirm: data.confirm === true };
}

export function parseChatEvent(raw: SseEvent): ChatEvent | null {
  let data: unknown;
  try {
    data = JSON.parse(raw.data);
  } catch {
    return null;
  }
  const d: Obj = isObj(data) ? data : {};
  switch (raw.event) {
    case "token":
      return typeof d.text === "string" ? { type: "token", text: d.text } : null;
    case "action": {
      const action = parseAction(d);
      return action && { type: "action", action };
    }
    case "error":
      return { type: "error", code: str(d.code, "ERROR"), message: str(d.message, str(d.error)) };
    case "done":
      return { type: "done", reason: str(d.reason, "stop") };
    default:
      return null;
  }
}

export interface ChatRequest {
  workflow: string;
  values: Record<string, Json>;
  message: string;
}

/** Sends one message and calls `on` with each event as it arrives; resolves when the stream ends. A refusal
 * before the stream (400, 404, 429 with its wait, 503 NO_LLM) throws an ApiError; `signal` aborts (AbortError). */
export async function chat(body: ChatRequest, on: (event: ChatEvent) => void, signal?: AbortSignal, fetcher: typeof fetch = fetch): Promise<void> {
  let response: Response;
  try {
    response = await fetcher(`${ASSISTANT}/chat`, {
      method: "POST",
      headers: { Accept: "text/event-stream", "Content-Type": "application/json" },
      body: JSON.stringify(body),
      credentials: "same-origin",
      signal,
    });
  } catch (error) {
    if (error instanceof DOMException && error.name === "AbortError") throw error;
    throw errorFrom(0, null);
  }
  if (!response.ok || !response.body) {
    const text = await response.text().catch(() => "");
    let data: unknown = null;
    try {
      data = text ? JSON.parse(text) : null;
    } catch {
      data = { error: text.slice(0, 200) };
    }
    if (response.status === 401 && typeof window !== "undefined") window.dispatchEvent(new Event("cozygen:unauthorized"));
    throw errorFrom(response.status, data, response.headers.get("Retry-After"));
  }
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  const parser = new SseParser();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      const events = parser.push(done ? decoder.decode() + "\n\n" : decoder.decode(value, { stream: true }));
      for (const raw of events) {
        const event = parseChatEvent(raw);
        if (event) on(event);
      }
      if (done) return;
    }
  } finally {
    reader.releaseLock();
  }
}

/** Queues a proposed queue action's job(s) from the form as it is now (with the action's changes on top). */
export async function confirmAction(id: string, values?: Record<string, Json>): Promise<string[]> {
  const data = await request("POST", `${ASSISTANT}/actions/${enc(id)}/confirm`, values ? { values } : {});
  return isObj(data) ? arr(data.jobs).map((j) => (typeof j === "string" ? j : isObj(j) ? str(j.id) : "")).filter(Boolean) : [];
}
export const undoAction = (id: string) => request("POST", `${ASSISTANT}/actions/${enc(id)}/undo`, {});

// ---- the conversation ---------------------------------------------------------------------

export type ActionState = "applied" | "undone" | "waiting" | "queued" | "cancelled" | "failed" | "past";

export interface ActionView extends AssistantAction {
  state: ActionState;
  /** A field action: the field and its value before (Undo restores it). */
  field?: string;
  previous?: Json;
  jobs?: string[];
  /** Why the phone could not apply it (a field this form lacks). */
  problem?: string;
}

export interface ChatMessage {
  id: string;
  role: "user" | "assistant";
  text: string;
  actions: ActionView[];
  cancelled?: boolean;
  error?: string;
  streaming?: boolean;
}

function parseMessage(data: unknown, index: number): ChatMessage | null {
  if (!isObj(data)) return null;
  const role = data.role === "user" ? "user" : data.role === "assistant" ? "assistant" : null;
  if (!role) return null;
  const content = data.content;
  const text = typeof content === "string" ? content : isObj(content) ? str(content.text, str(content.content)) : str(data.text);
  const actions = arr(data.actions).map(parseAction).filter((a): a is AssistantAction => a !== null).map((a): ActionView => ({ ...a, state: "past" }));
  if (!text && !actions.length) return null;
  const cancelled = data.cancelled === true || (isObj(content) && content.cancelled === true) || undefined;
  return { id: `past-${index}`, role, text, actions, cancelled, error: typeof data.error === "string" && data.error ? data.error : undefined };
}

export function parseConversation(data: unknown): ChatMessage[] {
  const list = isObj(data) ? arr(data.messages) : arr(data);
  return list.map(parseMessage).filter((m): m is ChatMessage => m !== null);
}
export const conversation = async (): Promise<ChatMessage[]> => parseConversation(await request("GET", `${ASSISTANT}/conversation`));
export const clearConversation = () => request("DELETE", `${ASSISTANT}/conversation`);

// ---- the sheet's state ----------------------------------------------------------------------

export interface ChatState {
  messages: ChatMessage[];
  /** The assistant's message being streamed, if any. */
  streaming: string | null;
}
export const EMPTY_CHAT: ChatState = { messages: [], streaming: null };

export type ChatStep =
  | { type: "loaded"; messages: ChatMessage[] }
  | { type: "sent"; id: string; text: string }
  | { type: "event"; event: ChatEvent }
  | { type: "applied"; action: ActionView }
  | { type: "stopped"; error?: string }
  | { type: "refused" }
  | { type: "actionState"; id: string; state: ActionState; jobs?: string[] }
  | { type: "cleared" };

const updateStreaming = (state: ChatState, change: (m: ChatMessage) => ChatMessage): ChatState => ({
  ...state,
  messages: state.messages.map((m) => (m.id === state.streaming ? change(m) : m)),
});

/** The chat sheet's state after one step: pure, so each step is tested alone. */
export function chatReducer(state: ChatState, step: ChatStep): ChatState {
  switch (step.type) {
    case "loaded":
      return state.streaming ? state : { messages: step.messages, streaming: null };
    case "sent": {
      const reply = `${step.id}-reply`;
      return {
        messages: [...state.messages, { id: step.id, role: "user", text: step.text, actions: [] }, { id: reply, role: "assistant", text: "", actions: [], streaming: true }],
        streaming: reply,
      };
    }
    case "event": {
      if (!state.streaming) return state;
      const e = step.event;
      if (e.type === "token") return updateStreaming(state, (m) => ({ ...m, text: m.text + e.text }));
      if (e.type === "action") return state; // applied by the sheet first: "applied" carries it
      if (e.type === "error") return updateStreaming(state, (m) => ({ ...m, error: e.message || e.code }));
      const ended = updateStreaming(state, (m) => ({ ...m, streaming: false, cancelled: e.reason === "cancelled" || undefined }));
      return { ...ended, streaming: null };
    }
    case "applied":
      return state.streaming ? updateStreaming(state, (m) => ({ ...m, actions: [...m.actions, step.action] })) : state;
    case "stopped": {
      if (!state.streaming) return state;
      const ended = updateStreaming(state, (m) => ({ ...m, streaming: false, cancelled: step.error ? m.cancelled : true, error: step.error ?? m.error }));
      return { ...ended, streaming: null };
    }
    case "refused": {
      // answered before its stream started (429, 503): nothing was kept, so the message leaves the log (its text
      // goes back into the box, the reason above it) and sending it again shows it once
      if (!state.streaming) return state;
      const at = state.messages.findIndex((m) => m.id === state.streaming);
      return { messages: state.messages.filter((_, i) => i !== at && i !== at - 1), streaming: null };
    }
    case "actionState":
      return {
        ...state,
        messages: state.messages.map((m) => ({
          ...m,
          actions: m.actions.map((a) => (a.id === step.id ? { ...a, state: step.state, jobs: step.jobs ?? a.jobs } : a)),
        })),
      };
    case "cleared":
      return EMPTY_CHAT;
  }
}

// ---- actions on the form --------------------------------------------------------------------

export interface FormParam {
  name: string;
  type: string;
}
const ALIASES: Record<string, RegExp> = { width: /width/i, height: /height/i, steps: /steps/i, seed: /seed/i, cfg: /cfg|guidance/i };

/** The form's field an action names: its own name, else the alias the server resolves too (prompt, negative, ...). */
export function resolveField(params: FormParam[], name: string): string | null {
  if (params.some((p) => p.name === name)) return name;
  const lower = name.toLowerCase();
  const text = (p: FormParam) => p.type === "text" || p.type === "string";
  if (lower === "prompt" || lower === "positive") return params.find((p) => text(p) && /prompt/i.test(p.name) && !/neg/i.test(p.name))?.name ?? null;
  if (lower === "negative" || lower === "negative_prompt") return params.find((p) => text(p) && /neg/i.test(p.name))?.name ?? null;
  const pattern = ALIASES[lower];
  return pattern ? params.find((p) => pattern.test(p.name))?.name ?? null : null;
}

/** Danbooru tags (underscores) appended to a prompt as the form's tag picker writes them. */
export function withTags(text: string, tags: string[]): string {
  const have = new Set(text.split(",").map((s) => s.trim().toLowerCase()).filter(Boolean));
  let out = text;
  for (const raw of tags) {
    const tag = raw.replace(/_/g, " ").trim();
    if (!tag || have.has(tag.toLowerCase())) continue;
    have.add(tag.toLowerCase());
    out = `${out}${out && !/[,\s]$/.test(out) ? ", " : ""}${tag}`;
  }
  return out;
}

/** What a field action does to the form: the field and its new value, or why it cannot. */
export function actionChange(action: AssistantAction, params: FormParam[], values: Record<string, Json>): { field: string; value: Json } | { problem: string } | null {
  if (action.tool === "set_field") {
    const name = typeof action.args.field === "string" ? action.args.field : "";
    const field = resolveField(params, name);
    if (!field) return { problem: name };
    return { field, value: action.args.value ?? null };
  }
  if (action.tool === "insert_tags") {
    const name = typeof action.args.field === "string" && action.args.field ? action.args.field : "prompt";
    const field = resolveField(params, name);
    if (!field) return { problem: name };
    // the server's text for the field (it joined the tags to the values the phone sent), else the tags added here
    if (typeof action.args.value === "string") return { field, value: action.args.value };
    const tags = arr(action.args.tags).filter((t): t is string => typeof t === "string");
    return { field, value: withTags(str(values[field]), tags) };
  }
  return null;
}

/** "try again in 12 s": the wait of a 429 in whole seconds (at least 1). */
export const waitSeconds = (error: ApiError): number => Math.max(1, Math.ceil(num(error.retryAfter, 1)));

/** What a chip says: a queue proposal in the phone's language (its changes as field and value); a field action
 * as the server summed it up (the field's label from the workflow, an arrow or a plus, the value). */
export function chipText(a: AssistantAction): string {
  if (a.tool !== "queue") return a.summary;
  const count = typeof a.args.variations === "number" ? a.args.variations : 1;
  const changes = isObj(a.args.changes) ? Object.entries(a.args.changes) : [];
  const listed = changes.map(([k, v]) => `${k} ${typeof v === "object" ? JSON.stringify(v) : String(v)}`).join(", ");
  return t("assistant.proposed", { count }) + (listed ? ` · ${listed}` : "");
}
