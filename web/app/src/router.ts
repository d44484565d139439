// Client-side routes under /cozygen/ (the server answers every one with the app shell).

import { useEffect, useState } from "preact/hooks";

export const BASE = "/cozygen";

export type Route =
  | { screen: "workflows" }
  | { screen: "generate"; workflow: string }
  | { screen: "gallery"; subfolder: string; root?: "input" }
  | { screen: "queue" }
  | { screen: "history" }
  | { screen: "settings" }
  | { screen: "models" }
  | { screen: "backends" };

export function parseRoute(pathname: string, search = ""): Route {
  let path = pathname.startsWith(BASE) ? pathname.slice(BASE.length) : pathname;
  path = path.replace(/^\/+|\/+$/g, "");
  const [head, ...rest] = path.split("/");
  const params = new URLSearchParams(search);
  switch (head) {
    case "generate":
      return rest.length ? { screen: "generate", workflow: decodeURIComponent(rest.join("/")) } : { screen: "workflows" };
    case "gallery":
      return params.get("type") === "input"
        ? { screen: "gallery", subfolder: params.get("subfolder") ?? "", root: "input" }
        : { screen: "gallery", subfolder: params.get("subfolder") ?? "" };
    case "queue":
      return { screen: "queue" };
    case "history":
      return { screen: "history" };
    case "settings":
      return rest[0] === "models" ? { screen: "models" } : rest[0] === "backends" ? { screen: "backends" } : { screen: "settings" };
    default:
      return { screen: "workflows" };
  }
}

export function hrefFor(route: Route): string {
  switch (route.screen) {
    case "generate":
      return `${BASE}/generate/${encodeURIComponent(route.workflow)}`;
    case "gallery": {
      const params = new URLSearchParams();
      if (route.root === "input") params.set("type", "input");
      if (route.subfolder) params.set("subfolder", route.subfolder);
      const text = params.toString();
      return `${BASE}/gallery${text ? `?${text}` : ""}`;
    }
    case "workflows":
      return `${BASE}/`;
    case "models":
      return `${BASE}/settings/models`;
    case "backends":
      return `${BASE}/settings/backends`;
    default:
      return `${BASE}/${route.screen}`;
  }
}

const listeners = new Set<() => void>();
export function navigate(href: string, replace = false): void {
  if (href === location.pathname + location.search) {
    if (replace) history.replaceState(null, "", href);
    return;
  }
  if (replace) history.replaceState(null, "", href);
  else history.pushState(null, "", href);
  window.scrollTo(0, 0);
  listeners.forEach((l) => l());
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(location.pathname, location.search));
  useEffect(() => {
    const update = () => setRoute(parseRoute(location.pathname, location.search));
    listeners.add(update);
    window.addEventListener("popstate", update);
    return () => {
      listeners.delete(update);
      window.removeEventListener("popstate", update);
    };
  }, []);
  return route;
}

/** A click handler for <a href> that stays in the app. */
export function linkClick(event: MouseEvent): void {
  const anchor = event.currentTarget as HTMLAnchorElement;
  if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || anchor.target) return;
  event.preventDefault();
  navigate(anchor.getAttribute("href") ?? `${BASE}/`);
}
