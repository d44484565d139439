import { render } from "preact";
import { App } from "./app";
import { initLanguage } from "./i18n";
import { applyTheme } from "./settings";
import "./styles.css";

applyTheme();
// the language's catalogue first (English is built in; another is one small chunk), so no English flash
void initLanguage().finally(() => render(<App />, document.getElementById("app") as HTMLElement));

if ("serviceWorker" in navigator && location.protocol !== "file:") {
  // the app shell and its assets for the home-screen app; never the API
  window.addEventListener("load", () => void navigator.serviceWorker.register("/cozygen/sw.js", { scope: "/cozygen/" }).catch(() => undefined));
}
