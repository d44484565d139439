// The typed client for CozyGen's HTTP API. Every answer is `unknown` until a
// small parser below turns it into a typed value; every failure becomes an
// ApiError carrying the server's {error, code, fields}.

import { t } from "./i18n";
import { clampRating, type Marks, type MarksChange } from "./gallery/marks";

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type Obj = Record<string, unknown>;

export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly fields: Record<string, string>;
  readonly retryAfter: number | null;
  /** The error's whole JSON body (a 409 DOWNLOAD_EXISTS carries the download that exists). */
  readonly body: Record<string, unknown>;

  constructor(status: number, message: string, code = "ERROR", fields: Record<string, string> = {}, retryAfter: number | null = null, body: Record<string, unknown> = {}) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.fields = fields;
    this.retryAfter = retryAfter;
    this.body = body;
  }
}

export const isObj = (value: unknown): value is Obj => typeof value === "object" && value !== null && !Array.isArray(value);
export const str = (value: unknown, fallback = ""): string => (typeof value === "string" ? value : fallback);
export const num = (value: unknown, fallback = 0): number => (typeof value === "number" && Number.isFinite(value) ? value : fallback);
const numOrNull = (value: unknown): number | null => (typeof value === "number" && Number.isFinite(value) ? value : null);
const strOrNull = (value: unknown): string | null => (typeof value === "string" ? value : null);
const arr = (value: unknown): unknown[] => (Array.isArray(value) ? value : []);

/** Builds an ApiError from a failed response's status and (maybe JSON) body. */
export function errorFrom(status: number, body: unknown, retryAfterHeader: string | null = null): ApiError {
  const data = isObj(body) ? body : {};
  const fields: Record<string, string> = {};
  if (isObj(data.fields)) {
    for (const [key, value] of Object.entries(data.fields)) fields[key] = typeof value === "string" ? value : JSON.stringify(value);
  }
  const fallback = status === 0 ? t("api.noAnswer") : t("api.status", { status: String(status) });
  const retry = numOrNull(data.retry_after) ?? (retryAfterHeader ? Number(retryAfterHeader) || null : null);
  // seed 004's routes answer the seed's terse error text and put CozyGen's explanation in detail
  const message = str(data.detail, str(data.error, fallback));
  return new ApiError(status, message, str(data.code, status === 0 ? "NETWORK" : "HTTP_" + status), fields, retry, data);
}

export type Fetcher = (input: string, init?: RequestInit) => Promise<Response>;
let fetcher: Fetcher = (input, init) => fetch(input, init);
/** For tests: replace the network. */
export function setFetcher(next: Fetcher): void {
  fetcher = next;
}

/** One request; JSON in, JSON (unknown) out; errors thrown as ApiError. */
export async function request(method: string, path: string, body?: unknown, init: RequestInit = {}): Promise<unknown> {
  const headers: Record<string, string> = { Accept: "application/json" };
  let payload: BodyInit | undefined;
  if (body instanceof FormData) payload = body;
  else if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    payload = JSON.stringify(body);
  }
  let response: Response;
  try {
    response = await fetcher(path, { method, headers, body: payload, credentials: "same-origin", ...init });
  } catch (error) {
    if (error instanceof DOMException && error.name === "AbortError") throw error;
    throw errorFrom(0, null);
  }
  const text = await response.text();
  let data: unknown = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = { error: text.slice(0, 200) };
    }
  }
  if (!response.ok) {
    // the session ended (expired, signed out elsewhere): the app shows the sign-in form again
    if (response.status === 401 && !path.startsWith("/cozygen/api/login") && typeof window !== "undefined") window.dispatchEvent(new Event("cozygen:unauthorized"));
    throw errorFrom(response.status, data, response.headers.get("Retry-After"));
  }
  return data;
}

const get = (path: string, init?: RequestInit) => request("GET", path, undefined, init);
const post = (path: string, body?: unknown) => request("POST", path, body ?? {});
const q = (params: Record<string, string | number | boolean | undefined | null>): string => {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) if (value !== undefined && value !== null && value !== "") search.set(key, String(value));
  const text = search.toString();
  return text ? `?${text}` : "";
};
const enc = encodeURIComponent;

// ---- auth ---------------------------------------------------------------------------------

export interface AuthStatus {
  authEnabled: boolean;
  authenticated: boolean;
  user: string | null;
  role: string | null;
  setupRequired: boolean;
  setupAvailable: boolean;
}

export function parseAuthStatus(data: unknown): AuthStatus {
  const d = isObj(data) ? data : {};
  return {
    authEnabled: d.auth_enabled === true,
    authenticated: d.authenticated === true,
    user: strOrNull(d.user),
    role: strOrNull(d.role),
    setupRequired: d.setup_required === true,
    setupAvailable: d.setup_available === true,
  };
}

export async function authStatus(): Promise<AuthStatus> {
  // answered 200 when signed in or auth is off, 401 (with the same fields) otherwise
  let response: Response;
  try {
    response = await fetcher("/cozygen/api/auth_status", { credentials: "same-origin", headers: { Accept: "application/json" } });
  } catch {
    throw errorFrom(0, null);
  }
  const data: unknown = await response.json().catch(() => null);
  if (!response.ok && response.status !== 401) throw errorFrom(response.status, data);
  return parseAuthStatus(data);
}

export const login = (username: string, password: string) => post("/cozygen/api/login", { username, password });
export const setup = (username: string, password: string) => post("/cozygen/api/setup", { username, password });
export const logout = () => post("/cozygen/api/logout");

export interface UserInfo {
  id: string;
  username: string;
  role: string;
}
export async function users(): Promise<UserInfo[]> {
  const data = await get("/cozygen/api/users");
  const list = isObj(data) ? arr(data.users) : arr(data);
  return list.filter(isObj).map((u) => ({ id: String(u.id ?? u.username), username: str(u.username), role: str(u.role) }));
}

export const changePassword = (current: string, next: string) =>
  post("/cozygen/api/me/password", { current_password: current, new_password: next });
export const addUser = (username: string, password: string, role: string) => post("/cozygen/api/users", { username, password, role });

// ---- workflows ----------------------------------------------------------------------------

export type WorkflowKind = "t2i" | "i2i" | "t2v" | "i2v";
const MODES: Record<string, WorkflowKind> = {
  "text-to-image": "t2i",
  "image-to-image": "i2i",
  "text-to-video": "t2v",
  "image-to-video": "i2v",
  t2i: "t2i",
  i2i: "i2i",
  t2v: "t2v",
  i2v: "i2v",
};

export interface WorkflowSummary {
  name: string;
  kind: WorkflowKind | null;
  /** What the host lacks to run it (asked for with the list: `workflows(true)`); undefined when unknown. */
  check?: CheckResult;
  /** Its newest output the caller may see (the card's thumbnail), asked for with the list; undefined when none. */
  latest?: ImageRef;
  /** "editor": saved in ComfyUI's editor (name `editor/<folder>/<file>.json`), else CozyGen's own. */
  source: "cozygen" | "editor";
  /** Its folder in the editor ("" at the top), "" for CozyGen's. */
  folder: string;
  /** Changes whenever its file is saved again. */
  revision: string;
}

/** The kind of a workflow: the stored mode, else a guess from its name. */
export function workflowKind(name: string, mode: unknown): WorkflowKind | null {
  const known = typeof mode === "string" ? MODES[mode] : undefined;
  if (known) return known;
  const n = (name.split("/").pop() ?? name).toLowerCase(); // the file's name ("editor/…" is a folder)
  const video = /video|wan|ltx|hunyuan|animate|svd/.test(n);
  const image = /img2img|i2i|i2v|inpaint|edit|upscale/.test(n);
  if (video) return image ? "i2v" : "t2v";
  if (image) return "i2i";
  if (/txt2img|t2i|procedural|text/.test(n)) return "t2i";
  return null;
}

