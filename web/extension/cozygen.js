// Loaded by ComfyUI's editor: a CozyGen menu with "Send to CozyGen" (saves the open workflow,
// in API format, where the phone app finds it) and "Open CozyGen".
import { app } from "../../scripts/app.js";

function notify(severity, summary, detail) {
  const toast = app.extensionManager?.toast;
  if (toast?.add) toast.add({ severity, summary, detail, life: 5000 });
  else window.alert(`${summary}\n${detail}`);
}

function suggestedName() {
  const title = app.extensionManager?.workflow?.activeWorkflow?.filename ?? "workflow";
  return title.replace(/\.json$/i, "").replace(/[^A-Za-z0-9._ -]+/g, "_").trim() || "workflow";
}

async function sendToCozyGen() {
  const name = window.prompt("Save this workflow for CozyGen as:", suggestedName());
  if (!name) return;
  const { output } = await app.graphToPrompt(); // the API format CozyGen runs
  const reply = await fetch(`/cozygen/workflows/${encodeURIComponent(name.trim())}.json`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    credentials: "same-origin",
    body: JSON.stringify(output),
  });
  const body = await reply.json().catch(() => ({}));
  if (reply.ok) notify("success", "Sent to CozyGen", `Saved as ${body.filename}; it is in the app's workflow list.`);
  else notify("error", "CozyGen did not save it", body.error ?? `HTTP ${reply.status}`);
}

app.registerExtension({
  name: "CozyGen.Editor",
  commands: [
    { id: "CozyGen.SendWorkflow", label: "Send to CozyGen", function: sendToCozyGen },
    { id: "CozyGen.OpenApp", label: "Open CozyGen", function: () => window.open("/cozygen", "_blank") },
  ],
  menuCommands: [{ path: ["CozyGen"], commands: ["CozyGen.SendWorkflow", "CozyGen.OpenApp"] }],
});
