import { render } from "preact";
import { App } from "./app";
import { applyTheme } from "./settings";
import "./styles.css";

applyTheme();
render(<App />, document.getElementById("app") as HTMLElement);

if ("serviceWorker" in navigator && location.protocol !== "file:") {
  // the app shell and its assets for the home-screen app; never the API
  window.addEventListener("load", () => void navigator.serviceWorker.register("/cozygen/sw.js", { scope: "/cozygen/" }).catch(() => undefined));
}
