// The generate form of one workflow, built from its schema.
import type { JSX } from "preact";
import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import { ApiError, backendSummaries, check, enrichPrompt, form as loadForm, getJob, parseNoBackend, randomPrompt, startSeries, submitJob, workflows, type BackendSummary, type CheckResult, type Job, type Json, type Param, type SeriesTimes } from "../api";
import { AllSettings } from "../components/AllSettings";
import { useAssistant } from "../components/AssistantSheet";
import { MissingModels } from "../components/MissingModels";
import { Field, fieldId } from "../components/Field";
import { Icon } from "../components/Icons";
import { JobProgress } from "../components/JobProgress";
import { appendToken } from "../components/PromptBox";
import { Presets } from "../components/Presets";
import { SessionPicker, currentSession, rememberSession } from "../components/SessionPicker";
import { Spinner, TopBar, message, toast } from "../components/ui";
import { features, type Features } from "../features";
import { batchParam, groups, howMany, initialCount, initialValues, lastSeed, loadRemembered, MAX_IMAGES, randomSeed, remember, splitFieldErrors, validate, type Values } from "../form";
import { describe, jobStore, TERMINAL } from "../jobs";
import { hrefFor, linkClick, navigate } from "../router";
import { targetKey, useInstalled } from "../downloads";
import { takeHandoff, uuid } from "../viewer";
import { KindBadge, prettyName } from "./Workflows";
import { t } from "../i18n";
import { ownWord } from "../labels";
import { concerns, WORKFLOWS_CHANGED_WINDOW_EVENT, type WorkflowsChanged } from "../live";

const LAST_JOB = "cozygen.lastjob.";
/** How many times one tap runs the form (a series on the server after the first): 1 is a plain job. */
const REPEATS: SeriesTimes[] = [1, 2, 3, 5, 10, 20, 50, 100, "until_stopped"];
const repeatLabel = (r: SeriesTimes): string => (r === "until_stopped" ? t("gen.repeatUntilStopped") : r === 1 ? t("gen.repeatOnce") : t("gen.repeatTimes", { count: r }));

function useJob(id: string | null): Job | null {
  const [job, setJob] = useState<Job | null>(id ? jobStore.jobs.get(id) ?? null : null);
  useEffect(() => {
    if (!id) return setJob(null);
    const update = () => setJob(jobStore.jobs.get(id) ?? null);
    update();
    return jobStore.subscribe(update);
  }, [id]);
  return job;
}

