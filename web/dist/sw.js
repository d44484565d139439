// CozyGen's service worker (scope /cozygen/): keeps the app shell and its
// hashed assets so the home-screen app opens fast and offline. The shell is
// network-first (a new version shows up at once); hashed assets are
// cache-first (their names change with their content). Nothing else is
// touched: the API, images, events and ComfyUI's own routes go to the network.
const CACHE = "cozygen-shell-v1";
const SHELL = "/cozygen/";
const STATIC = /^\/cozygen\/(assets\/[A-Za-z0-9._-]+|manifest\.webmanifest|icon[A-Za-z0-9_-]*\.(png|svg))$/;
const NEVER = /^\/cozygen\/(api|compat)(\/|$)/;

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(CACHE).then((cache) => cache.add(SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches.keys()
      .then((keys) => Promise.all(keys.filter((k) => k.startsWith("cozygen-") && k !== CACHE).map((k) => caches.delete(k))))
      .then(() => self.clients.claim()),
  );
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin || NEVER.test(url.pathname)) return;
  if (request.mode === "navigate" && url.pathname.startsWith("/cozygen")) {
    // network first: the newest shell, the cached one offline
    event.respondWith(
      fetch(request)
        .then((response) => {
          if (response.ok && response.headers.get("Content-Type")?.includes("text/html")) {
            const copy = response.clone();
            caches.open(CACHE).then((cache) => cache.put(SHELL, copy));
          }
          return response;
        })
        .catch(() => caches.match(SHELL).then((cached) => cached || Response.error())),
    );
    return;
  }
  if (STATIC.test(url.pathname)) {
    event.respondWith(
      caches.match(request).then(
        (cached) =>
          cached ||
          fetch(request).then((response) => {
            if (response.ok) {
              const copy = response.clone();
              caches.open(CACHE).then((cache) => cache.put(request, copy));
            }
            return response;
          }),
      ),
    );
  }
});

// ---- Web Push: a job ended while no page was open (the server's payload:
// core/push/payload.py). Only paths of this app are opened on a tap.
const FALLBACK = "/cozygen/queue";
const appPath = (url) => {
  try {
    const parsed = new URL(url, self.location.origin);
    return parsed.origin === self.location.origin && parsed.pathname.startsWith("/cozygen/") ? parsed.pathname + parsed.search : FALLBACK;
  } catch {
    return FALLBACK;
  }
};

self.addEventListener("push", (event) => {
  let data = {};
  try {
    data = event.data ? event.data.json() : {};
  } catch {
    data = { body: event.data ? event.data.text() : "" };
  }
  const options = {
    body: typeof data.body === "string" ? data.body : "",
    icon: typeof data.icon === "string" ? appPath(data.icon) : "/cozygen/icon-192.png",
    badge: "/cozygen/icon-192.png",
    data: { url: appPath(data.url || FALLBACK) },
  };
  if (typeof data.tag === "string") options.tag = data.tag;
  if (typeof data.image === "string") options.image = appPath(data.image);
  event.waitUntil(self.registration.showNotification(typeof data.title === "string" ? data.title : "CozyGen", options));
});

// Focus an open window of the app and take it to the result, or open one there. (focus() needs the user's
// tap; without it the window is still taken to the result.) A top-level function: the browser test calls it.
function openResult(url) {
  const target = appPath(url || FALLBACK);
  return self.clients.matchAll({ type: "window", includeUncontrolled: true }).then((windows) => {
    const open = windows.find((w) => new URL(w.url).pathname.startsWith("/cozygen"));
    if (!open) return self.clients.openWindow(target);
    return open
      .focus()
      .catch(() => open)
      .then((focused) => (focused || open).navigate(target))
      .catch(() => self.clients.openWindow(target)); // a window this worker does not control: open one
  });
}

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  event.waitUntil(openResult(event.notification.data?.url));
});

// The push service replaced the subscription: subscribe again with the server's key and tell the server.
self.addEventListener("pushsubscriptionchange", (event) => {
  event.waitUntil(
    fetch("/cozygen/api/push/key", { credentials: "same-origin" })
      .then((response) => response.json())
      .then(({ public_key: key }) => {
        const bytes = Uint8Array.from(atob(key.replace(/-/g, "+").replace(/_/g, "/") + "==".slice(0, (4 - (key.length % 4)) % 4)), (c) => c.charCodeAt(0));
        return self.registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: bytes });
      })
      .then((subscription) =>
        fetch("/cozygen/api/push/subscriptions", {
          method: "POST",
          credentials: "same-origin",
          headers: { "Content-Type": "application/json" },
          body: JSON.stringify(subscription.toJSON()),
        }),
      )
      .catch(() => undefined),
  );
});