export async function workflows(withWarnings = false): Promise<WorkflowSummary[]> {
  const [list, types] = await Promise.all([get(withWarnings ? "/cozygen/workflows?warnings=1" : "/cozygen/workflows"), get("/cozygen/api/workflow_types").catch(() => ({}))]);
  const names = isObj(list) ? arr(list.workflows).filter((n): n is string => typeof n === "string") : [];
  const modes = isObj(types) && isObj(types.workflows) ? types.workflows : {};
  const warnings = isObj(list) && isObj(list.warnings) ? list.warnings : {};
  const latest = isObj(list) && isObj(list.latest) ? list.latest : {};
  const details = isObj(list) && isObj(list.details) ? list.details : {};
  return names.map((name) => {
    const d = isObj(details[name]) ? details[name] : {};
    return {
      name,
      kind: workflowKind(name, modes[name]),
      check: isObj(warnings[name]) ? parseCheck(warnings[name]) : undefined,
      latest: parseImageRef(latest[name]) ?? undefined,
      source: d.source === "editor" || name.startsWith("editor/") ? "editor" : "cozygen",
      folder: str(d.folder),
      revision: str(d.revision),
    };
  });
}

export type ParamType = "string" | "text" | "int" | "float" | "boolean" | "seed" | "choice" | "image";
const PARAM_TYPES: ParamType[] = ["string", "text", "int", "float", "boolean", "seed", "choice", "image"];

export interface Param {
  name: string;
  label: string;
  type: ParamType;
  default: Json;
  min: number | null;
  max: number | null;
  step: number | null;
  choices: string[] | null;
  required: boolean;
  group: string;
  description: string;
  randomize: boolean;
}

export function parseParam(data: unknown): Param | null {
  if (!isObj(data) || typeof data.name !== "string") return null;
  const type = PARAM_TYPES.includes(data.type as ParamType) ? (data.type as ParamType) : "string";
  return {
    name: data.name,
    label: str(data.label, data.name),
    type,
    default: (data.default ?? null) as Json,
    min: numOrNull(data.min),
    max: numOrNull(data.max),
    step: numOrNull(data.step),
    choices: Array.isArray(data.choices) ? data.choices.map((c) => String(c)) : null,
    required: data.required === true,
    group: str(data.group),
    description: str(data.description),
    randomize: data.randomize === true,
  };
}

export async function schema(name: string): Promise<Param[]> {
  return (await form(name)).params;
}

/** A workflow's form and the revision of its file (send it with the job: 409 WORKFLOW_CHANGED if it changed). */
export async function form(name: string): Promise<{ params: Param[]; revision: string }> {
  const data = await get(`/cozygen/api/workflows/${enc(name)}/schema`);
  const params = (isObj(data) ? arr(data.parameters) : []).map(parseParam).filter((p): p is Param => p !== null);
  return { params, revision: isObj(data) ? str(data.revision) : "" };
}

export interface CheckResult {
  ok: boolean;
  missingNodes: string[];
  /** "folder/name" of each model file the host lacks. */
  missingModels: string[];
  /** Where each missing model can be fetched from (the single check's answer; absent from the list's warnings). */
  modelSources: ModelSource[];
  /** A setting the workflow needs and the server lacks (a partner node's "comfy_api_key"), or null. */
  missingKey: string | null;
}
export async function check(name: string): Promise<CheckResult> {
  return parseCheck(await post(`/cozygen/api/workflows/${enc(name)}/check`));
}
export function parseCheck(data: unknown): CheckResult {
  const d = isObj(data) ? data : {};
  const nodes = arr(d.missing_nodes).map((n) => (isObj(n) ? str(n.class_type ?? n.node, JSON.stringify(n)) : String(n)));
  const models: string[] = [];
  if (isObj(d.missing_models)) for (const [folder, files] of Object.entries(d.missing_models)) for (const f of arr(files)) models.push(`${folder}/${String(f)}`);
  const sources = arr(d.model_sources).map(parseModelSource).filter((m): m is ModelSource => m !== null);
  const missingKey = strOrNull(d.missing_key);
  return { ok: d.ok !== false, missingNodes: nodes, missingModels: models, modelSources: sources, missingKey };
}

// ---- jobs ---------------------------------------------------------------------------------

export interface ImageRef {
  filename: string;
  subfolder: string;
  type: string;
  id?: number;
  mtime?: number;
}
export const JOB_STATUSES = ["pending", "running", "completed", "failed", "cancelled", "interrupted"] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];
export const isJobStatus = (value: unknown): value is JobStatus => (JOB_STATUSES as readonly unknown[]).includes(value);
export interface Job {
  id: string;
  status: JobStatus;
  queuePosition: number | null;
  workflow: string | null;
  username: string | null;
  node: string | null;
  /** The running node's title (its `_meta.title` in the graph, else its class), when the server says. */
  nodeTitle?: string | null;
  step: number;
  totalSteps: number;
  percent: number;
  images: ImageRef[];
  error: string | null;
  createdAt: number;
  finishedAt: number | null;
  params: Record<string, Json>;
  values: Record<string, Json>;
  preview: string | null;
  /** The backend (a ComfyUI server) that runs it; null when the server does not say. */
  backend: { id: string; name: string } | null;
}

export function parseImageRef(data: unknown): ImageRef | null {
  if (!isObj(data) || typeof data.filename !== "string") return null;
  const ref: ImageRef = { filename: data.filename, subfolder: str(data.subfolder), type: str(data.type, "output") };
  if (typeof data.id === "number") ref.id = data.id;
  if (typeof data.mtime === "number") ref.mtime = data.mtime;
  return ref;
}

export function parseJob(data: unknown): Job {
  const d = isObj(data) && isObj(data.job) ? data.job : isObj(data) ? data : {};
  const status: JobStatus = isJobStatus(d.status) ? d.status : "pending";
  const err = d.error;
  const preview = isObj(d.preview) ? strOrNull(d.preview.url ?? d.preview.data) : strOrNull(d.preview ?? d.preview_url);
  return {
    id: str(d.id),
    status,
    queuePosition: numOrNull(d.queue_position),
    workflow: strOrNull(d.workflow),
    username: strOrNull(d.username),
    node: d.node === null || d.node === undefined ? null : String(d.node),
    nodeTitle: strOrNull(d.node_title),
    step: num(d.step),
    totalSteps: num(d.total_steps),
    percent: num(d.percent),
    images: arr(d.images).map(parseImageRef).filter((i): i is ImageRef => i !== null),
    error: err === null || err === undefined ? null : typeof err === "string" ? err : str(isObj(err) ? err.exception_message ?? err.message : null, JSON.stringify(err)),
    createdAt: num(d.created_at),
    finishedAt: numOrNull(d.finished_at),
    params: (isObj(d.params) ? d.params : {}) as Record<string, Json>,
    values: (isObj(d.values) ? d.values : {}) as Record<string, Json>,
    preview,
    backend: isObj(d.backend) && typeof d.backend.id === "string" && d.backend.id ? { id: d.backend.id, name: str(d.backend.name, d.backend.id) } : null,
  };
}

