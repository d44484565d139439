// Jobs waiting or running (yours; everyone's for an admin), with cancel; a tab away from History.
import type { ComponentChildren, JSX } from "preact";
import { useEffect, useState } from "preact/hooks";
import { backendSummaries, cancelJob, jobs, listSeries, LOCAL_BACKEND, queue, stopSeries, thumbUrl, type Job, type QueueInfo, type Series } from "../api";
import { Icon } from "../components/Icons";
import { Empty, Spinner, TopBar, message, toast } from "../components/ui";
import { describe, jobStore, TERMINAL } from "../jobs";
import { hrefFor, linkClick } from "../router";
import { openViewer } from "../viewer";
import { humanKey } from "../labels";
import { prettyName } from "./Workflows";
import { formatNumber, locale, t, type Key } from "../i18n";

export function ActivityTabs({ current }: { current: "queue" | "history" }): JSX.Element {
  return (
    <nav class="seg" aria-label={t("queue.activity")}>
      {(["queue", "history"] as const).map((s) => (
        <a key={s} href={hrefFor({ screen: s })} onClick={linkClick} class="btn" aria-current={s === current ? "page" : undefined}>
          {s === "queue" ? t("nav.queue") : t("nav.history")}
        </a>
      ))}
    </nav>
  );
}

const when = (seconds: number): string => {
  const d = new Date(seconds * 1000);
  const today = new Date().toDateString() === d.toDateString();
  return today ? d.toLocaleTimeString(locale(), { hour: "2-digit", minute: "2-digit" }) : d.toLocaleDateString(locale(), { month: "short", day: "numeric" });
};

/** One job; `showUser` names its owner (for an admin, who sees everyone's; with sign-in off every job is "default");
 * `showBackend` names the ComfyUI server that runs it (a job on another server always says which). */
export function JobRow({ job, showUser = false, showBackend = false, children }: { job: Job; showUser?: boolean; showBackend?: boolean; children?: ComponentChildren }): JSX.Element {
  const d = describe(job);
  const first = job.images[0];
  const [open, setOpen] = useState(false);
  const params = Object.entries(job.params);
  const wfName = job.workflow ? prettyName(job.workflow) : t("queue.comfyPrompt");
  const rawPrompt = job.params.prompt ?? job.params.positive ?? job.params.text;
  const prompt = typeof rawPrompt === "string" ? rawPrompt.trim() : ""; // what differs from row to row leads
  return (
    <li class="card job" data-job={job.id}>
      <button type="button" class="t" style="padding:0;border:0;min-width:56px" disabled={!first} aria-label={t("queue.openImages")}
        onClick={() => first && openViewer({ items: job.images.map((ref) => ({ ref, job })), index: 0 })}>
        {first ? <img src={thumbUrl(first, 192)} alt="" width={56} height={56} loading="lazy" /> : <span class="thumbph" style="width:56px;height:56px"><Icon name="spark" /></span>}
      </button>
      <div class="grow" role="button" tabIndex={0} aria-expanded={open} style="cursor:pointer;min-width:0"
        onClick={() => setOpen(!open)} onKeyDown={(e) => (e.key === "Enter" || e.key === " ") && (e.preventDefault(), setOpen(!open))}>
        <div class="row" style="gap:8px">
          <span class={`status ${job.status}`}>{t(`status.${job.status}` as Key)}</span>
          <span class="small muted">{when(job.createdAt)}</span>
        </div>
        <div class="job-prompt" style="font-weight:600;overflow:hidden;text-overflow:ellipsis;white-space:nowrap">{prompt || wfName}</div>
        <div class="small muted job-sub" style="overflow:hidden;text-overflow:ellipsis;white-space:nowrap">
          {[prompt ? wfName : "", TERMINAL.has(job.status) ? (prompt ? "" : d.detail) : `${d.title} · ${d.detail}`, showUser ? job.username ?? "" : ""].filter(Boolean).join(" · ")}
        </div>
        {job.backend && (showBackend || job.backend.id !== LOCAL_BACKEND) && (
          <div class="small muted job-backend" title={t("queue.backendHint")}>
            {t("queue.onBackend", { name: job.backend.id === LOCAL_BACKEND ? t("backends.localName") : job.backend.name })}
          </div>
        )}
        {!TERMINAL.has(job.status) && <div class="bar" style="margin:6px 0 0"><div style={{ width: `${d.percent}%` }} /></div>}
        {open && params.length > 0 && (
          <dl class="params small" aria-label={t("viewer.parameters")}>
            {params.map(([k, v]) => [<dt key={`${k}-t`}>{humanKey(k)}</dt>, <dd key={`${k}-d`}>{typeof v === "object" ? JSON.stringify(v) : String(v)}</dd>])}
            {job.error && [<dt key="e-t">{t("param.error")}</dt>, <dd key="e-d" class="error">{job.error}</dd>]}
          </dl>
        )}
      </div>
      {children}
    </li>
  );
}

