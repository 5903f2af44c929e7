// The E-num app's service worker: the app's files are cached at install
// and served from the cache first, so the app opens offline. The version
// is the server's hash of the files: a new version installs a new cache
// and deletes the old one. Only the app's own GET requests are handled.
const VERSION = "__ENUM_APP_VERSION__";
const CACHE = "enum-app-" + VERSION;
const FILES = [
  "./", "app.css", "app.js", "ocra.js", "vault.js", "vendor/jsQR.js",
  "manifest.webmanifest", "icon.svg", "icon-192.png", "icon-512.png",
];

self.addEventListener("install", (ev) => {
  ev.waitUntil(caches.open(CACHE).then((c) => c.addAll(FILES)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (ev) => {
  ev.waitUntil(
    caches.keys()
      .then((keys) => Promise.all(keys.filter((k) => k.startsWith("enum-app-") && k !== CACHE).map((k) => caches.delete(k))))
      .then(() => self.clients.claim()),
  );
});

self.addEventListener("fetch", (ev) => {
  const req = ev.request;
  const scope = self.registration.scope;
  if (req.method !== "GET" || !req.url.startsWith(scope)) return;
  const key = req.mode === "navigate" ? "./" : req;
  ev.respondWith(
    caches.open(CACHE).then((c) => c.match(key, { ignoreSearch: true }).then((hit) => hit || fetch(req))),
  );
});