export interface SubmitJob {
  workflow: string;
  values: Record<string, Json>;
  num_images?: number;
  job_id?: string;
  session_id?: string;
  /** The workflow's revision the form was built from. */
  revision?: string;
  /** Pin the job to one backend (its id); left out: any backend that can run it. */
  backend?: string;
}
export const submitJob = async (body: SubmitJob) => parseJob(await post("/cozygen/api/jobs", body));
export const getJob = async (id: string) => parseJob(await get(`/cozygen/api/jobs/${enc(id)}`));
export const cancelJob = (id: string) => post(`/cozygen/api/jobs/${enc(id)}/cancel`);
export const reproduceJob = async (id: string) => parseJob(await post(`/cozygen/api/jobs/${enc(id)}/reproduce`));

export async function jobs(params: { status?: string; limit?: number; before?: string; q?: string; session_id?: string } = {}): Promise<{ jobs: Job[]; next: string | null }> {
  const data = await get(`/cozygen/api/jobs${q(params)}`);
  const d = isObj(data) ? data : {};
  return { jobs: arr(d.jobs).map(parseJob), next: strOrNull(d.next_cursor) };
}
export const exportUrl = (format: "csv" | "json", sessionId?: string) => `/cozygen/api/jobs/export${q({ format, session_id: sessionId })}`;

export interface Session {
  id: string;
  name: string;
  jobCount: number;
}
const parseSession = (s: unknown): Session | null =>
  isObj(s) && typeof s.id === "string" ? { id: s.id, name: str(s.name, "Session"), jobCount: num(s.job_count) } : null;
export async function sessions(): Promise<Session[]> {
  const d = await get("/cozygen/api/sessions");
  return (isObj(d) ? arr(d.sessions) : []).map(parseSession).filter((x): x is Session => x !== null);
}
export async function createSession(name: string): Promise<Session> {
  const d = await post("/cozygen/api/sessions", { name });
  const made = parseSession(isObj(d) ? d.session : null);
  if (!made) throw new ApiError(500, t("api.noSession"));
  return made;
}

export interface QueueInfo {
  pending: number;
  running: number;
  averageSeconds: number | null;
}
export async function queue(): Promise<QueueInfo> {
  const d = await get("/cozygen/api/queue");
  const o = isObj(d) ? d : {};
  // the estimate, not the plain average: the server gives it only from enough completed runs
  return { pending: num(o.pending), running: num(o.running), averageSeconds: numOrNull(o.estimate_seconds) };
}

// ---- gallery and images -------------------------------------------------------------------

export type GalleryRoot = "output" | "input";
export type SortKey = "mtime" | "created" | "name" | "size" | "rating";
export type KindFilter = "all" | "image" | "video" | "animated";
export type RejectedMode = "show" | "hide" | "only";

export interface GalleryItem extends ImageRef {
  isDir: boolean;
  prompt: string | null;
  model: string | null;
  /** A folder's newest images (up to 4) the caller may see; absent for files. */
  preview?: ImageRef[];
  /** The caller's own marks (none when the server sends none). */
  marks: Marks;
  size: number | null;
  kind: string | null;
  width: number | null;
  height: number | null;
  /** When CozyGen first indexed it (kept across moves). */
  created: number | null;
}

export function parseMarks(data: unknown): Marks {
  const d = isObj(data) ? data : {};
  return { favourite: d.favourite === true, rejected: d.rejected === true, rating: clampRating(num(d.rating)) };
}

export function parseGalleryItem(data: unknown): GalleryItem | null {
  const ref = parseImageRef(data);
  if (!ref || !isObj(data)) return null;
  const meta = isObj(data.meta) ? data.meta : {};
  const isDir = data.type === "directory";
  const parsed: GalleryItem = {
    ...ref,
    isDir,
    prompt: strOrNull(meta.prompt),
    model: strOrNull(meta.model),
    marks: parseMarks(data.marks),
    size: numOrNull(data.size),
    kind: strOrNull(data.kind),
    width: numOrNull(data.width),
    height: numOrNull(data.height),
    created: numOrNull(data.created),
  };
  if (isDir) parsed.preview = arr(data.preview).map(parseImageRef).filter((p): p is ImageRef => p !== null);
  return parsed;
}

export interface GalleryPage {
  items: GalleryItem[];
  next: string | null;
  page: number;
  totalPages: number;
  /** Folders and files the listing holds. */
  total: number;
}
/** A gallery listing: where, what and in which order (every field optional; the seed's listing without them). */
export interface GalleryQuery {
  type?: GalleryRoot;
  subfolder?: string;
  search?: string;
  recursive?: boolean;
  model?: string;
  sort?: SortKey;
  order?: "asc" | "desc";
  kind?: KindFilter;
  favourite?: boolean;
  rejected?: RejectedMode;
  minRating?: number;
  /** Bytes. */
  minSize?: number | null;
  maxSize?: number | null;
  /** Seconds since the epoch (on the file's modification time). */
  since?: number | null;
  until?: number | null;
}
export interface GalleryPaging {
  cursor?: string | null;
  page?: number;
  perPage?: number;
}

/** The listing's query string without paging: what the grid, its counts and "select all matching" send. */
export function listingQueryString(query: GalleryQuery): string {
  return q({
    type: query.type === "input" ? "input" : undefined,
    subfolder: query.subfolder,
    recursive: query.recursive ? "true" : undefined,
    search: query.search,
    model: query.model,
    sort: query.sort && query.sort !== "mtime" ? query.sort : undefined,
    order: query.order && query.order !== (query.sort === "name" ? "asc" : "desc") ? query.order : undefined,
    kind: query.kind && query.kind !== "all" ? query.kind : undefined,
    favourite: query.favourite ? 1 : undefined,
    rejected: query.rejected && query.rejected !== "show" ? query.rejected : undefined,
    min_rating: query.minRating ? query.minRating : undefined,
    min_size: query.minSize,
    max_size: query.maxSize,
    since: query.since,
    until: query.until,
  }).slice(1);
}

export async function gallery(query: GalleryQuery & GalleryPaging): Promise<GalleryPage> {
  const base = listingQueryString(query);
  const paging = q({
    cursor: query.cursor ?? undefined,
    page: query.cursor ? undefined : query.page,
    per_page: query.perPage ?? 40,
    include_meta: "true",
  }).slice(1);
  const data = await get(`/cozygen/api/gallery?${base ? `${base}&` : ""}${paging}`);
  const d = isObj(data) ? data : {};
  return {
    items: arr(d.items).map(parseGalleryItem).filter((i): i is GalleryItem => i !== null),
    next: strOrNull(d.next_cursor),
    page: num(d.page, 1),
    totalPages: num(d.total_pages, 1),
    total: num(d.total_items),
  };
}

/** How many images of a listing are marked (its filter without its mark filters). */
export interface GalleryCounts {
  total: number;
  favourite: number;
  rejected: number;
  rated: number;
  /** "1" to "5": how many have each rating. */
  ratings: Record<string, number>;
}
export async function galleryCounts(query: GalleryQuery): Promise<GalleryCounts> {
  const base = listingQueryString(query);
  const d = await get(`/cozygen/api/gallery/counts${base ? `?${base}` : ""}`);
  const o = isObj(d) ? d : {};
  const r = isObj(o.ratings) ? o.ratings : {};
  const ratings: Record<string, number> = {};
  for (const n of ["1", "2", "3", "4", "5"]) ratings[n] = num(r[n]);
  return { total: num(o.total), favourite: num(o.favourite), rejected: num(o.rejected), rated: num(o.rated), ratings };
}

/** What a bulk action acts on: image ids, or everything a listing's query string matches. */
export type BulkSelection = { ids: number[] } | { query: string };

