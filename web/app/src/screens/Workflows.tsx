// The workflows this server offers, with their kind and what the host lacks to run them.
import type { JSX } from "preact";
import { useEffect, useState } from "preact/hooks";
import { check, thumbUrl, workflows, type CheckResult, type WorkflowKind, type WorkflowSummary } from "../api";
import { Icon } from "../components/Icons";
import { ImportWorkflow } from "../components/ImportWorkflow";
import { MissingModels } from "../components/MissingModels";
import { Sheet } from "../components/Sheet";
import { Empty, Spinner, TopBar, message } from "../components/ui";
import { downloadPercent, downloadStore, FINAL, targetKey, useDownloads, useInstalled } from "../downloads";
import { hrefFor, linkClick } from "../router";
import { t, type Key } from "../i18n";
import { WORKFLOWS_CHANGED_WINDOW_EVENT } from "../live";

// Words of workflow file names that have a spelling of their own.
const SPELLED: Record<string, string> = { cozygen: "CozyGen", sd15: "SD 1.5", sdxl: "SDXL", flux: "Flux", sd3: "SD3" };

/** A workflow's file name as a title: "sdxl_txt2img.json" is "SDXL txt2img" ("editor/a/b.json": its file, "B"). */
export const prettyName = (name: string): string => {
  const file = name.split("/").pop() ?? name;
  const words = file.replace(/\.json$/i, "").split(/[_\s-]+/).filter(Boolean);
  const spelled = words.map((w) => SPELLED[w.toLowerCase()] ?? w);
  const title = spelled.join(" ");
  return title.charAt(0).toUpperCase() + title.slice(1);
};

export function KindBadge({ kind }: { kind: string | null }): JSX.Element | null {
  if (!kind) return null;
  const title = ["t2i", "i2i", "t2v", "i2v"].includes(kind) ? t(`kind.${kind}` as Key) : undefined;
  return <span class={`kind ${kind}`} title={title} aria-label={title}>{kind}</span>;
}

// What a model folder holds, in the singular: "checkpoints" holds a checkpoint (its catalogue key).
const FOLDER_WORDS: Record<string, Key> = {
  checkpoints: "model.checkpoint", loras: "param.lora", vae: "param.vae", clip: "model.textEncoder", text_encoders: "model.textEncoder",
  clip_vision: "model.clipVision", controlnet: "model.controlnet", upscale_models: "model.upscaler", embeddings: "model.embedding",
  unet: "model.diffusion", diffusion_models: "model.diffusion", style_models: "model.style", hypernetworks: "model.hypernetwork",
};

const MODEL_EXTENSION = /\.(safetensors|sft|ckpt|pt|pth|bin|gguf|onnx)$/i;

/** A missing model as a name and a hint: "checkpoints/v1-5-pruned-emaonly.safetensors" is
 * "v1-5-pruned-emaonly" with "checkpoint". */
export function missingModel(path: string): { name: string; hint: string } {
  const cut = path.indexOf("/");
  const folder = cut > 0 ? path.slice(0, cut) : "";
  const word = FOLDER_WORDS[folder.toLowerCase()];
  const hint = word ? t(word) : folder.replace(/_/g, " ").replace(/s$/, "");
  // the file's exact stem (underscores kept: it is the name to look for when downloading it)
  const file = (cut > 0 ? path.slice(cut + 1) : path).split("/").pop() ?? path;
  return { name: file.replace(MODEL_EXTENSION, "") || file, hint: hint || t("model.model") };
}

/** A missing node's hint (shown as the language's "node type"). */
const NODE_TYPE = "\u0000node";

const KIND_ICONS: Record<WorkflowKind, string> = { t2i: "wand", i2i: "image", t2v: "camera", i2v: "camera" };

/** A card's picture: its newest output, or a tile tinted by its kind with its initial (nothing made yet). */
function CardThumb({ wf }: { wf: WorkflowSummary }): JSX.Element {
  if (wf.latest) {
    return <span class="thumbph"><img src={thumbUrl(wf.latest, 192)} alt="" width={52} height={52} loading="lazy" data-latest={wf.latest.filename} /></span>;
  }
  const initial = prettyName(wf.name).charAt(0).toUpperCase();
  return (
    <span class={`thumbph wf-ph ${wf.kind ?? "none"}`} aria-hidden="true" title={t("workflows.nothingMade")}>
      <b>{initial}</b>
      <Icon name={wf.kind ? KIND_ICONS[wf.kind] : "image"} />
    </span>
  );
}

