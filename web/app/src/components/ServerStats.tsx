// Settings: what the server runs on (device, memory, versions, queue), for anyone signed in.
import { Fragment, type JSX } from "preact";
import { useEffect, useState } from "preact/hooks";
import { serverStats, type ServerStats as Stats } from "../api";

const GB = 1024 ** 3;
const gb = (bytes: number | null): string => (bytes === null ? "?" : `${(bytes / GB).toFixed(1)} GB`);

export function ServerStats(): JSX.Element {
  const [stats, setStats] = useState<Stats | null>(null);
  const [failed, setFailed] = useState(false);
  useEffect(() => {
    serverStats().then(setStats, () => setFailed(true));
  }, []);
  return (
    <section class="card group" aria-labelledby="s-server" id="server-stats">
      <h3 id="s-server">Server</h3>
      {!stats && <p class="small muted" style="margin:0">{failed ? "The server's stats are not available." : "…"}</p>}
      {stats && (
        <dl class="small" style="margin:0;display:grid;grid-template-columns:auto 1fr;gap:4px 12px">
          {stats.devices.map((d, i) => (
            <Fragment key={i}>
              <dt>Device</dt>
              <dd style="margin:0;overflow-wrap:anywhere">{d.name}</dd>
              {d.type !== "cpu" && d.vramTotal !== null && <dt>VRAM</dt>}
              {d.type !== "cpu" && d.vramTotal !== null && <dd style="margin:0">{gb(d.vramFree)} free of {gb(d.vramTotal)}</dd>}
            </Fragment>
          ))}
          {stats.ramTotal !== null && <><dt>Memory</dt><dd style="margin:0">{gb(stats.ramFree)} free of {gb(stats.ramTotal)}</dd></>}
          <dt>Queue</dt>
          <dd style="margin:0" id="server-queue">{stats.queue.running} running, {stats.queue.pending} waiting</dd>
          <dt>ComfyUI</dt>
          <dd style="margin:0">{stats.comfyuiVersion ?? "?"}{stats.pytorchVersion ? ` · PyTorch ${stats.pytorchVersion}` : ""}</dd>
        </dl>
      )}
    </section>
  );
}
