// The workflows this server offers, with their kind and what the host lacks to run them.
import type { JSX } from "preact";
import { useEffect, useState } from "preact/hooks";
import { jobs, thumbUrl, workflows, type ImageRef, type WorkflowSummary } from "../api";
import { Icon } from "../components/Icons";
import { Empty, Spinner, TopBar, message } from "../components/ui";
import { hrefFor, linkClick } from "../router";

// Words of workflow file names that have a spelling of their own.
const SPELLED: Record<string, string> = { cozygen: "CozyGen", sd15: "SD 1.5", sdxl: "SDXL", flux: "Flux", sd3: "SD3" };

/** A workflow's file name as a title: "sdxl_txt2img.json" is "SDXL txt2img". */
export const prettyName = (name: string): string => {
  const words = name.replace(/\.json$/i, "").split(/[_\s-]+/).filter(Boolean);
  const spelled = words.map((w) => SPELLED[w.toLowerCase()] ?? w);
  const title = spelled.join(" ");
  return title.charAt(0).toUpperCase() + title.slice(1);
};

export function KindBadge({ kind }: { kind: string | null }): JSX.Element | null {
  if (!kind) return null;
  const titles: Record<string, string> = { t2i: "text to image", i2i: "image to image", t2v: "text to video", i2v: "image to video" };
  return <span class={`kind ${kind}`} title={titles[kind]} aria-label={titles[kind]}>{kind}</span>;
}

export function Workflows(): JSX.Element {
  const [list, setList] = useState<WorkflowSummary[] | null>(null);
  const [error, setError] = useState("");
  const [latest, setLatest] = useState<Record<string, ImageRef>>({});

  useEffect(() => {
    // the newest image of each workflow, from one page of history
    jobs({ status: "completed", limit: 100 }).then(({ jobs: done }) => {
      const found: Record<string, ImageRef> = {};
      for (const j of done) if (j.workflow && !found[j.workflow] && j.images[0]) found[j.workflow] = j.images[0];
      setLatest(found);
    }, () => undefined);
    workflows(true).then(setList, (e) => setError(message(e))); // one request: the list with each one's check
  }, []);

  return (
    <>
      <TopBar title={<span class="brand"><b>Cozy</b>Gen</span>} />
      <main>
        <h2 style="margin:4px 2px 12px">Workflows</h2>
        {error && <p class="error" role="alert">{error}</p>}
        {!list && !error && <Spinner />}
        {list && list.length === 0 && <Empty>No workflows yet. Save one from ComfyUI's editor with “Send to CozyGen”.</Empty>}
        <ul class="list" aria-label="Workflows">
          {list?.map((wf) => {
            const c = wf.check;
            const lacks = c && !c.ok ? [...c.missingNodes.map((n) => `node ${n}`), ...c.missingModels] : [];
            return (
              <li key={wf.name}>
                <a class="card wf" href={hrefFor({ screen: "generate", workflow: wf.name })} onClick={linkClick} data-workflow={wf.name}>
                  <span class="thumbph">
                    {latest[wf.name] ? <img src={thumbUrl(latest[wf.name], 192)} alt="" width={44} height={44} loading="lazy" /> : <Icon name={wf.kind?.endsWith("v") ? "image" : "spark"} />}
                  </span>
                  <span class="grow">
                    <span class="row wrap" style="gap:8px">
                      <span class="name">{prettyName(wf.name)}</span>
                      <KindBadge kind={wf.kind} />
                    </span>
                    {lacks.length > 0 && (
                      <span class="warn" style="display:block;margin-top:4px" role="note">
                        ⚠ Missing {lacks.slice(0, 2).join(", ")}
                        {lacks.length > 2 ? ` and ${lacks.length - 2} more` : ""}
                      </span>
                    )}
                  </span>
                  <span class="chev"><Icon name="chev" /></span>
                </a>
              </li>
            );
          })}
        </ul>
      </main>
    </>
  );
}
