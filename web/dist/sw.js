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

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  event.waitUntil(
    self.clients.matchAll({ type: "window" }).then((windows) => {
      const open = windows.find((w) => new URL(w.url).pathname.startsWith("/cozygen"));
      return open ? open.focus() : self.clients.openWindow("/cozygen/queue");
    }),
  );
});