export function Generate({ workflow, admin = false }: { workflow: string; admin?: boolean }): JSX.Element {
  const [params, setParams] = useState<Param[] | null>(null);
  const [values, setValues] = useState<Values>({});
  const [randomSeeds, setRandomSeeds] = useState<Record<string, boolean>>({});
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [formError, setFormError] = useState("");
  const [loadError, setLoadError] = useState("");
  const [busy, setBusy] = useState(false);
  const [count, setCount] = useState(1);
  const [repeat, setRepeat] = useState<SeriesTimes>(1);
  const [session, setSession] = useState(currentSession);
  const [jobId, setJobId] = useState<string | null>(() => sessionStorage.getItem(LAST_JOB + workflow));
  const [feat, setFeat] = useState<Features | null>(null);
  const [requirements, setRequirements] = useState<CheckResult | null>(null);
  const [kind, setKind] = useState<string | null>(null);
  const [autoSubmit, setAutoSubmit] = useState(false);
  const [allOpen, setAllOpen] = useState(false);
  const [changes, setChanges] = useState<Values>({}); // "<node id>.<input>" set in All settings
  useEffect(() => setChanges({}), [workflow]);
  const [revision, setRevision] = useState(""); // of the workflow's file the form was built from
  const [servers, setServers] = useState<BackendSummary[]>([]); // the enabled backends, offered when more than one
  const [backend, setBackend] = useState(""); // "": any backend that can run the job
  const job = useJob(jobId);
  // the result shows where the eye is (a sheet over the form on a phone, the second pane on a wide
  // screen); the form never scrolls away from where the user was
  const [sheetOpen, setSheetOpen] = useState(false);
  const sheetRef = useRef<HTMLElement>(null);

  useEffect(() => {
    let live = true;
    loadForm(workflow).then(
      ({ params: ps, revision: rev }) => {
        if (!live) return;
        setRevision(rev);
        const handoff = takeHandoff(workflow);
        const remembered = { ...loadRemembered(localStorage, workflow), ...(handoff?.values ?? {}) };
        const v = initialValues(ps, remembered);
        const imageParam = ps.find((p) => p.type === "image");
        if (handoff?.image && imageParam) v[imageParam.name] = handoff.image;
        const storedRandom = loadRemembered(localStorage, `${workflow}#random`);
        const r: Record<string, boolean> = {};
        for (const p of ps) if (p.type === "seed") r[p.name] = typeof storedRandom[p.name] === "boolean" ? (storedRandom[p.name] as boolean) : p.randomize;
        if (handoff?.values) for (const p of ps) if (p.type === "seed" && p.name in handoff.values) r[p.name] = false;
        setParams(ps);
        setValues(v);
        setCount(initialCount(ps, v));
        setRandomSeeds(r);
        if (handoff?.submit) setAutoSubmit(true);
      },
      (e) => live && setLoadError(message(e)),
    );
    check(workflow).then((c) => live && setRequirements(c), () => undefined);
    workflows().then((list) => live && setKind(list.find((w) => w.name === workflow)?.kind ?? null), () => undefined);
    features().then((f) => live && setFeat(f));
    backendSummaries().then((found) => live && setServers(found.filter((b) => b.state !== "disabled")), () => undefined);
    // a job that finished while the app slept: read it again
    const last = sessionStorage.getItem(LAST_JOB + workflow);
    if (last && !jobStore.jobs.has(last)) getJob(last).then((j) => jobStore.track(j), () => undefined);
    return () => {
      live = false;
    };
  }, [workflow]);

  // the workflow's file changed (saved again in ComfyUI's editor): the new form, keeping the values of the
  // fields it still has; the server tells the jobs stream, and a job of the old file would be refused (409)
  const revisionRef = useRef(revision);
  revisionRef.current = revision;
  async function reloadForm(): Promise<boolean> {
    const fresh = await loadForm(workflow);
    if (fresh.revision === revisionRef.current) return false;
    setParams(fresh.params);
    setValues((current) => {
      const kept = initialValues(fresh.params, current);
      remember(localStorage, workflow, kept);
      return kept;
    });
    setRevision(fresh.revision);
    check(workflow).then(setRequirements, () => undefined);
    return true;
  }
  // a model it lacked finished downloading: the check again (the warning goes), and the form with the new
  // file in its model choices (the values kept)
  useInstalled((d) => {
    if (!requirements?.missingModels.includes(targetKey(d.folder, d.name))) return;
    toast(t("models.installedToast", { name: d.name.split("/").pop() ?? d.name }));
    check(workflow).then(setRequirements, () => undefined);
    loadForm(workflow).then((fresh) => {
      setParams(fresh.params);
      setValues((current) => initialValues(fresh.params, current));
      setRevision(fresh.revision);
    }, () => undefined);
  }, [workflow, requirements]);

  useEffect(() => {
    const changed = (event: Event) => {
      const change = (event as CustomEvent<WorkflowsChanged>).detail;
      if (!change || !concerns(change, workflow)) return;
      reloadForm().then((updated) => updated && toast(t("gen.workflowUpdated")), () => undefined);
    };
    window.addEventListener(WORKFLOWS_CHANGED_WINDOW_EVENT, changed);
    return () => window.removeEventListener(WORKFLOWS_CHANGED_WINDOW_EVENT, changed);
  }, [workflow]);

  // values handed over while this form is open (re-run from the viewer)
  useEffect(() => {
    if (!params) return;
    const take = () => {
      const handoff = takeHandoff(workflow);
      if (!handoff) return;
      const next = initialValues(params, { ...values, ...(handoff.values ?? {}) });
      const imageParam = params.find((p) => p.type === "image");
      if (handoff.image && imageParam) next[imageParam.name] = handoff.image;
      if (handoff.values) setRandomSeeds((r) => Object.fromEntries(Object.keys(r).map((k) => [k, k in (handoff.values ?? {}) ? false : r[k]])));
      setValues(next);
      remember(localStorage, workflow, next);
      if (handoff.submit) setAutoSubmit(true);
    };
    window.addEventListener("cozygen:handoff", take);
    return () => window.removeEventListener("cozygen:handoff", take);
  }, [params, values, workflow]);

  useEffect(() => {
    if (autoSubmit && params) {
      setAutoSubmit(false);
      void submit();
    }
  }, [autoSubmit, params]);

  const set = (name: string, value: Json) => {
    setValues((v) => {
      const next = { ...v, [name]: value };
      remember(localStorage, workflow, next);
      return next;
    });
    if (errors[name]) setErrors((e) => ({ ...e, [name]: "" }));
  };
  const setRandom = (name: string, on: boolean) => {
    setRandomSeeds((r) => {
      const next = { ...r, [name]: on };
      remember(localStorage, `${workflow}#random`, next);
      return next;
    });
  };

  const focusFirst = (names: string[]) => {
    const first = params?.find((p) => names.includes(p.name));
    if (!first) return;
    requestAnimationFrame(() => {  // centred: the message under the field stays clear of the sticky button
      const field = document.getElementById(fieldId(first.name));
      field?.focus({ preventScroll: true });
      field?.scrollIntoView({ block: "center" });
    });
  };

  async function submit(event?: Event): Promise<void> {
    event?.preventDefault();
    if (!params || busy) return;
    const send: Values = { ...values };
    for (const p of params) if (p.type === "seed" && randomSeeds[p.name]) send[p.name] = randomSeed();
    const sent = howMany(params, send, count);
    const found = validate(params, sent.values);
    const bad = Object.entries(found).filter(([, m]) => m);
    setFormError("");
    if (bad.length) {
      setErrors(found);
      focusFirst(bad.map(([n]) => n));
      return;
    }
    setValues(send);
    remember(localStorage, workflow, send);
    Object.assign(sent.values, changes); // checked by the server as the form's fields are
    setErrors({});
    setBusy(true);
    try {
      let created: Job;
      if (repeat === 1) created = await submitJob({ workflow, values: sent.values, num_images: sent.numImages, job_id: uuid(), session_id: session || undefined, revision: revision || undefined, backend: backend || undefined });
      else {
        // each run of a series draws its own seed on the server, unless the seed is pinned
        const seeded: Values = { ...sent.values };
        for (const p of params) if (p.type === "seed" && randomSeeds[p.name]) seeded[`${p.name}__randomize`] = true;
        created = (await startSeries({ workflow, values: seeded, num_images: sent.numImages, session_id: session || undefined, times: repeat, backend: backend || undefined })).job;
        toast(repeat === "until_stopped" ? t("gen.seriesUntilStopped") : t("gen.seriesTimes", { count: repeat }));
      }
      jobStore.track(created);
      sessionStorage.setItem(LAST_JOB + workflow, created.id);
      setJobId(created.id);
      setSheetOpen(true);
    } catch (e) {
      if (e instanceof ApiError && e.code === "WORKFLOW_CHANGED") {
        // changed in the editor since the form was built: the new form, keeping the values of the fields it still has
        try {
          await reloadForm();
          setFormError(t("gen.workflowChanged"));
        } catch (again) {
          setFormError(message(again));
        }
      } else if (e instanceof ApiError && Object.keys(e.fields).length) {
        const { byField, other } = splitFieldErrors(params, e.fields, Object.keys(changes));
        setErrors(byField);
        setFormError(other.join("; "));
        if (Object.keys(byField).some((name) => name in changes)) setAllOpen(true); // beside the node setting
        focusFirst(Object.keys(byField));
      } else if (e instanceof ApiError && e.code === "NO_BACKEND") {
        const lacks = parseNoBackend(e.body).map((b) => t("gen.backendLacks", { name: b.name, missing: b.missing.join(", ") || t(`backends.${b.state}`) }));
        setFormError([t("gen.noBackend"), ...lacks].join(" "));
      } else setFormError(message(e));
    } finally {
      setBusy(false);
    }
  }

  const last = job ? lastSeed(params ?? [], job.params) : {};
  const batch = params ? batchParam(params) : undefined;
  const setHowMany = (n: number) => {
    const next = Math.min(MAX_IMAGES, Math.max(1, Math.round(n)));
    setCount(next);
    if (batch) set(batch.name, next); // remembered with the form's values
  };
  const promptParam = useMemo(() => params?.find((p) => (p.type === "text" || p.type === "string") && /prompt/i.test(p.name) && !/neg/i.test(p.name)), [params]);
  const negativeParam = useMemo(() => params?.find((p) => (p.type === "text" || p.type === "string") && /neg/i.test(p.name)), [params]);
  const assistant = useAssistant({ workflow, params: params ?? [], values, onSet: set });
  const lacks = requirements && !requirements.ok ? [...requirements.missingNodes.map((n) => t("gen.lackNode", { name: n })), ...requirements.missingModels] : [];

  return (
    <>
      <TopBar title={<span class="row" style="gap:8px;font-size:1.1rem"><span style="overflow:hidden;text-overflow:ellipsis">{prettyName(workflow)}</span> <KindBadge kind={kind} /></span>} back={() => navigate("/cozygen/")}>
        {assistant.button}
        <button type="button" class="icon ghost" id="all-settings-open" aria-label={t("allSettings.title")} title={t("allSettings.title")}
          aria-pressed={Object.keys(changes).length > 0} onClick={() => setAllOpen(true)}><Icon name="gear" /></button>
      </TopBar>
      {assistant.sheet}
      {allOpen && <AllSettings workflow={workflow} changes={changes} errors={errors} onChange={setChanges} onClose={() => setAllOpen(false)} />}
      <main class="narrow gen">
        {loadError && <p class="error" role="alert">{loadError}</p>}
        {!params && !loadError && <Spinner />}
        {admin && requirements && requirements.missingModels.length > 0 ? (
          <section class="card warn missing-models" id="missing-models" aria-labelledby="missing-models-title" style="margin-bottom:12px">
            <p class="mm-title" id="missing-models-title" style="margin:0">{t("gen.lacksModels", { count: requirements.missingModels.length })}</p>
            {requirements.missingNodes.length > 0 && (
              <p class="mm-title" role="note" style="margin:6px 0 0">{t("gen.lacks", { list: requirements.missingNodes.map((n) => t("gen.lackNode", { name: n })).join(", ") })}</p>
            )}
            <MissingModels workflow={workflow} check={requirements} onInstalled={() => check(workflow).then(setRequirements, () => undefined)} />
          </section>
        ) : lacks.length > 0 && (
          <div class="card warn" role="note" style="margin-bottom:12px">
            {t("gen.lacks", { list: lacks.join(", ") })}
          </div>
        )}
        {requirements?.missingKey && (
          <div class="card warn" role="note" id="missing-key" style="margin-bottom:12px">
            {t("gen.needsKey")}{admin && <> <a href={`${hrefFor({ screen: "settings" })}#server-settings`} onClick={linkClick}>{t("gen.openSettings")}</a></>}
          </div>
        )}
        {params && (
          <div class="gen-panes">
          <form id="generate" class="stack" onSubmit={submit} noValidate
            onFocusIn={(e) => (e.target as HTMLElement).id !== "go" && setSheetOpen(false)}>
            {groups(params.filter((p) => p !== batch)).map((group) => (
              <section class="card group" key={group.name} aria-label={group.name ? ownWord(group.name) : t("viewer.parameters")}>
                {group.name && <h3>{ownWord(group.name)}</h3>}
                {group.params.map((p) => (
                  <div key={p.name}>
                    <Field param={p} value={values[p.name]} error={errors[p.name]} onChange={(v) => { set(p.name, v); if (p.type === "seed" && randomSeeds[p.name]) setRandom(p.name, false); }} tags={feat?.tags}
                      seedRandom={randomSeeds[p.name]} onSeedRandom={(on) => setRandom(p.name, on)}
                      lastSeed={typeof last[p.name] === "number" ? (last[p.name] as number) : null} />
                    {p === promptParam && feat && (feat.random || feat.styles.length > 0 || feat.aliases.length > 0 || feat.wildcards.length > 0) && (
                      <PromptTools feat={feat} value={String(values[p.name] ?? "")} onChange={(v) => set(p.name, v)}
                        onNegative={negativeParam ? (v) => set(negativeParam.name, v) : undefined} />
                    )}
                  </div>
                ))}
              </section>
            ))}
            <Presets workflow={workflow} values={values} onApply={(v) => setValues((cur) => ({ ...cur, ...initialValues(params, { ...cur, ...v }) }))} />
            <section class="card group">
              <div class="toggle">
                <label for="num-images">{t("param.images")}</label>
                <div class="row">
                  <button type="button" class="icon" aria-label={t("gen.fewer")} title={t("gen.fewer")} onClick={() => setHowMany(count - 1)} disabled={count <= 1}>−</button>
                  <input id="num-images" type="number" inputMode="numeric" min={1} max={MAX_IMAGES} value={count} style="width:64px;text-align:center"
                    aria-describedby="num-images-hint" onInput={(e) => setHowMany(Number(e.currentTarget.value) || 1)} />
                  <button type="button" class="icon" aria-label={t("gen.more")} title={t("gen.more")} onClick={() => setHowMany(count + 1)} disabled={count >= MAX_IMAGES}>+</button>
                </div>
              </div>
              <div class="hint small muted" id="num-images-hint">
                {t("gen.howManyHint", { max: MAX_IMAGES })}
              </div>
              {errors[batch?.name ?? ""] && <div class="error" role="alert">{errors[batch?.name ?? ""]}</div>}
              <div class="toggle" style="margin-top:10px">
                <label for="repeat">{t("gen.repeat")}</label>
                <select id="repeat" class="repeat-select" aria-describedby="repeat-hint" value={String(repeat)}
                  onChange={(e) => { const v = e.currentTarget.value; setRepeat(v === "until_stopped" ? v : Number(v) || 1); }}>
                  {REPEATS.map((r) => <option key={r} value={String(r)}>{repeatLabel(r)}</option>)}
                </select>
              </div>
              {repeat !== 1 && (
                <div class="hint small muted" id="repeat-hint">
                  {t("gen.repeatHint")}
                </div>
              )}
              <div class="toggle" style="margin-top:10px">
                <label for="session">{t("session.label")}</label>
                <div style="max-width:60%">
                  <SessionPicker id="session" value={session} none={t("session.none")} onChange={(sid) => { setSession(sid); rememberSession(sid); }} />
                </div>
              </div>
              {servers.length > 1 && (
                <>
                  <div class="toggle" style="margin-top:10px">
                    <label for="backend">{t("gen.backend")}</label>
                    <select id="backend" style="width:auto;max-width:60%" value={backend} aria-describedby="backend-hint" onChange={(e) => setBackend(e.currentTarget.value)}>
                      <option value="">{t("gen.backendAny")}</option>
                      {servers.map((b) => (
                        <option key={b.id} value={b.id}>
                          {t("gen.backendOption", { name: b.id === "local" ? t("backends.localName") : b.name, state: t(`backends.${b.state}`), queue: b.running + b.pending })}
                        </option>
                      ))}
                    </select>
                  </div>
                  <div class="hint small muted" id="backend-hint">{t("gen.backendHint")}</div>
                </>
              )}
            </section>
            {formError && <p class="error" role="alert" id="form-error">{formError}</p>}
            <div class="sticky-go">
              {job && !sheetOpen && (
                <button type="button" class="mini-progress" aria-label={TERMINAL.has(job.status) ? t("gen.showResult") : t("gen.showProgress")}
                  onClick={() => setSheetOpen(true)}>
                  <span>{TERMINAL.has(job.status) ? t("gen.result") : describe(job).title}</span>
                  <span class="bar"><span style={{ width: `${TERMINAL.has(job.status) ? 100 : describe(job).percent}%` }} /></span>
                </button>
              )}
              <button id="go" type="submit" class="primary wide big" disabled={busy}>
                <Icon name="spark" /> {busy ? t("gen.sending") : repeat === 1 ? t("gen.go") : repeat === "until_stopped" ? t("gen.goRepeat") : t("gen.goTimes", { times: repeat })}
              </button>
            </div>
          </form>
          <aside class={`result-pane${job && sheetOpen ? " open" : ""}`} aria-label={t("gen.result")} id="result-pane" ref={sheetRef}>
            {job ? (
              <>
                <div class="row result-head">
                  <h2 class="grow">{t("gen.result")}</h2>
                  <button type="button" class="ghost hide-result" aria-label={t("gen.hideResult")} onClick={() => setSheetOpen(false)}>
                    <Icon name="close" /> {t("gen.hide")}
                  </button>
                </div>
                <JobProgress job={job} />
              </>
            ) : (
              <div class="card empty result-empty">{t("gen.emptyResult")}</div>
            )}
          </aside>
          </div>
        )}
      </main>
    </>
  );
}

