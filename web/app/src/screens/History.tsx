// Past jobs with their parameters: open the images, reproduce, export.
import type { JSX } from "preact";
import { useEffect, useState } from "preact/hooks";
import { exportUrl, jobs, reproduceJob, type Job } from "../api";
import { Icon } from "../components/Icons";
import { SessionPicker } from "../components/SessionPicker";
import { Empty, Spinner, TopBar, message, toast } from "../components/ui";
import { jobStore } from "../jobs";
import { ActivityTabs, JobRow } from "./Queue";

export function History({ admin = false }: { admin?: boolean }): JSX.Element {
  const [list, setList] = useState<Job[]>([]);
  const [next, setNext] = useState<string | null>(null);
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState("");
  const [q, setQ] = useState("");
  const [session, setSession] = useState("");
  const load = async (before: string | null, text = q) => {
    setLoading(true);
    try {
      const page = await jobs({ limit: 30, before: before ?? undefined, q: text || undefined, session_id: session || undefined });
      setList((cur) => (before ? [...cur, ...page.jobs] : page.jobs));
      setNext(page.next);
    } catch (e) {
      setError(message(e));
    } finally {
      setLoading(false);
    }
  };
  useEffect(() => {
    const t = setTimeout(() => void load(null, q), q ? 300 : 0);
    return () => clearTimeout(t);
  }, [q, session]);
  const reproduce = async (job: Job) => {
    try {
      const created = await reproduceJob(job.id);
      jobStore.track(created);
      toast("Queued again with the same seed");
      setList((cur) => [created, ...cur]);
    } catch (e) {
      toast(message(e));
    }
  };
  return (
    <>
      <TopBar title="History">
        <a class="btn ghost" href={exportUrl("csv", session || undefined)} download>CSV</a>
        <a class="btn ghost" href={exportUrl("json", session || undefined)} download>JSON</a>
      </TopBar>
      <main class="stack">
        <ActivityTabs current="history" />
        <div>
          <label for="history-session" class="sr-only">Session</label>
          <SessionPicker id="history-session" value={session} none="All jobs" onChange={setSession} />
        </div>
        <div class="search" role="search">
          <Icon name="search" />
          <label for="history-search" class="sr-only">Search the parameters</label>
          <input id="history-search" type="search" placeholder="Search prompts and parameters" value={q} onInput={(e) => setQ(e.currentTarget.value)} />
        </div>
        {error && <p class="error">{error}</p>}
        {!loading && list.length === 0 && <Empty>No jobs yet.</Empty>}
        <ul class="list cols">
          {list.map((job) => (
            <JobRow key={job.id} job={job} showUser={admin}>
              {job.workflow && (
                <button type="button" class="labelled" aria-label="Reproduce this job: run it again with the same seed" title="Run again with the same seed" onClick={() => reproduce(job)}><Icon name="redo" /><span>Again</span></button>
              )}
            </JobRow>
          ))}
        </ul>
        {loading && <Spinner />}
        {next && !loading && <button type="button" class="wide" onClick={() => load(next)}>Load more</button>}
      </main>
    </>
  );
}