/** Mark one image; its marks as the server now holds them. */
export async function setMarks(id: number, change: MarksChange): Promise<Marks> {
  const d = await request("PUT", `/cozygen/api/images/${id}/marks`, change);
  return parseMarks(isObj(d) ? d.marks : null);
}
/** Mark many; how many changed. */
export async function markMany(selection: BulkSelection, set: MarksChange): Promise<number> {
  const d = await post("/cozygen/api/gallery/marks", { ...selection, set });
  return num(isObj(d) ? d.updated : null);
}

/** What went to the trash: how many, and the batch that restores them (POST /cozygen/api/gallery/restore). */
export interface Trashed {
  deleted: number;
  batch: string | null;
}
const parseTrashed = (d: unknown): Trashed => ({ deleted: num(isObj(d) ? d.deleted : null), batch: isObj(d) ? strOrNull(d.batch) : null });

export async function deleteRejected(type: GalleryRoot, subfolder: string, recursive: boolean): Promise<Trashed> {
  return parseTrashed(await post("/cozygen/api/gallery/delete_rejected", { type, subfolder, recursive }));
}
export async function deleteMany(selection: BulkSelection): Promise<Trashed> {
  return parseTrashed(await post("/cozygen/api/gallery/delete_many", selection));
}

export interface Moved {
  moved: ImageRef[];
  errors: string[];
}
/** Move files into `to` (a folder of their root); 409 NAME_TAKEN unless `rename` (then "name (2)"). */
export async function moveImages(selection: BulkSelection, to: string, rename = false, type?: GalleryRoot): Promise<Moved> {
  const d = await post("/cozygen/api/gallery/move", { ...selection, to, rename, ...(type ? { type } : {}) });
  const o = isObj(d) ? d : {};
  return {
    moved: arr(o.moved).map(parseImageRef).filter((r): r is ImageRef => r !== null),
    // each file left where it was: "name: why"
    errors: arr(o.errors).map((e) => (isObj(e) ? (e.filename ? `${str(e.filename)}: ${str(e.error)}` : str(e.error, JSON.stringify(e))) : String(e))),
  };
}

export interface ZipTicket {
  url: string;
  files: number;
  bytes: number;
}
/** A one-time download of the selection as a zip (413 above the server's caps). */
export async function zipSelection(selection: BulkSelection, name?: string): Promise<ZipTicket> {
  const d = await post("/cozygen/api/gallery/zip", name ? { ...selection, name } : selection);
  const o = isObj(d) ? d : {};
  const url = str(o.url);
  if (!url.startsWith("/")) throw new ApiError(500, t("api.badAnswer"), "BAD_ANSWER");
  return { url, files: num(o.files), bytes: num(o.bytes) };
}

/** Folders: create one (its path), rename one (its new path), delete one (empty, or its files to the trash). */
export async function createFolder(type: GalleryRoot, parent: string, name: string): Promise<string> {
  const d = await post("/cozygen/api/gallery/folders", { type, parent, name });
  return str(isObj(d) ? d.subfolder : null);
}
export async function renameFolder(type: GalleryRoot, subfolder: string, name: string): Promise<string> {
  const d = await request("PATCH", "/cozygen/api/gallery/folders", { type, subfolder, name });
  return str(isObj(d) ? d.subfolder : null);
}
export async function deleteFolder(type: GalleryRoot, subfolder: string, trash = false): Promise<Trashed> {
  return parseTrashed(await request("DELETE", `/cozygen/api/gallery/folders${q({ type, subfolder, trash: trash ? 1 : undefined })}`));
}
/** The folders directly inside one (the move sheet walks them). */
export async function galleryFolders(type: GalleryRoot, parent: string): Promise<GalleryItem[]> {
  const page = await gallery({ type, subfolder: parent, perPage: 100 });
  return page.items.filter((i) => i.isDir);
}

/** Two images' metadata and which of their parameters differ. */
export interface Comparison {
  a: ImageMeta;
  b: ImageMeta;
  differences: { name: string; a: Json; b: Json }[];
  same: { name: string; value: Json }[];
}
export async function compareImages(a: number, b: number): Promise<Comparison> {
  const d = await get(`/cozygen/api/images/compare${q({ a, b })}`);
  const o = isObj(d) ? d : {};
  return {
    a: parseImageMeta(o.a),
    b: parseImageMeta(o.b),
    differences: arr(o.differences).filter(isObj).map((x) => ({ name: str(x.name), a: (x.a ?? null) as Json, b: (x.b ?? null) as Json })).filter((x) => x.name),
    same: arr(o.same).filter(isObj).map((x) => ({ name: str(x.name), value: (x.value ?? null) as Json })).filter((x) => x.name),
  };
}

export async function galleryModels(): Promise<{ model: string; count: number }[]> {
  const d = await get("/cozygen/api/gallery/models");
  return (isObj(d) ? arr(d.models) : []).filter(isObj).map((m) => ({ model: str(m.model), count: num(m.count) })).filter((m) => m.model);
}

export const thumbUrl = (ref: ImageRef, width = 384) =>
  ref.id !== undefined
    ? `/cozygen/api/images/${ref.id}/thumb?w=${width}`
    : `/cozygen/thumb${q({ filename: ref.filename, subfolder: ref.subfolder, type: ref.type, w: width, v: ref.mtime })}`;
/** A video the viewer plays (the rest are pictures, GIF and animated WebP included). */
export const isVideo = (ref: ImageRef) => /\.(mp4|webm|mov|mkv)$/i.test(ref.filename);
export const imageUrl = (ref: ImageRef) =>
  ref.id !== undefined ? `/cozygen/api/images/${ref.id}` : `/view${q({ filename: ref.filename, subfolder: ref.subfolder, type: ref.type })}`;

export interface DeleteResult {
  batch: string | null;
}
export async function deleteImage(ref: ImageRef): Promise<DeleteResult> {
  const data = ref.id !== undefined
    ? await request("DELETE", `/cozygen/api/images/${ref.id}`)
    : await post("/cozygen/api/gallery/delete", { filename: ref.filename, subfolder: ref.subfolder });
  return { batch: isObj(data) ? strOrNull(data.batch) : null };
}
export const restore = (batch: string) => post("/cozygen/api/gallery/restore", { batch });
export const restoreIds = (ids: string[]) => post("/cozygen/api/gallery/restore", { ids });

export interface TrashItem {
  id: string;
  filename: string;
  subfolder: string;
  deletedAt: number;
  deletedBy: string | null;
}
export async function trash(): Promise<TrashItem[]> {
  const d = await get("/cozygen/api/gallery/trash");
  return (isObj(d) ? arr(d.items) : []).filter(isObj).map((t) => ({
    id: String(t.id),
    filename: str(t.filename),
    subfolder: str(t.subfolder),
    deletedAt: num(t.deleted_at),
    deletedBy: strOrNull(t.deleted_by),
  }));
}

export interface ImageMeta {
  fields: Record<string, Json>;
  params: Record<string, Json>;
  width: number | null;
  height: number | null;
  /** The caller's own marks (absent from a server that keeps none). */
  marks?: Marks;
}
export async function imageMetadata(id: number): Promise<ImageMeta> {
  return parseImageMeta(await get(`/cozygen/api/images/${id}/metadata`));
}
export function parseImageMeta(d: unknown): ImageMeta {
  const o = isObj(d) ? d : {};
  return {
    fields: (isObj(o.fields) ? o.fields : {}) as Record<string, Json>,
    params: (isObj(o.params) ? o.params : {}) as Record<string, Json>,
    width: numOrNull(o.width),
    height: numOrNull(o.height),
    ...(isObj(o.marks) ? { marks: parseMarks(o.marks) } : {}),
  };
}