/** The editor's workflows by folder ("" first: those at the top of the user's workflows folder). */
export function byFolder(list: WorkflowSummary[]): [string, WorkflowSummary[]][] {
  const groups = new Map<string, WorkflowSummary[]>();
  for (const wf of list) groups.set(wf.folder, [...(groups.get(wf.folder) ?? []), wf]);
  return [...groups.entries()].sort(([a], [b]) => (a === "" ? -1 : b === "" ? 1 : a.localeCompare(b)));
}

/** The downloads on their way for the models a workflow lacks, and their overall percent (null: a size unknown). */
export function modelsOnTheirWay(missing: string[]): { count: number; percent: number | null } {
  const on = missing.map((path) => {
    const cut = path.indexOf("/");
    return downloadStore.forTarget(path.slice(0, cut), path.slice(cut + 1));
  }).filter((d) => d !== undefined && !FINAL.has(d.state));
  if (!on.length) return { count: 0, percent: null };
  const sized = on.every((d) => d?.total);
  const total = on.reduce((n, d) => n + (d?.total ?? 0), 0);
  const done = on.reduce((n, d) => n + (d?.done ?? 0), 0);
  return { count: on.length, percent: sized && total ? Math.min(100, (done / total) * 100) : on.length === 1 && on[0] ? downloadPercent(on[0]) : null };
}

/** Under a card whose workflow lacks models (admins): "Get the models", or their downloads' progress. */
function ModelsFix({ missing, onOpen }: { missing: string[]; onOpen: () => void }): JSX.Element {
  useDownloads();
  const on = modelsOnTheirWay(missing);
  if (on.count) {
    return (
      <button type="button" class="wf-fix going" onClick={onOpen} aria-label={t("workflows.downloadingModels", { count: on.count })}>
        <span class="grow">{t("workflows.downloadingModels", { count: on.count })}{on.percent !== null ? ` · ${t("common.percent", { percent: Math.floor(on.percent) })}` : ""}</span>
        <span class={`bar${on.percent === null ? " indeterminate" : ""}`}><div style={{ width: `${on.percent ?? 30}%` }} /></span>
      </button>
    );
  }
  return (
    <button type="button" class="wf-fix" onClick={onOpen}>
      <Icon name="download" /> <span class="grow">{t("workflows.getModels", { count: missing.length })}</span> <Icon name="chev" />
    </button>
  );
}

/** A workflow's missing models with "Get it" and "Get all" (its own check names their sources). */
function MissingModelsSheet({ workflow, onClose, onInstalled }: { workflow: string; onClose: () => void; onInstalled: () => void }): JSX.Element {
  const [result, setResult] = useState<CheckResult | null>(null);
  const [error, setError] = useState("");
  const recheck = () => check(workflow).then((c) => (setResult(c), setError("")), (e) => setError(message(e)));
  useEffect(() => void recheck(), [workflow]);
  useInstalled((d) => {
    if (result?.missingModels.includes(targetKey(d.folder, d.name))) {
      void recheck();
      onInstalled();
    }
  }, [result]);
  return (
    <Sheet title={t("models.missingTitle")} onClose={onClose} id="missing-models-sheet">
      <p class="small muted" style="margin:0">{prettyName(workflow)}</p>
      {error && <p class="error" role="alert">{error}</p>}
      {!result && !error && <Spinner />}
      {result && result.missingModels.length === 0 && <p class="ok" id="models-all-there" style="margin:0"><Icon name="check" /> {t("models.allInstalled")}</p>}
      {result && result.missingModels.length > 0 && <MissingModels workflow={workflow} check={result} onInstalled={() => { void recheck(); onInstalled(); }} />}
    </Sheet>
  );
}

function Card({ wf, admin, onFix }: { wf: WorkflowSummary; admin: boolean; onFix: (name: string) => void }): JSX.Element {
  // "⚠ Missing {list}": the list (names with their kinds) goes where the language puts it
  const [missingBefore, missingAfter = ""] = t("workflows.missing", { list: "\u0001" }).split("\u0001");
  const c = wf.check;
  const lacks = c && !c.ok ? [...c.missingModels.map(missingModel), ...c.missingNodes.map((n) => ({ name: n, hint: NODE_TYPE }))] : [];
  const fixable = admin && c !== undefined && c.missingModels.length > 0;
  return (
    <li class={fixable ? "fixable" : undefined}>
      <a class="card wf" href={hrefFor({ screen: "generate", workflow: wf.name })} onClick={linkClick} data-workflow={wf.name} data-source={wf.source}>
        <CardThumb wf={wf} />
        <span class="grow">
          <span class="row wrap" style="gap:8px">
            <span class="name">{prettyName(wf.name)}</span>
            <KindBadge kind={wf.kind} />
          </span>
          {lacks.length > 0 && (
            <span class="warn" style="display:block;margin-top:4px" role="note">
              {missingBefore}
              {lacks.slice(0, 2).map((l, i) => (
                <span key={i} class="lack">
                  {i > 0 && ", "}
                  {l.hint === NODE_TYPE ? <><small>{t("workflows.nodeType")}</small> {l.name}</> : <>{l.name} <small>{l.hint}</small></>}
                </span>
              ))}
              {lacks.length > 2 ? ` ${t("workflows.andMore", { count: lacks.length - 2 })}` : ""}
              {missingAfter}
            </span>
          )}
          {c?.missingKey && (
            <span class="warn" style="display:block;margin-top:4px" role="note" data-missing-key>{t("workflows.needsKey")}</span>
          )}
          {c && !c.ok && lacks.length === 0 && !c.missingKey && (
            <span class="warn" style="display:block;margin-top:4px" role="note">{t("workflows.cannotRun")}</span>
          )}
        </span>
        <span class="chev"><Icon name="chev" /></span>
      </a>
      {fixable && <ModelsFix missing={c.missingModels} onOpen={() => onFix(wf.name)} />}
    </li>
  );
}

