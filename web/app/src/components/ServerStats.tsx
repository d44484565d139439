// Settings: what the server runs on (device, memory, versions, queue), for anyone signed in.
import { Fragment, type JSX } from "preact";
import { useEffect, useState } from "preact/hooks";
import { serverStats, type ServerStats as Stats } from "../api";
import { formatNumber, t } from "../i18n";

const GB = 1024 ** 3;
const gb = (bytes: number | null): string =>
  bytes === null ? "?" : t("server.gb", { n: formatNumber(bytes / GB, { minimumFractionDigits: 1, maximumFractionDigits: 1 }) });

export function ServerStats(): JSX.Element {
  const [stats, setStats] = useState<Stats | null>(null);
  const [failed, setFailed] = useState(false);
  useEffect(() => {
    serverStats().then(setStats, () => setFailed(true));
  }, []);
  return (
    <section class="card group" aria-labelledby="s-server" id="server-stats">
      <h3 id="s-server">{t("server.title")}</h3>
      {!stats && <p class="small muted" style="margin:0">{failed ? t("server.unavailable") : "…"}</p>}
      {stats && (
        <dl class="small" style="margin:0;display:grid;grid-template-columns:auto 1fr;gap:4px 12px">
          {stats.devices.map((d, i) => (
            <Fragment key={i}>
              <dt>{t("server.device")}</dt>
              <dd style="margin:0;overflow-wrap:anywhere">{d.name}</dd>
              {d.type !== "cpu" && d.vramTotal !== null && <dt>{t("server.vram")}</dt>}
              {d.type !== "cpu" && d.vramTotal !== null && <dd style="margin:0">{t("server.free", { free: gb(d.vramFree), total: gb(d.vramTotal) })}</dd>}
            </Fragment>
          ))}
          {stats.ramTotal !== null && <><dt>{t("server.memory")}</dt><dd style="margin:0">{t("server.free", { free: gb(stats.ramFree), total: gb(stats.ramTotal) })}</dd></>}
          <dt>{t("server.queue")}</dt>
          <dd style="margin:0" id="server-queue">{t("server.queueState", { running: stats.queue.running, pending: stats.queue.pending })}</dd>
          <dt>ComfyUI</dt>
          <dd style="margin:0">{stats.comfyuiVersion ?? "?"}{stats.pytorchVersion ? ` · PyTorch ${stats.pytorchVersion}` : ""}</dd>
        </dl>
      )}
    </section>
  );
}