function PromptTools({ feat, value, onChange, onNegative }: {
  feat: Features;
  value: string;
  onChange: (v: string) => void;
  onNegative?: (v: string) => void;
}): JSX.Element {
  const [busy, setBusy] = useState(false);
  const [style, setStyle] = useState(feat.defaultStyle || feat.styles[0]?.name || "");
  const run = async (work: () => Promise<void>) => {
    setBusy(true);
    try {
      await work();
    } catch (e) {
      toast(message(e));
    } finally {
      setBusy(false);
    }
  };
  const random = () =>
    run(async () => {
      const got = await randomPrompt();
      if (got.positive) onChange(got.positive);
      if (got.negative && onNegative) onNegative(got.negative);
    });
  const enrich = () =>
    run(async () => {
      const got = await enrichPrompt(value, style || undefined);
      onChange(got.prompt);
      if (got.warning) toast(got.warning);
    });
  return (
    <div class="chips" aria-label={t("gen.promptTools")}>
      {feat.random && (
        <button type="button" class="chip" disabled={busy} onClick={random}><Icon name="dice" /> {t("gen.randomPrompt")}</button>
      )}
      {feat.styles.length > 0 && (
        <span class="row" style="gap:6px">
          <button type="button" class="chip" disabled={busy || !value.trim()} onClick={enrich}><Icon name="wand" /> {t("gen.enrich")}</button>
          <label for="enrich-style" class="sr-only">{t("gen.style")}</label>
          <select id="enrich-style" class="chip" style="width:auto;padding:0 10px" value={style} onChange={(e) => setStyle(e.currentTarget.value)}>
            {feat.styles.map((s) => <option key={s.name} value={s.name} title={s.description}>{s.name}</option>)}
          </select>
        </span>
      )}
      {feat.wildcards.length > 0 && (
        <span class="row" style="gap:6px">
          <label for="insert-wildcard" class="sr-only">{t("gen.insertWildcard")}</label>
          <select id="insert-wildcard" class="chip" style="width:auto;padding:0 10px" value=""
            title={t("gen.wildcardHint")}
            onChange={(e) => { const name = e.currentTarget.value; if (name) onChange(appendToken(value, `__${name}__`)); }}>
            <option value="">{t("gen.wildcardOption")}</option>
            {feat.wildcards.map((name) => <option key={name} value={name}>__{name}__</option>)}
          </select>
        </span>
      )}
      {feat.aliases.slice(0, 12).map((name) => (
        <button type="button" class="chip" key={name} title={t("gen.insertAlias")} onClick={() => onChange(appendToken(value, `$${name}$`))}>
          ${name}$
        </button>
      ))}
    </div>
  );
}