/** The gallery id of an output file named by a job (recent files come first). */
export async function galleryId(ref: ImageRef): Promise<number | undefined> {
  const page = await gallery({ subfolder: ref.subfolder, perPage: 200 });
  return page.items.find((i) => !i.isDir && i.filename === ref.filename && i.subfolder === ref.subfolder)?.id;
}

/** Copies an output image into the input folder; answers the input file name. */
export async function toInput(ref: ImageRef): Promise<string> {
  if (ref.type === "input") return ref.subfolder ? `${ref.subfolder}/${ref.filename}` : ref.filename;
  const id = ref.id ?? (await galleryId(ref));
  if (id === undefined) throw new ApiError(404, t("api.notIndexed"));
  const d = await post(`/cozygen/api/images/${id}/to-input`);
  const o = isObj(d) ? d : {};
  const name = str(o.filename ?? o.name);
  const sub = str(o.subfolder);
  return sub ? `${sub}/${name}` : name;
}

export async function upload(file: File): Promise<string> {
  const form = new FormData();
  form.append("image", file, file.name || "photo.jpg");
  const d = await request("POST", "/cozygen/upload_image", form);
  return str(isObj(d) ? d.filename : null);
}

export interface InputFile {
  path: string;
  isDir: boolean;
}
export async function inputFiles(subfolder = ""): Promise<InputFile[]> {
  const d = await get(`/cozygen/input${q({ subfolder, per_page: 0, exts: "png,jpg,jpeg,webp,gif,bmp" })}`);
  return (isObj(d) ? arr(d.items) : [])
    .filter(isObj)
    .map((i) => ({ path: str(i.rel_path, str(i.name)), isDir: i.is_dir === true }));
}
export const inputUrl = (path: string, width = 256) => {
  const cut = path.lastIndexOf("/");
  return thumbUrl({ filename: path.slice(cut + 1), subfolder: cut > 0 ? path.slice(0, cut) : "", type: "input" }, width);
};

// ---- presets ------------------------------------------------------------------------------

export interface Preset {
  id: string;
  name: string;
  values: Record<string, Json>;
}
const parsePresets = (d: unknown): Preset[] =>
  (isObj(d) ? arr(d.presets) : [])
    .filter(isObj)
    .map((p) => ({ id: str(p.id, str(p.name)), name: str(p.name), values: (isObj(p.values) ? p.values : {}) as Record<string, Json> }));
export const presets = async (workflow: string) => parsePresets(await get(`/cozygen/api/workflow_presets${q({ workflow })}`));
export const savePreset = async (workflow: string, preset: { id?: string; name: string; values: Record<string, Json> }) =>
  parsePresets(await post("/cozygen/api/workflow_presets", { workflow, preset }));
export const deletePreset = async (workflow: string, id: string) => parsePresets(await post("/cozygen/api/workflow_presets", { workflow, delete: id }));

// ---- prompt tools (optional: hidden when the server lacks them) ---------------------------

export async function tagSearch(text: string, signal?: AbortSignal): Promise<string[]> {
  const d = await get(`/cozygen/api/tags/search${q({ q: text, limit: 8 })}`, { signal });
  const list = isObj(d) ? arr(d.tags ?? d.items ?? d.results) : arr(d);
  return list.map((t) => (isObj(t) ? str(t.name ?? t.tag) : String(t))).filter(Boolean);
}
export async function randomPrompt(): Promise<{ positive: string; negative: string | null }> {
  const d = await get("/cozygen/api/prompts/random");
  const o = isObj(d) ? d : {};
  return { positive: str(o.positive ?? o.prompt ?? o.text), negative: strOrNull(o.negative) };
}
export async function promptStyles(): Promise<{ styles: { name: string; description: string }[]; default: string }> {
  const d = await get("/cozygen/api/prompts/styles");
  const o = isObj(d) ? d : {};
  return {
    styles: arr(o.styles).filter(isObj).map((s) => ({ name: str(s.name), description: str(s.description) })).filter((s) => s.name),
    default: str(o.default, "enhance"),
  };
}
export async function enrichPrompt(prompt: string, style?: string): Promise<{ prompt: string; warning: string | null }> {
  const d = await post("/cozygen/api/prompts/enrich", style ? { prompt, style } : { prompt });
  const o = isObj(d) ? d : {};
  return { prompt: str(o.enriched_prompt ?? o.prompt, prompt), warning: strOrNull(o.warning) };
}
export async function wildcardNames(): Promise<string[]> {
  const d = await get("/cozygen/api/prompts/wildcards");
  return isObj(d) ? arr(d.wildcards).filter(isObj).map((w) => str(w.name)).filter((n) => n && !n.includes("prompt")) : [];
}
export async function aliases(): Promise<string[]> {
  const d = await get("/cozygen/api/aliases");
  return isObj(d) && isObj(d.items) ? Object.keys(d.items) : [];
}
/** Whether an optional route exists (anything but 404/405 counts as present). */
export async function routeExists(path: string): Promise<boolean> {
  try {
    const response = await fetcher(path, { credentials: "same-origin" });
    return response.status !== 404 && response.status !== 405;
  } catch {
    return false;
  }
}

// ---- the server's stats -------------------------------------------------------------------

export interface ServerStats {
  devices: { name: string; type: string; vramTotal: number | null; vramFree: number | null }[];
  ramTotal: number | null;
  ramFree: number | null;
  comfyuiVersion: string | null;
  pytorchVersion: string | null;
  queue: { running: number; pending: number };
}
export async function serverStats(): Promise<ServerStats> {
  const d = await get("/cozygen/api/system/stats");
  const o = isObj(d) ? d : {};
  const q = isObj(o.queue) ? o.queue : {};
  return {
    devices: arr(o.devices).filter(isObj).map((x) => ({ name: str(x.name, "?"), type: str(x.type, "?"), vramTotal: numOrNull(x.vram_total), vramFree: numOrNull(x.vram_free) })),
    ramTotal: numOrNull(o.ram_total),
    ramFree: numOrNull(o.ram_free),
    comfyuiVersion: strOrNull(o.comfyui_version),
    pytorchVersion: strOrNull(o.pytorch_version),
    queue: { running: num(q.running), pending: num(q.pending) },
  };
}

// ---- restarting ComfyUI (admin) -----------------------------------------------------------

export interface RestartAnswer {
  jobsLost: number;
  startedAt: number | null; // the run that is ending; the next run's stats show another
}
/** Ask the server to restart ComfyUI (202). An ApiError 409 JOBS_ON_QUEUE while jobs run or wait, unless `force`. */
export async function restartComfyUI(force = false): Promise<RestartAnswer> {
  const d = await post("/cozygen/api/system/restart", force ? { force: true } : {});
  const o = isObj(d) ? d : {};
  return { jobsLost: num(o.jobs_lost), startedAt: numOrNull(o.started_at) };
}
/** When the running ComfyUI started (epoch seconds), or null while the server does not answer. */
export async function serverStartedAt(): Promise<number | null> {
  try {
    const d = await get("/cozygen/api/system/stats");
    return isObj(d) ? numOrNull(d.started_at) : null;
  } catch {
    return null;
  }
}

// ---- series: one request run N times or until stopped, on the server ------------------------

/** How many times a series runs: a number, or until its owner stops it. */
export type SeriesTimes = number | "until_stopped";
export type SeriesStatus = "running" | "stopped" | "done" | "failed";

export interface Series {
  id: string;
  workflow: string;
  times: SeriesTimes;
  submitted: number;
  completed: number;
  currentJob: string | null;
  status: SeriesStatus;
  reason: string | null;
  username: string;
  createdAt: number;
}

