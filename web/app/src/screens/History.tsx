// Past jobs with their parameters: open the images, reproduce, export.
import type { JSX } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import { exportUrl, getJob, jobs, reproduceJob, type Job } from "../api";
import { Icon } from "../components/Icons";
import { SessionPicker } from "../components/SessionPicker";
import { Empty, Spinner, TopBar, message, toast } from "../components/ui";
import { jobStore } from "../jobs";
import { openViewer } from "../viewer";
import { ActivityTabs, JobRow } from "./Queue";
import { t } from "../i18n";

/** The job a link names (`?job=<id>`, as a push notification's tap opens the app), read once. */
const linkedJob = (): string | null => new URLSearchParams(location.search).get("job");

export function History({ admin = false }: { admin?: boolean }): JSX.Element {
  const [list, setList] = useState<Job[]>([]);
  const [next, setNext] = useState<string | null>(null);
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState("");
  const [q, setQ] = useState("");
  const [session, setSession] = useState("");
  const [focus] = useState(linkedJob);
  const [missing, setMissing] = useState(false);
  const focusHandled = useRef(false);
  /** The linked job: found on the first page or fetched by id, shown highlighted with its images open (a "your
   * image is ready" tap lands on the image itself; closing the viewer leaves its row, marked, in the history). */
  const showLinked = async (page: Job[]): Promise<Job[]> => {
    if (!focus || focusHandled.current) return page;
    focusHandled.current = true;
    const onPage = page.find((j) => j.id === focus);
    let job: Job;
    try {
      job = onPage ?? (await getJob(focus)); // older than the first page: fetched by id, shown on top
    } catch {
      setMissing(true); // not there, or another user's: nothing of it is shown
      return page;
    }
    if (job.images.length > 0) openViewer({ items: job.images.map((ref) => ({ ref, job })), index: 0 });
    return onPage ? page : [job, ...page];
  };
  const load = async (before: string | null, text = q) => {
    setLoading(true);
    try {
      const page = await jobs({ limit: 30, before: before ?? undefined, q: text || undefined, session_id: session || undefined });
      const shown = before ? page.jobs : await showLinked(page.jobs);
      setList((cur) => (before ? [...cur, ...shown] : shown));
      setNext(page.next);
    } catch (e) {
      setError(message(e));
    } finally {
      setLoading(false);
    }
  };
  useEffect(() => {
    const timer = setTimeout(() => void load(null, q), q ? 300 : 0);
    return () => clearTimeout(timer);
  }, [q, session]);
  useEffect(() => {
    // mark the linked job's row and bring it into view (JobRow is shared with the queue: marked here)
    if (!focus) return;
    const row = document.querySelector<HTMLElement>(`li.job[data-job="${CSS.escape(focus)}"]`);
    if (!row || row.classList.contains("highlight")) return;
    row.classList.add("highlight");
    row.setAttribute("aria-current", "true");
    row.scrollIntoView({ block: "center" });
  }, [list, focus]);
  const reproduce = async (job: Job) => {
    try {
      const created = await reproduceJob(job.id);
      jobStore.track(created);
      toast(t("history.queuedAgain"));
      setList((cur) => [created, ...cur]);
    } catch (e) {
      toast(message(e));
    }
  };
  return (
    <>
      <TopBar title={t("nav.history")}>
        <a class="btn ghost" href={exportUrl("csv", session || undefined)} download>CSV</a>
        <a class="btn ghost" href={exportUrl("json", session || undefined)} download>JSON</a>
      </TopBar>
      <main class="stack">
        <ActivityTabs current="history" />
        <div>
          <label for="history-session" class="sr-only">{t("session.label")}</label>
          <SessionPicker id="history-session" value={session} none={t("history.allJobs")} onChange={setSession} />
        </div>
        <div class="search" role="search">
          <Icon name="search" />
          <label for="history-search" class="sr-only">{t("history.searchLabel")}</label>
          <input id="history-search" type="search" placeholder={t("history.searchPlaceholder")} value={q} onInput={(e) => setQ(e.currentTarget.value)} />
        </div>
        {error && <p class="error">{error}</p>}
        {missing && <p class="linked-note" role="status">{t("history.notFound")}</p>}
        {!loading && list.length === 0 && <Empty>{t("history.empty")}</Empty>}
        <ul class="list cols">
          {list.map((job) => (
            <JobRow key={job.id} job={job} showUser={admin}>
              {job.workflow && (
                <button type="button" class="labelled" aria-label={t("history.reproduce")} title={t("history.reproduceHint")} onClick={() => reproduce(job)}><Icon name="redo" /><span>{t("history.again")}</span></button>
              )}
            </JobRow>
          ))}
        </ul>
        {loading && <Spinner />}
        {next && !loading && <button type="button" class="wide" onClick={() => load(next)}>{t("history.loadMore")}</button>}
      </main>
    </>
  );
}
