// Write NAME.br and NAME.gz beside each front-end file of a built site (wasm, js, css, svg,
// ...), once at build time, so the server sends them as they are (server/src/assets.rs) instead
// of compressing on every request. Node's own zlib: no npm package.
//   node scripts/precompress.mjs SITE_ROOT
// Brotli at its best quality (11) takes ~10 s for the release wasm; a debug wasm (tens of MB)
// would take minutes at that level, so files over 4 MB get quality 5 (seconds).
import { brotliCompressSync, constants, gzipSync } from "node:zlib";
import { readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { extname, join } from "node:path";

const COMPRESSIBLE = new Set([".wasm", ".js", ".mjs", ".css", ".svg", ".json", ".html", ".txt", ".ico"]);
const BIG = 4 * 1024 * 1024;
const MIN = 1024; // smaller files gain nothing worth a second file

const root = process.argv[2];
if (!root) {
  console.error("usage: node scripts/precompress.mjs SITE_ROOT");
  process.exit(2);
}

function* files(dir) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* files(path);
    else if (entry.isFile()) yield path;
  }
}

let written = 0;
const started = Date.now();
for (const path of files(root)) {
  if (!COMPRESSIBLE.has(extname(path)) || statSync(path).size < MIN) continue;
  const raw = readFileSync(path);
  const quality = raw.length > BIG ? 5 : constants.BROTLI_MAX_QUALITY;
  const br = brotliCompressSync(raw, {
    params: {
      [constants.BROTLI_PARAM_QUALITY]: quality,
      [constants.BROTLI_PARAM_SIZE_HINT]: raw.length,
    },
  });
  const gz = gzipSync(raw, { level: constants.Z_BEST_COMPRESSION });
  // A copy no smaller than the file would only cost a file read: leave it out.
  for (const [ext, data] of [[".br", br], [".gz", gz]]) {
    if (data.length < raw.length) {
      writeFileSync(path + ext, data);
      written++;
    }
  }
  console.error(`[precompress] ${path}: ${raw.length} B, br ${br.length} B (q${quality}), gzip ${gz.length} B`);
}
console.error(`[precompress] ${written} files written in ${((Date.now() - started) / 1000).toFixed(1)} s`);
