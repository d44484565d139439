// Builds the app into ../dist, served by CozyGen at /cozygen (api/webapp.py).
// Hashed file names under assets/ are cached forever; index.html, sw.js and the
// manifest are not hashed and are served with no-cache.
import { defineConfig } from "vitest/config";

export default defineConfig({
  base: "/cozygen/",
  esbuild: { jsx: "automatic", jsxImportSource: "preact", legalComments: "none" },
  build: {
    outDir: process.env.COZYGEN_DIST_DIR ?? "../dist",
    emptyOutDir: true,
    target: "es2020",
    assetsDir: "assets",
    modulePreload: { polyfill: false },
    reportCompressedSize: false,
  },
  server: {
    // `npm run dev` with a CozyGen server on 127.0.0.1:8188 behind it
    proxy: { "/cozygen/api": "http://127.0.0.1:8188", "/cozygen/workflows": "http://127.0.0.1:8188", "/view": "http://127.0.0.1:8188" },
  },
  test: { environment: "node", include: ["test/**/*.test.ts"] },
});