const SERIES_STATUSES: readonly string[] = ["running", "stopped", "done", "failed"];

export function parseSeries(data: unknown): Series | null {
  const d = isObj(data) ? data : {};
  const times = d.times === "until_stopped" ? "until_stopped" : numOrNull(d.times);
  if (typeof d.id !== "string" || !d.id || times === null || !SERIES_STATUSES.includes(str(d.status))) return null;
  return {
    id: d.id,
    workflow: str(d.workflow),
    times,
    submitted: num(d.submitted),
    completed: num(d.completed),
    currentJob: strOrNull(d.current_job),
    status: str(d.status) as SeriesStatus,
    reason: strOrNull(d.reason),
    username: str(d.username),
    createdAt: num(d.created_at),
  };
}

/** Start a series: its first job is queued at once; each next one when the one before ends. */
export async function startSeries(body: SubmitJob & { times: SeriesTimes }): Promise<{ series: Series; job: Job }> {
  const data = await post("/cozygen/api/series", body);
  const d = isObj(data) ? data : {};
  const series = parseSeries(d.series);
  if (!series) throw new ApiError(500, t("api.noSeries"), "BAD_ANSWER");
  return { series, job: parseJob(d.job) };
}

/** The caller's series: the running ones first, then the latest to end. */
export async function listSeries(): Promise<Series[]> {
  const data = await get("/cozygen/api/series");
  const d = isObj(data) ? data : {};
  return arr(d.series).map(parseSeries).filter((s): s is Series => s !== null);
}

/** Queue no further job of a series (the one it queued last runs to its end). */
export async function stopSeries(id: string): Promise<Series | null> {
  const data = await post(`/cozygen/api/series/${enc(id)}/stop`);
  return parseSeries(isObj(data) ? data.series : null);
}

// ---- workflows from anywhere: an image's embedded workflow, imports, every node's settings -------

/** What an image's embedded workflow is: its suggested name, its format and whether this host can run it. */
export interface ImageWorkflow {
  name: string;
  format: string;
  ok: boolean;
}
export async function imageWorkflow(id: number): Promise<ImageWorkflow> {
  const d = await get(`/cozygen/api/images/${id}/workflow`);
  const o = isObj(d) ? d : {};
  return { name: str(o.name), format: str(o.format), ok: isObj(o.check) && o.check.ok === true };
}

/** Save an image's embedded workflow as the caller's own; its file name (a new one, never over another). */
export async function saveImageWorkflow(id: number): Promise<string> {
  const d = await post(`/cozygen/api/images/${id}/workflow/save`);
  return str(isObj(d) ? d.filename : "");
}

/** Import a workflow file's text (either format) as the caller's own under ``name`` made unique; its file name. */
export async function importWorkflow(text: string, name: string): Promise<string> {
  const d = await request("POST", `/cozygen/api/workflows/import${q({ name })}`, undefined, {
    body: text,
    headers: { Accept: "application/json", "Content-Type": "application/json" },
  });
  return str(isObj(d) ? d.filename : "");
}

/** One widget of a node in the all-settings view: a form parameter named "<node id>.<input>". */
export interface NodeWidget extends Param {
  input: string;
  linked: boolean;
}
export interface NodeSettings {
  id: string;
  classType: string;
  title: string;
  widgets: NodeWidget[];
}
export async function workflowNodes(name: string): Promise<NodeSettings[]> {
  const d = await get(`/cozygen/api/workflows/${enc(name)}/nodes`);
  return arr(isObj(d) ? d.nodes : []).filter(isObj).map((n) => ({
    id: str(n.id),
    classType: str(n.class_type),
    title: str(n.title, str(n.class_type)),
    widgets: arr(n.widgets).filter(isObj).flatMap((w) => {
      const p = parseParam(w);
      return p ? [{ ...p, input: str(w.input, p.name), linked: w.linked === true }] : [];
    }),
  }));
}

// ---- models: downloads (admin), the model browser, the model trash ------------------------------

/** Where a model comes from: a file of a Hugging Face repository, or a direct URL. */
export type DownloadSource = { kind: "hf"; repo: string; file: string; revision: string } | { kind: "url"; url: string };

/** A source as the server writes it (core/models/sources.py's Source.as_dict()), or null. */
export function parseSource(data: unknown): DownloadSource | null {
  if (typeof data === "string") return data ? { kind: "url", url: data } : null;
  if (!isObj(data)) return null;
  if (isObj(data.hf)) {
    const repo = str(data.hf.repo);
    const file = str(data.hf.file);
    return repo && file ? { kind: "hf", repo, file, revision: str(data.hf.revision, "main") || "main" } : null;
  }
  const url = str(data.url);
  return url ? { kind: "url", url } : null;
}
/** A source as the server takes it (POST /cozygen/api/downloads). */
export const sourceBody = (source: DownloadSource): Json =>
  source.kind === "hf" ? { hf: { repo: source.repo, file: source.file, revision: source.revision || "main" } } : { url: source.url };
