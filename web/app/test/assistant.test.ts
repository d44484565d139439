import { describe, expect, it } from "vitest";
import { ApiError } from "../src/api";
import {
  actionChange, chat, chatReducer, chipText, EMPTY_CHAT, parseChatEvent, parseConversation, parseLlmStatus, parseProvider, parseProviderTest, resolveField, SseParser,
  withTags, type ChatEvent, type ChatState,
} from "../src/assistant";

const params = [
  { name: "positive_prompt", type: "text" },
  { name: "negative_prompt", type: "text" },
  { name: "width", type: "int" },
  { name: "steps", type: "int" },
  { name: "seed", type: "seed" },
];

describe("the chat stream", () => {
  it("parses SSE split anywhere, joins data lines, skips comments and keeps a half event for later", () => {
    const p = new SseParser();
    const text = ': hello\n\nevent: token\ndata: {"text":"Hi"}\n\nevent: to';
    const got = [...text].flatMap((c) => p.push(c));
    expect(got).toEqual([{ event: "token", data: '{"text":"Hi"}' }]);
    expect(p.push('ken\r\ndata: {"text":\r\ndata: " there"}\r\n\r\n')).toEqual([{ event: "token", data: '{"text":\n" there"}' }]);
  });
  it("turns events into typed ones and drops what it does not know", () => {
    expect(parseChatEvent({ event: "token", data: '{"text":"a"}' })).toEqual({ type: "token", text: "a" });
    expect(parseChatEvent({ event: "action", data: '{"id":"x1","tool":"set_field","args":{"field":"steps","value":30},"summary":"steps → 30","confirm":false}' }))
      .toEqual({ type: "action", action: { id: "x1", tool: "set_field", args: { field: "steps", value: 30 }, summary: "steps → 30", confirm: false } });
    expect(parseChatEvent({ event: "error", data: '{"code":"LLM_TIMEOUT","message":"slow"}' })).toEqual({ type: "error", code: "LLM_TIMEOUT", message: "slow" });
    expect(parseChatEvent({ event: "done", data: '{"reason":"stop"}' })).toEqual({ type: "done", reason: "stop" });
    expect(parseChatEvent({ event: "token", data: "not json" })).toBeNull();
    expect(parseChatEvent({ event: "action", data: '{"tool":"queue"}' })).toBeNull();
    expect(parseChatEvent({ event: "weird", data: "{}" })).toBeNull();
  });
  it("reads a POST's streamed body into events, and a refusal before it as an ApiError with the wait", async () => {
    const chunks = ['event: token\ndata: {"te', 'xt":"Hel"}\n\nevent: token\ndata: {"text":"lo"}\n\n', 'event: done\ndata: {"reason":"stop"}'];
    const body = new ReadableStream<Uint8Array>({
      start(c) {
        for (const s of chunks) c.enqueue(new TextEncoder().encode(s));
        c.close();
      },
    });
    let sent: RequestInit | undefined;
    const fake = (async (_url: string, init?: RequestInit) => {
      sent = init;
      return new Response(body, { status: 200, headers: { "Content-Type": "text/event-stream" } });
    }) as typeof fetch;
    const got: ChatEvent[] = [];
    await chat({ workflow: "w.json", values: { steps: 20 }, message: "hi" }, (e) => got.push(e), undefined, fake);
    expect(got).toEqual([{ type: "token", text: "Hel" }, { type: "token", text: "lo" }, { type: "done", reason: "stop" }]);
    expect(sent?.method).toBe("POST");
    expect(JSON.parse(String(sent?.body))).toEqual({ workflow: "w.json", values: { steps: 20 }, message: "hi" });

    const limited = (async () => new Response('{"error":"slow down","code":"RATE_LIMITED"}', { status: 429, headers: { "Retry-After": "12" } })) as typeof fetch;
    const error = await chat({ workflow: "w.json", values: {}, message: "hi" }, () => undefined, undefined, limited).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({ status: 429, retryAfter: 12 });
  });
});

describe("the sheet's state", () => {
  const sent = chatReducer(EMPTY_CHAT, { type: "sent", id: "m1", text: "make it bigger" });
  it("streams tokens into the reply in order and ends it", () => {
    let s: ChatState = sent;
    for (const text of ["Sure", ", ", "done."]) s = chatReducer(s, { type: "event", event: { type: "token", text } });
    expect(s.messages.map((m) => [m.role, m.text])).toEqual([["user", "make it bigger"], ["assistant", "Sure, done."]]);
    s = chatReducer(s, { type: "event", event: { type: "done", reason: "stop" } });
    expect(s.streaming).toBeNull();
    expect(s.messages[1].streaming).toBe(false);
    expect(chatReducer(s, { type: "event", event: { type: "token", text: "late" } })).toBe(s); // nothing after the end
  });
  it("marks a stopped reply cancelled, and a refused one with its error", () => {
    const stopped = chatReducer(chatReducer(sent, { type: "event", event: { type: "token", text: "Par" } }), { type: "stopped" });
    expect(stopped.messages[1]).toMatchObject({ text: "Par", cancelled: true, streaming: false });
    const refused = chatReducer(sent, { type: "stopped", error: "Too many messages" });
    expect(refused.messages[1]).toMatchObject({ error: "Too many messages", streaming: false });
    expect(refused.messages[1].cancelled).toBeUndefined();
  });
  it("keeps actions with their reply and changes their state by id", () => {
    const action = { id: "a1", tool: "queue", args: { variations: 2 }, summary: "queue 2", confirm: true, state: "waiting" as const };
    let s = chatReducer(sent, { type: "applied", action });
    s = chatReducer(s, { type: "actionState", id: "a1", state: "queued", jobs: ["j1", "j2"] });
    expect(s.messages[1].actions).toEqual([{ ...action, state: "queued", jobs: ["j1", "j2"] }]);
    expect(chatReducer(s, { type: "cleared" })).toEqual(EMPTY_CHAT);
  });
});