/** "7 of 20" for N times, "repeating · 12 done" until stopped. */
export const seriesProgress = (s: Series): string =>
  s.times === "until_stopped"
    ? t("queue.seriesRepeating", { done: s.completed })
    : t("queue.seriesOf", { n: Math.min(s.completed + (s.status === "running" ? 1 : 0), s.times), total: s.times });

/** The caller's running series (everyone's for an admin), each with its progress and a Stop button. */
function SeriesList({ admin }: { admin: boolean }): JSX.Element | null {
  const [list, setList] = useState<Series[]>([]);
  useEffect(() => {
    let live = true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const load = () => listSeries().then((all) => live && setList(all.filter((s) => s.status === "running")), () => undefined);
    load();
    // a series moves when its jobs do: read it again shortly after a job changes (at most every 400 ms: a
    // running job's progress never holds the list back)
    const off = jobStore.subscribe(() => {
      timer ??= setTimeout(() => {
        timer = undefined;
        load();
      }, 400);
    });
    return () => {
      live = false;
      clearTimeout(timer);
      off();
    };
  }, []);
  if (!list.length) return null;
  const stop = async (s: Series) => {
    try {
      await stopSeries(s.id);
      setList((cur) => cur.filter((x) => x.id !== s.id));
      toast(t("queue.stopped"));
    } catch (e) {
      toast(message(e));
    }
  };
  return (
    <section class="series-list" aria-label={t("queue.repeating")}>
      <h2 class="small muted series-head">{t("queue.repeating")}</h2>
      <ul class="list">
        {list.map((s) => (
          <li key={s.id} class="card series" data-series={s.id}>
            <span class="thumbph series-icon" aria-hidden="true"><Icon name="spark" /></span>
            <div class="grow" style="min-width:0">
              <div style="font-weight:600;overflow:hidden;text-overflow:ellipsis;white-space:nowrap">{prettyName(s.workflow)}</div>
              <div class="small muted series-progress">{[seriesProgress(s), admin ? s.username : ""].filter(Boolean).join(" · ")}</div>
              {s.times !== "until_stopped" && (
                <div class="bar" style="margin:6px 0 0"><div style={{ width: `${Math.round((100 * s.completed) / s.times)}%` }} /></div>
              )}
            </div>
            <button type="button" class="labelled danger" aria-label={t("queue.stopRepeating", { name: prettyName(s.workflow) })} title={t("queue.stopHint")}
              onClick={() => stop(s)}><Icon name="stop" /><span>{t("queue.stop")}</span></button>
          </li>
        ))}
      </ul>
    </section>
  );
}

export function Queue({ admin }: { admin: boolean }): JSX.Element {
  const [list, setList] = useState<Job[] | null>(null);
  const [info, setInfo] = useState<QueueInfo | null>(null);
  const [error, setError] = useState("");
  const [servers, setServers] = useState(1); // backends known: with more than one, every row names its own
  const load = () => {
    backendSummaries().then((found) => setServers(found.length), () => undefined);
    Promise.all([jobs({ status: "pending", limit: 100 }), jobs({ status: "running", limit: 100 })]).then(
      ([p, r]) => {
        for (const j of [...r.jobs, ...p.jobs]) jobStore.track(j);
        setList([...r.jobs, ...p.jobs]);
      },
      (e) => setError(message(e)),
    );
    queue().then(setInfo, () => undefined);
  };
  useEffect(() => {
    load();
    return jobStore.subscribe(() => {
      setList((cur) => {
        const known = new Map((cur ?? []).map((j) => [j.id, j]));
        for (const j of jobStore.jobs.values()) if (!TERMINAL.has(j.status) || known.has(j.id)) known.set(j.id, j);
        return [...known.values()].filter((j) => !TERMINAL.has(j.status)).sort((a, b) => a.createdAt - b.createdAt);
      });
    });
  }, []);
  const cancel = async (job: Job) => {
    try {
      await cancelJob(job.id);
      toast(t("queue.cancelling"));
    } catch (e) {
      toast(message(e));
    }
  };
  return (
    <>
      <TopBar title={t("nav.queue")} />
      <main class="stack">
        <ActivityTabs current="queue" />
        {info && (
          <p class="muted small" style="margin:8px 2px 0">
            {[
              t("queue.info", { running: info.running, pending: info.pending }),
              info.averageSeconds ? t("queue.average", { seconds: formatNumber(info.averageSeconds, { minimumFractionDigits: 1, maximumFractionDigits: 1 }) }) : "",
              admin ? t("queue.allUsers") : "",
            ].filter(Boolean).join(" · ")}
          </p>
        )}
        <SeriesList admin={admin} />
        {error && <p class="error">{error}</p>}
        {!list && !error && <Spinner />}
        {list?.length === 0 && <Empty>{t("queue.empty")}</Empty>}
        <ul class="list cols">
          {list?.map((job) => (
            <JobRow key={job.id} job={job} showUser={admin} showBackend={servers > 1}>
              <button type="button" class="labelled danger" aria-label={t("queue.cancelJob")} title={t("queue.cancelJob")} onClick={() => cancel(job)}><Icon name="stop" /><span>{t("common.cancel")}</span></button>
            </JobRow>
          ))}
        </ul>
      </main>
    </>
  );
}
