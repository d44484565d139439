// Loaded by ComfyUI's editor: adds a menu entry that opens CozyGen's phone app.
import { app } from "../../scripts/app.js";

app.registerExtension({
  name: "CozyGen.OpenApp",
  commands: [
    { id: "CozyGen.OpenApp", label: "Open CozyGen", function: () => window.open("/cozygen", "_blank") },
  ],
  menuCommands: [{ path: ["CozyGen"], commands: ["CozyGen.OpenApp"] }],
});