describe("actions on the form", () => {
  it("resolves aliases to the form's fields", () => {
    expect(resolveField(params, "steps")).toBe("steps");
    expect(resolveField(params, "prompt")).toBe("positive_prompt");
    expect(resolveField(params, "negative")).toBe("negative_prompt");
    expect(resolveField(params, "height")).toBeNull();
  });
  it("sets a field, appends tags once with spaces, and names a field the form lacks", () => {
    const values = { positive_prompt: "a cat", steps: 20 };
    expect(actionChange({ id: "1", tool: "set_field", args: { field: "steps", value: 30 }, summary: "", confirm: false }, params, values)).toEqual({ field: "steps", value: 30 });
    expect(actionChange({ id: "2", tool: "insert_tags", args: { tags: ["long_hair", "a_cat", "long_hair"] }, summary: "", confirm: false }, params, values))
      .toEqual({ field: "positive_prompt", value: "a cat, long hair" });
    expect(actionChange({ id: "3", tool: "set_field", args: { field: "cfg", value: 7 }, summary: "", confirm: false }, params, values)).toEqual({ problem: "cfg" });
    expect(actionChange({ id: "4", tool: "queue", args: {}, summary: "", confirm: true }, params, values)).toBeNull();
    expect(withTags("", ["a_b"])).toBe("a b");
    expect(withTags("x, ", ["y"])).toBe("x, y");
  });
});

describe("providers at the boundary", () => {
  it("parses the user and admin views, never a key", () => {
    expect(parseProvider({ id: "p1", name: "home", kind: "ollama", default_model: "qwen3", is_default: true, url: "http://h:11434", has_key: true, timeout: 30, key: "sk-leak" }))
      .toEqual({ id: "p1", name: "home", kind: "ollama", defaultModel: "qwen3", isDefault: true, url: "http://h:11434", hasKey: true, timeout: 30 });
    expect(parseProvider({ id: "p2", kind: "martian" })).toMatchObject({ name: "p2", kind: "openai-compatible", url: null, hasKey: false, timeout: null });
    expect(parseProvider({ name: "no id" })).toBeNull();
    expect(parseLlmStatus({ available: true, provider: { id: "settings", name: "enrich" } })).toMatchObject({ available: true, provider: { id: "settings" } });
    expect(parseLlmStatus(null)).toEqual({ available: false, provider: null });
    expect(parseProviderTest({ ok: true, latency_ms: 8, models: ["a", 3, "b"], error: null })).toEqual({ ok: true, latencyMs: 8, models: ["a", "b"], error: null });
  });
  it("parses a kept conversation, dropping what is not a message", () => {
    const got = parseConversation({ messages: [
      { role: "user", content: "hi" },
      { role: "assistant", content: { text: "Hello" }, actions: [{ id: "a", tool: "set_field", args: { field: "steps" }, summary: "steps", confirm: false }], cancelled: true },
      { role: "system", content: "secret" },
      "junk",
    ] });
    expect(got.map((m) => [m.role, m.text, m.actions.length, m.cancelled ?? false])).toEqual([["user", "hi", 0, false], ["assistant", "Hello", 1, true]]);
  });
});

describe("chipText", () => {
  it("says a queue proposal in the app's language, with its changes, and a field action as the server did", () => {
    const queue = { id: "q", tool: "queue", args: { variations: 3, changes: { steps: 20 } }, summary: "queue 3 jobs with steps 20", confirm: true };
    expect(chipText(queue)).toBe("Queue 3 jobs · steps 20");
    expect(chipText({ ...queue, args: { variations: 1 } })).toBe("Queue 1 job");
    expect(chipText({ id: "s", tool: "set_field", args: { field: "steps", value: 30 }, summary: "Steps → 30", confirm: false })).toBe("Steps → 30");
  });
});

describe("a message refused before its stream", () => {
  it("leaves the log (nothing was kept), so sending it again shows it once", () => {
    const before = chatReducer(EMPTY_CHAT, { type: "loaded", messages: [{ id: "p", role: "assistant", text: "earlier", actions: [] }] });
    const sent = chatReducer(before, { type: "sent", id: "m1", text: "hi" });
    expect(sent.messages).toHaveLength(3);
    const refused = chatReducer(sent, { type: "refused" });
    expect(refused).toEqual({ messages: before.messages, streaming: null });
  });
});