export function Workflows({ admin = false }: { admin?: boolean }): JSX.Element {
  const [list, setList] = useState<WorkflowSummary[] | null>(null);
  const [error, setError] = useState("");
  const [importing, setImporting] = useState(false);
  const [fixing, setFixing] = useState<string | null>(null);
  const [reloads, setReloads] = useState(0); // a model finished installing: the list's checks again
  useInstalled(() => setReloads((n) => n + 1), []);
  useEffect(() => {
    if (!reloads) return;
    const timer = setTimeout(() => void workflows(true).then(setList, () => undefined), 300);
    return () => clearTimeout(timer);
  }, [reloads]);

  useEffect(() => {
    // one request: the list with each one's check and newest output; again when a workflow file changes
    // (saved in ComfyUI's editor: the server says so) and whenever the app comes back to the front
    const load = () => workflows(true).then((l) => (setList(l), setError("")), (e) => setError(message(e)));
    const visible = () => document.visibilityState === "visible" && load();
    const changed = () => void load();
    void load();
    document.addEventListener("visibilitychange", visible);
    window.addEventListener("focus", visible);
    window.addEventListener(WORKFLOWS_CHANGED_WINDOW_EVENT, changed);
    return () => {
      document.removeEventListener("visibilitychange", visible);
      window.removeEventListener("focus", visible);
      window.removeEventListener(WORKFLOWS_CHANGED_WINDOW_EVENT, changed);
    };
  }, []);

  // an admin's cards show the downloads already on their way (a queued one sends no event until it starts)
  const lacking = admin && list?.some((wf) => wf.check && wf.check.missingModels.length > 0);
  useEffect(() => {
    if (lacking) void downloadStore.refresh();
  }, [lacking]);

  const own = list?.filter((wf) => wf.source !== "editor") ?? [];
  const editor = list?.filter((wf) => wf.source === "editor") ?? [];
  return (
    <>
      <TopBar title={<span class="brand"><b>Cozy</b>Gen</span>}>
        <button type="button" class="ghost" id="import-open" onClick={() => setImporting(true)}><Icon name="plus" /> {t("import.open")}</button>
      </TopBar>
      {importing && <ImportWorkflow onClose={() => setImporting(false)} />}
      {fixing && <MissingModelsSheet workflow={fixing} onClose={() => setFixing(null)} onInstalled={() => setReloads((n) => n + 1)} />}
      <main>
        <h2 style="margin:4px 2px 12px">{t("workflows.title")}</h2>
        {error && <p class="error" role="alert">{error}</p>}
        {!list && !error && <Spinner />}
        {list && list.length === 0 && <Empty>{t("workflows.none")}</Empty>}
        <ul class="list" aria-label={t("workflows.title")}>
          {own.map((wf) => <Card key={wf.name} wf={wf} admin={admin} onFix={setFixing} />)}
        </ul>
        {editor.length > 0 && (
          <section class="wf-editor" aria-label={t("workflows.fromEditor")}>
            <h3 class="wf-section">{t("workflows.fromEditor")}</h3>
            {byFolder(editor).map(([folder, items]) =>
              folder === "" ? (
                <ul key="" class="list">{items.map((wf) => <Card key={wf.name} wf={wf} admin={admin} onFix={setFixing} />)}</ul>
              ) : (
                <details key={folder} class="wf-folder" open data-folder={folder}>
                  <summary>
                    <Icon name="folder" />
                    <span class="grow">{folder}</span>
                    <span class="count">{items.length}</span>
                  </summary>
                  <ul class="list">{items.map((wf) => <Card key={wf.name} wf={wf} admin={admin} onFix={setFixing} />)}</ul>
                </details>
              ),
            )}
          </section>
        )}
      </main>
    </>
  );
}
