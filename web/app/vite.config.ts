// Builds the app into ../dist, served by CozyGen at /cozygen (api/webapp.py).
// Hashed file names under assets/ are cached forever; index.html, sw.js and the
// manifest are not hashed and are served with no-cache. Each hashed script and
// stylesheet gets a gzip (.gz) and a brotli (.br) copy beside it, which the
// server sends to a browser that accepts them.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { brotliCompressSync, constants, gzipSync } from "node:zlib";
import type { Plugin } from "vite";
import { defineConfig } from "vitest/config";

const COMPRESSIBLE = /^assets\/[^/]+\.(js|css|svg)$/;

/** The .gz and .br copies of the hashed assets: the same bytes on every build (gzip's header carries no time). */
function precompress(): Plugin {
  return {
    name: "cozygen-precompress",
    apply: "build",
    writeBundle(options, bundle) {
      const dir = options.dir ?? "";
      for (const name of Object.keys(bundle).sort()) {
        if (!COMPRESSIBLE.test(name)) continue;
        const path = join(dir, name);
        const data = readFileSync(path);
        const gz = gzipSync(data, { level: 9 });
        const br = brotliCompressSync(data, {
          params: {
            [constants.BROTLI_PARAM_QUALITY]: constants.BROTLI_MAX_QUALITY,
            [constants.BROTLI_PARAM_MODE]: constants.BROTLI_MODE_TEXT,
            [constants.BROTLI_PARAM_SIZE_HINT]: data.length,
          },
        });
        if (gz.length < data.length) writeFileSync(`${path}.gz`, gz);
        if (br.length < data.length) writeFileSync(`${path}.br`, br);
      }
    },
  };
}

export default defineConfig({
  base: "/cozygen/",
  esbuild: { jsx: "automatic", jsxImportSource: "preact", legalComments: "none" },
  plugins: [precompress()],
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