/** A source in a line: "owner/name/file" (with "@revision" unless main), or the URL without its query. */
export function sourceLabel(source: DownloadSource): string {
  if (source.kind === "hf") return `${source.repo}/${source.file}${source.revision && source.revision !== "main" ? `@${source.revision}` : ""}`;
  return source.url.split(/[?#]/)[0];
}

export const DOWNLOAD_STATES = ["queued", "running", "done", "failed", "cancelled"] as const;
export type DownloadState = (typeof DOWNLOAD_STATES)[number];
export const isDownloadState = (value: unknown): value is DownloadState => (DOWNLOAD_STATES as readonly unknown[]).includes(value);

/** One download (core/models/service.py's view). */
export interface Download {
  id: string;
  folder: string;
  name: string;
  source: DownloadSource | null;
  label: string;
  state: DownloadState;
  done: number;
  total: number | null;
  percent: number | null;
  /** Bytes a second, while it runs. */
  speed: number | null;
  /** Seconds left, while it runs and the size is known. */
  eta: number | null;
  sha256: string | null;
  sha256Expected: string | null;
  error: string | null;
  code: string | null;
  /** A pickle's warning (.ckpt, .pt...: such a file can run code when loaded). */
  warning: string | null;
  createdBy: string | null;
  createdAt: number;
  startedAt: number | null;
  finishedAt: number | null;
}

/** A download view, or null when it lacks its id, target or a known state. */
export function parseDownload(data: unknown): Download | null {
  const d = isObj(data) && isObj(data.download) ? data.download : data;
  if (!isObj(d) || typeof d.id !== "string" || !d.id || !isDownloadState(d.state) || typeof d.folder !== "string" || typeof d.name !== "string") return null;
  const source = parseSource(d.source);
  return {
    id: d.id,
    folder: d.folder,
    name: d.name,
    source,
    label: str(d.label, source ? sourceLabel(source) : ""),
    state: d.state,
    done: num(d.done),
    total: numOrNull(d.total),
    percent: numOrNull(d.percent),
    speed: numOrNull(d.speed),
    eta: numOrNull(d.eta),
    sha256: strOrNull(d.sha256),
    sha256Expected: strOrNull(d.sha256_expected),
    error: strOrNull(d.error),
    code: strOrNull(d.code),
    warning: strOrNull(d.warning),
    createdBy: strOrNull(d.created_by),
    createdAt: num(d.created_at),
    startedAt: numOrNull(d.started_at),
    finishedAt: numOrNull(d.finished_at),
  };
}
const parseDownloads = (list: unknown): Download[] => arr(list).map(parseDownload).filter((d): d is Download => d !== null);

/** A missing model of a workflow's check and where it can come from. */
export interface ModelSource {
  folder: string;
  name: string;
  source: DownloadSource | null;
  /** The source in a line (the server's label: never a key). */
  label: string;
  sha256: string | null;
  /** The newest queued, running or failed download of this model. */
  download: Download | null;
}
export function parseModelSource(data: unknown): ModelSource | null {
  if (!isObj(data) || typeof data.folder !== "string" || typeof data.name !== "string") return null;
  // the source may come as the catalogue's entry ({source, sha256}) or as the source itself
  const source = parseSource(isObj(data.source) && isObj(data.source.source) ? data.source.source : data.source);
  const label = str(data.label, source ? sourceLabel(source) : "");
  return { folder: data.folder, name: data.name, source, label, sha256: strOrNull(data.sha256), download: parseDownload(data.download) };
}

export interface NewDownload {
  source: DownloadSource;
  folder: string;
  /** The file name in the folder (subfolders allowed); the source's file name when absent. */
  name?: string;
  sha256?: string;
}
/** Queue a download (202); 409 MODEL_EXISTS or DOWNLOAD_EXISTS (its body's `download`), 403 for a host not allowed. */
export async function startDownload(body: NewDownload): Promise<Download> {
  const payload: Record<string, Json> = { source: sourceBody(body.source), folder: body.folder };
  if (body.name) payload.name = body.name;
  if (body.sha256) payload.sha256 = body.sha256;
  const made = parseDownload(await post("/cozygen/api/downloads", payload));
  if (!made) throw new ApiError(500, t("api.badAnswer"), "BAD_ANSWER");
  return made;
}
/** The download queue and its history, newest first. */
export async function downloads(limit = 100): Promise<Download[]> {
  const d = await get(`/cozygen/api/downloads${q({ limit })}`);
  return parseDownloads(isObj(d) ? d.downloads : d);
}
export async function cancelDownload(id: string): Promise<Download | null> {
  return parseDownload(await post(`/cozygen/api/downloads/${enc(id)}/cancel`));
}
/** What "Get all" did: the downloads queued, the models with no known source, those already on their way. */
export interface MissingQueued {
  queued: Download[];
  unknown: { folder: string; name: string }[];
  already: Download[];
  /** The models the server would not queue, each with its reason (a host not allowed, say). */
  refused: { folder: string; name: string; error: string }[];
}
export async function downloadMissing(workflow: string): Promise<MissingQueued> {
  const d = await post("/cozygen/api/downloads/missing", { workflow });
  const o = isObj(d) ? d : {};
  return {
    queued: parseDownloads(o.queued),
    unknown: arr(o.unknown).filter(isObj).map((u) => ({ folder: str(u.folder), name: str(u.name) })).filter((u) => u.folder && u.name),
    already: parseDownloads(o.already),
    refused: arr(o.refused).filter(isObj).map((r) => ({ folder: str(r.folder), name: str(r.name), error: str(r.error, str(r.code)) })),
  };
}

/** An installed model file (GET /cozygen/api/models/library). */
export interface ModelFile {
  folder: string;
  name: string;
  size: number;
  /** Seconds since the epoch. */
  mtime: number;
  /** Null until the server has hashed it (in the background). */
  sha256: string | null;
  preview: boolean;
  /** A pickle (.ckpt, .pt, .pth, .bin): loading it can run code. */
  pickle: boolean;
}
export interface ModelLibrary {
  folders: { name: string; count: number }[];
  models: ModelFile[];
  total: number;
  /** Files still waiting for their hash. */
  hashing: number;
}
export function parseModelLibrary(data: unknown): ModelLibrary {
  const o = isObj(data) ? data : {};
  return {
    folders: arr(o.folders).filter(isObj).map((f) => ({ name: str(f.name), count: num(f.count) })).filter((f) => f.name),
    models: arr(o.models).filter(isObj).filter((m) => typeof m.folder === "string" && typeof m.name === "string").map((m) => ({
      folder: str(m.folder),
      name: str(m.name),
      size: num(m.size),
      mtime: num(m.mtime),
      sha256: strOrNull(m.sha256),
      preview: m.preview === true,
      pickle: m.pickle === true,
    })),
    total: num(o.total),
    hashing: num(o.hashing),
  };
}
export async function modelLibrary(query: { folder?: string; q?: string; limit?: number; offset?: number } = {}): Promise<ModelLibrary> {
  return parseModelLibrary(await get(`/cozygen/api/models/library${q(query)}`));
}
export const modelPreviewUrl = (m: Pick<ModelFile, "folder" | "name" | "mtime">) => `/cozygen/api/models/preview${q({ folder: m.folder, name: m.name, v: m.mtime })}`;

export interface TrashedModel {
  id: string;
  folder: string;
  name: string;
  size: number;
  deletedBy: string | null;
  deletedAt: number;
}
const parseTrashedModel = (m: unknown): TrashedModel | null =>
  isObj(m) && (typeof m.id === "string" || typeof m.id === "number")
    ? { id: String(m.id), folder: str(m.folder), name: str(m.name), size: num(m.size), deletedBy: strOrNull(m.deleted_by), deletedAt: num(m.deleted_at) }
    : null;
/** Moves a model to the model trash; what went there (its id restores it). */
export async function deleteModel(folder: string, name: string): Promise<TrashedModel | null> {
  const d = await request("DELETE", "/cozygen/api/models/library", { folder, name });
  return parseTrashedModel(isObj(d) ? d.trashed : null);
}
export async function modelTrash(): Promise<TrashedModel[]> {
  const d = await get("/cozygen/api/models/trash");
  const list = isObj(d) ? d.items ?? d.trash ?? d.models : d;
  return arr(list).map(parseTrashedModel).filter((m): m is TrashedModel => m !== null);
}
/** Puts a model back where it was (409 MODEL_EXISTS when that name is taken again). */
export const restoreModel = (id: string) => post(`/cozygen/api/models/trash/${enc(id)}/restore`);

// ---- the server's settings (admin) -------------------------------------------------------------

/** GET /cozygen/api/settings: each setting's value (a secret only as `<name>_set`), description and choices. */
export interface ServerSettings {
  values: Record<string, Json>;
  descriptions: Record<string, string>;
  choices: Record<string, Json[]>;
}
export function parseServerSettings(data: unknown): ServerSettings {
  const o = isObj(data) ? data : {};
  const descriptions: Record<string, string> = {};
  if (isObj(o.descriptions)) for (const [k, v] of Object.entries(o.descriptions)) descriptions[k] = str(v);
  const choices: Record<string, Json[]> = {};
  if (isObj(o.choices)) for (const [k, v] of Object.entries(o.choices)) choices[k] = arr(v) as Json[];
  return { values: (isObj(o.settings) ? o.settings : {}) as Record<string, Json>, descriptions, choices };
}
export const serverSettings = async () => parseServerSettings(await get("/cozygen/api/settings"));
/** Changes some settings (null: back to the default); every setting after the change. */
export const changeServerSettings = async (changes: Record<string, Json>) => parseServerSettings(await request("PATCH", "/cozygen/api/settings", changes));

// ---- backends: the ComfyUI servers that run the jobs (admins manage them) --------------------

export const LOCAL_BACKEND = "local";
export const BACKEND_STATES = ["up", "down", "unknown", "disabled"] as const;
export type BackendState = (typeof BACKEND_STATES)[number];
const backendState = (value: unknown): BackendState => ((BACKEND_STATES as readonly unknown[]).includes(value) ? (value as BackendState) : "unknown");
export const AUTH_KINDS = ["none", "bearer", "basic"] as const;
export type AuthKind = (typeof AUTH_KINDS)[number];

export interface BackendHealth {
  state: BackendState;
  error: string | null;
  latencyMs: number | null;
  running: number;
  pending: number;
  comfyuiVersion: string | null;
}
export interface Backend {
  id: string;
  name: string;
  url: string | null;
  local: boolean;
  auth: AuthKind;
  authUser: string | null;
  /** Whether a token or password is stored (it is never sent back). */
  hasSecret: boolean;
  enabled: boolean;
  maxJobs: number;
  tags: string[];
  subfolder: string;
  health: BackendHealth;
  /** CozyGen's own jobs there now. */
  activeJobs: number;
  nodesKnown: boolean;
}

const parseQueueCounts = (d: unknown): { running: number; pending: number } => (isObj(d) ? { running: num(d.running), pending: num(d.pending) } : { running: 0, pending: 0 });

export function parseBackendHealth(data: unknown): BackendHealth {
  const d = isObj(data) ? data : {};
  return { state: backendState(d.state), error: strOrNull(d.error), latencyMs: numOrNull(d.latency_ms), ...parseQueueCounts(d.queue), comfyuiVersion: strOrNull(d.comfyui_version) };
}

export function parseBackend(data: unknown): Backend | null {
  if (!isObj(data) || typeof data.id !== "string" || !data.id || typeof data.name !== "string") return null;
  const auth = (AUTH_KINDS as readonly unknown[]).includes(data.auth) ? (data.auth as AuthKind) : "none";
  return {
    id: data.id,
    name: data.name,
    url: strOrNull(data.url),
    local: data.local === true || data.id === LOCAL_BACKEND,
    auth,
    authUser: strOrNull(data.auth_user),
    hasSecret: data.has_secret === true,
    enabled: data.enabled !== false,
    maxJobs: num(data.max_jobs, 1),
    tags: arr(data.tags).filter((x): x is string => typeof x === "string"),
    subfolder: str(data.subfolder),
    health: parseBackendHealth(data.health),
    activeJobs: num(data.active_jobs),
    nodesKnown: data.nodes_known === true,
  };
}

const oneBackend = (data: unknown): Backend => {
  const found = parseBackend(data);
  if (!found) throw new ApiError(500, t("api.badAnswer"), "BAD_ANSWER");
  return found;
};

export async function backends(): Promise<Backend[]> {
  const d = await get("/cozygen/api/backends");
  return (isObj(d) ? arr(d.backends) : []).map(parseBackend).filter((b): b is Backend => b !== null);
}

/** What an admin sends to add or change a backend: only the fields changed (a secret only when typed). */
export interface BackendFields {
  name?: string;
  url?: string;
  auth?: AuthKind;
  auth_user?: string | null;
  secret?: string;
  enabled?: boolean;
  max_jobs?: number;
  tags?: string[];
  subfolder?: string;
}
export const addBackend = async (fields: BackendFields) => oneBackend(await post("/cozygen/api/backends", fields));
export const changeBackend = async (id: string, fields: BackendFields) => oneBackend(await request("PATCH", `/cozygen/api/backends/${enc(id)}`, fields));
export const removeBackend = (id: string) => request("DELETE", `/cozygen/api/backends/${enc(id)}`);

/** A workflow an admin pinned to a backend: its jobs run there unless a job names its own backend. */
export interface BackendPin {
  workflow: string;
  backend: string;
  name: string;
}
export function parseBackendPins(data: unknown): BackendPin[] {
  return (isObj(data) ? arr(data.pins) : []).flatMap((p): BackendPin[] =>
    isObj(p) && typeof p.workflow === "string" && p.workflow && typeof p.backend === "string" && p.backend
      ? [{ workflow: p.workflow, backend: p.backend, name: str(p.name, p.backend) }]
      : [],
  );
}
/** A workflow's name in a path: each folder part encoded, its slashes kept (the route takes the rest of the path). */
const workflowPath = (name: string) => name.split("/").map(enc).join("/");
export const backendPins = async () => parseBackendPins(await get("/cozygen/api/backends/pins"));
/** Pin a workflow to a backend (its id); answers every pin now. */
export const pinWorkflow = async (workflow: string, backend: string) => parseBackendPins(await request("PUT", `/cozygen/api/backends/pins/${workflowPath(workflow)}`, { backend }));
export const unpinWorkflow = async (workflow: string) => parseBackendPins(await request("DELETE", `/cozygen/api/backends/pins/${workflowPath(workflow)}`));

export interface BackendTest {
  ok: boolean;
  latencyMs: number | null;
  comfyuiVersion: string | null;
  error: string | null;
  running: number;
  pending: number;
  /** How many node classes it offers (null when they could not be read). */
  nodes: number | null;
}
export function parseBackendTest(data: unknown): BackendTest {
  const d = isObj(data) ? data : {};
  return { ok: d.ok === true, latencyMs: numOrNull(d.latency_ms), comfyuiVersion: strOrNull(d.comfyui_version), error: strOrNull(d.error), ...parseQueueCounts(d.queue), nodes: numOrNull(d.nodes) };
}
export const testBackend = async (id: string) => parseBackendTest(await post(`/cozygen/api/backends/${enc(id)}/test`));
/** Tries a backend before it is saved (its URL and credentials only). */
export const testNewBackend = async (fields: Pick<BackendFields, "url" | "auth" | "auth_user" | "secret">) => parseBackendTest(await post("/cozygen/api/backends/test", fields));

export interface WorkflowLack {
  workflow: string;
  missing: string[];
  /** Why the workflow itself could not be read (then nothing is known of what it needs). */
  error: string | null;
}
export interface BackendCheck {
  /** False while CozyGen has not read the backend's node list (it is down, say). */
  nodesKnown: boolean;
  workflows: WorkflowLack[];
}
export function parseBackendCheck(data: unknown): BackendCheck {
  const d = isObj(data) ? data : {};
  const workflows = arr(d.workflows).flatMap((w): WorkflowLack[] =>
    isObj(w) && typeof w.workflow === "string" ? [{ workflow: w.workflow, missing: arr(w.missing).filter((m): m is string => typeof m === "string"), error: strOrNull(w.error) }] : [],
  );
  return { nodesKnown: d.nodes_known === true, workflows };
}
export const backendCheck = async (id: string, workflow?: string) => parseBackendCheck(await get(`/cozygen/api/backends/${enc(id)}/check${q({ workflow })}`));

/** A backend as everyone signed in sees it (/cozygen/api/health: no address, no settings). */
export interface BackendSummary {
  id: string;
  name: string;
  state: BackendState;
  running: number;
  pending: number;
}
export function parseBackendSummaries(data: unknown): BackendSummary[] {
  const list = isObj(data) ? arr(data.backends) : [];
  return list.flatMap((b): BackendSummary[] =>
    isObj(b) && typeof b.id === "string" && b.id ? [{ id: b.id, name: str(b.name, b.id), state: backendState(b.state), ...parseQueueCounts(b.queue) }] : [],
  );
}
export const backendSummaries = async () => parseBackendSummaries(await get("/cozygen/api/health"));

/** What a 409 NO_BACKEND says each backend lacks for the job. */
export interface BackendLack {
  name: string;
  state: BackendState;
  missing: string[];
}
export function parseNoBackend(body: Record<string, unknown>): BackendLack[] {
  return arr(body.backends).flatMap((b): BackendLack[] =>
    isObj(b) && (typeof b.name === "string" || typeof b.id === "string")
      ? [{ name: str(b.name, str(b.id)), state: backendState(b.state), missing: arr(b.missing).filter((m): m is string => typeof m === "string") }]
      : [],
  );
}
