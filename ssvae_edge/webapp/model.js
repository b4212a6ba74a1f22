// The bundle in the page: its manifest, and the classifier and anomaly graphs, each refused unless its
// sha256 is the manifest's (checked with SubtleCrypto on the very bytes handed to onnxruntime-web).

/* global ort */

export class BundleError extends Error {}

const hex = (buf) => [...new Uint8Array(buf)].map((b) => b.toString(16).padStart(2, "0")).join("");

async function fetchBytes(url) {
  const r = await fetch(url, { cache: "no-store" });
  if (!r.ok) throw new BundleError(`${url}: HTTP ${r.status}`);
  return r.arrayBuffer();
}

const sha256 = async (bytes) => hex(await crypto.subtle.digest("SHA-256", bytes));

/** The bytes of one graph, refused unless they match the manifest's sha256. */
async function verified(dir, name, entry) {
  const bytes = await fetchBytes(`${dir}/${entry.file}`);
  const digest = await sha256(bytes);
  if (digest !== entry.sha256.toLowerCase()) {
    throw new BundleError(`${name}: ${entry.file} does not match its sha256 in the manifest (expected ` +
      `${entry.sha256.slice(0, 12)}…, file has ${digest.slice(0, 12)}…): the bundle was modified or is corrupt; ` +
      "nothing was scored");
  }
  return new Uint8Array(bytes);
}

/** onnxruntime's wasm binary: fetched gzip-compressed (a host may already have inflated it on the way),
 * inflated with DecompressionStream, refused unless its sha256 is the vendored file's. */
async function wasmBinary(entry) {
  let bytes = await fetchBytes(entry.file);
  const head = new Uint8Array(bytes, 0, 2);
  if (head[0] === 0x1f && head[1] === 0x8b) {
    if (typeof DecompressionStream === "undefined") {
      throw new BundleError("this browser has no DecompressionStream (Safari 16.4+, Chrome 80+, Firefox 113+ have it)");
    }
    bytes = await new Response(new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"))).arrayBuffer();
  }
  if (await sha256(bytes) !== entry.sha256) {
    throw new BundleError(`${entry.file}: not the vendored onnxruntime-web wasm (sha256 differs)`);
  }
  return bytes;
}

/** Load manifest + graphs from `dir`; resolves to {manifest, classify, anomaly, loadMs}. */
export async function loadModel(dir, ortDir, wasm) {
  const t0 = performance.now();
  if (!globalThis.crypto || !crypto.subtle) {
    throw new BundleError("this page is not in a secure context (HTTPS or localhost): the browser offers no " +
      "SubtleCrypto to check the graphs' sha256 (and no motion sensors). Open it over HTTPS.");
  }
  const manifest = JSON.parse(new TextDecoder().decode(await fetchBytes(`${dir}/manifest.json`)));
  if (!manifest.channels || !manifest.window || !manifest.hop) {
    throw new BundleError("this bundle has no stream metadata (channels, window, hop): the page is for sensor bundles");
  }
  ort.env.wasm.numThreads = 1; // one thread: no SharedArrayBuffer, no cross-origin isolation needed
  ort.env.wasm.proxy = false;
  ort.env.wasm.wasmPaths = new URL(`${ortDir}/`, location.href).href;
  ort.env.wasm.wasmBinary = await wasmBinary(wasm);
  const sessions = {};
  for (const name of ["classifier", "anomaly"]) {
    const entry = (manifest.graphs || {})[name];
    if (!entry) continue;
    const bytes = await verified(dir, name, entry);
    sessions[name] = await ort.InferenceSession.create(bytes, { executionProviders: ["wasm"] });
  }
  if (!sessions.classifier && !sessions.anomaly) {
    throw new BundleError("this bundle has neither a classifier nor an anomaly graph: nothing to stream");
  }
  const [W, C, K] = [manifest.window, manifest.channels.length, manifest.classes.length];
  const run = (name, output, width) => async (x, n) => {
    const out = (await sessions[name].run({ x: new ort.Tensor("float32", x, [n, W, C]) }))[output];
    if (out.data.length !== n * width) throw new BundleError(`${name}: '${output}' has ${out.data.length} values, expected ${n * width}`);
    return out.data;
  };
  return {
    manifest,
    classify: sessions.classifier ? run("classifier", "probs", K) : null,
    anomaly: sessions.anomaly ? run("anomaly", "score", 1) : null,
    loadMs: performance.now() - t0,
  };
}
