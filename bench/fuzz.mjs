#!/usr/bin/env node
// Fuzzes the model readers through the public API (dist/): mutated GGUF, safetensors, llama2.c,
// config.json, tokenizer files, text IR and compiled-artifact manifests, built from the small
// shared models and written to a temporary folder (removed afterwards). Each input runs in a
// child process with a timeout — open it on the reference backend, one short logits call, the
// `info` description — and is classified:
//   typed     a TesseraError (the input's fault, said so)
//   internal  any other exception (our bug)
//   hang      no answer within --timeout
//   crash     the child died
//   accepted  opened and produced output (nan: the logits held NaN/Inf)
// Usage: node bench/fuzz.mjs [--seconds 120] [--count 6000] [--timeout 20000] [--jobs 2] [--seed 1]
//        [--readers gguf,safetensors,…] [--show 3]
// Build dist first: npx tsc -p tsconfig.json. Exit status 1 when any internal error, hang,
// crash or NaN output was seen.
import { fork } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(root, 'dist', 'src', 'index.js');
const shared = process.env.TESSERA_SHARED ?? resolve(root, '..', 'shared');

if (process.argv[2] === '--worker') await worker();
else await main();

// ---------------------------------------------------------------------------------------------
// Parent: generate, dispatch, classify, report.

function parseArgs() {
  const opts = { seconds: 120, count: 6000, timeout: 20000, jobs: 2, seed: 1, readers: undefined, show: 3 };
  const args = process.argv.slice(2);
  for (let i = 0; i < args.length; i++) {
    const key = args[i].replace(/^--/, '');
    if (!(key in opts)) fail(`unknown option ${args[i]} (options: ${Object.keys(opts).map((k) => `--${k}`).join(', ')})`);
    const v = args[++i];
    if (v === undefined) fail(`${args[i - 1]} needs a value`);
    if (key === 'readers') opts.readers = v.split(',');
    else {
      const n = Number(v);
      if (!Number.isInteger(n) || n < (key === 'seed' ? 0 : 1)) fail(`${args[i - 1]} must be a whole number${key === 'seed' ? '' : ' ≥ 1'}, got '${v}'`);
      opts[key] = n;
    }
  }
  return opts;
}

function fail(msg) {
  console.error(`fuzz: ${msg}`);
  process.exit(2);
}

/** A small deterministic PRNG (mulberry32), so a seed reproduces a campaign. */
function rng(seed) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (lo, hi) => lo + Math.floor(next() * (hi - lo + 1));
  const pick = (xs) => xs[Math.floor(next() * xs.length)];
  return { next, int, pick };
}

async function main() {
  const opts = parseArgs();
  if (!existsSync(dist)) fail(`${dist} is missing: build with npx tsc -p tsconfig.json`);
  const need = ['models/stories260K/stories260K.gguf', 'models/stories260K/stories260K.bin', 'models/stories260K/tok512.bin', 'models/tinystories-656k/model.safetensors', 'refs/llama/model.safetensors'];
  for (const n of need) if (!existsSync(join(shared, n))) fail(`shared file ${join(shared, n)} is missing (set TESSERA_SHARED)`);
  const work = mkdtempSync(join(tmpdir(), 'tessera-fuzz-'));
  const r = rng(opts.seed);
  const started = Date.now();
  const deadline = started + opts.seconds * 1000;
  try {
    const base = await prepareBases(work);
    const makers = mutators(base, r, work);
    const readers = opts.readers ?? Object.keys(makers);
    for (const name of readers) if (!makers[name]) fail(`unknown reader '${name}' (readers: ${Object.keys(makers).join(', ')})`);
    const stats = Object.fromEntries(readers.map((n) => [n, { tried: 0, typed: 0, internal: 0, hang: 0, crash: 0, accepted: 0, nan: 0, samples: {} }]));
    let made = 0;
    // Round-robin over readers so a short budget still covers all of them.
    const nextJob = () => {
      if (made >= opts.count || Date.now() > deadline) return undefined;
      const reader = readers[made % readers.length];
      const id = made++;
      return { id, reader, ...makers[reader](id) };
    };
    await runPool(opts, nextJob, (job, outcome) => {
      const s = stats[job.reader];
      s.tried++;
      s[outcome.status]++;
      if (outcome.nan) s.nan++;
      if (outcome.status !== 'typed' && outcome.status !== 'accepted' || outcome.nan) {
        const key = `${outcome.status}: ${outcome.detail ?? ''}`.slice(0, 240);
        s.samples[key] ??= { count: 0, mutation: job.mutation };
        s.samples[key].count++;
      }
      if (job.dir) rmSync(job.dir, { recursive: true, force: true });
    });
    report(stats, opts, (Date.now() - started) / 1000);
    const bad = Object.values(stats).reduce((n, s) => n + s.internal + s.hang + s.crash + s.nan, 0);
    process.exitCode = bad > 0 ? 1 : 0;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

function report(stats, opts, seconds) {
  const cols = ['tried', 'typed', 'internal', 'hang', 'crash', 'accepted', 'nan'];
  const rows = Object.entries(stats);
  const total = Object.fromEntries(cols.map((c) => [c, rows.reduce((n, [, s]) => n + s[c], 0)]));
  const w = Math.max(8, ...rows.map(([n]) => n.length));
  const line = (name, s) => `${name.padEnd(w)} ${cols.map((c) => String(s[c]).padStart(9)).join('')}`;
  console.log(`\nfuzz: ${total.tried} inputs in ${seconds.toFixed(0)} s (seed ${opts.seed}, timeout ${opts.timeout} ms, ${opts.jobs} jobs)\n`);
  console.log(`${'reader'.padEnd(w)} ${cols.map((c) => c.padStart(9)).join('')}`);
  for (const [name, s] of rows) console.log(line(name, s));
  console.log(line('total', total));
  for (const [name, s] of rows) {
    const samples = Object.entries(s.samples).sort((a, b) => b[1].count - a[1].count).slice(0, opts.show);
    if (!samples.length) continue;
    console.log(`\n${name}: findings (most frequent first)`);
    for (const [what, { count, mutation }] of samples) console.log(`  ${count}× ${what}\n     e.g. after ${mutation}`);
  }
}

/** Runs jobs on `opts.jobs` children; a child that hangs is killed and replaced. */
async function runPool(opts, nextJob, done) {
  const runOne = () => new Promise((resolveLane) => {
    let child;
    let current;
    let timer;
    const spawn = () => {
      child = fork(fileURLToPath(import.meta.url), ['--worker'], { stdio: ['ignore', 'ignore', 'pipe', 'ipc'], execArgv: ['--max-old-space-size=2048'] });
      let stderr = '';
      child.stderr.on('data', (d) => { stderr = (stderr + d).slice(-400); });
      child.on('message', (m) => {
        if (!current || m.id !== current.id) return;
        clearTimeout(timer);
        const job = current;
        current = undefined;
        done(job, m);
        feed();
      });
      child.on('exit', (code, signal) => {
        if (current) {
          clearTimeout(timer);
          const job = current;
          current = undefined;
          done(job, { status: signal === 'SIGKILL' && job.timedOut ? 'hang' : 'crash', detail: job.timedOut ? `no answer in ${opts.timeout} ms` : `exit ${code ?? signal}: ${stderr.trim().split('\n').pop() ?? ''}` });
          spawn();
          feed();
        }
      });
    };
    const feed = () => {
      const job = nextJob();
      if (!job) {
        child.kill();
        resolveLane();
        return;
      }
      current = job;
      timer = setTimeout(() => { job.timedOut = true; child.kill('SIGKILL'); }, opts.timeout);
      child.send({ id: job.id, reader: job.reader, run: job.run });
    };
    spawn();
    feed();
  });
  await Promise.all(Array.from({ length: opts.jobs }, runOne));
}

// ---------------------------------------------------------------------------------------------
// Inputs: the unmutated bases, then one mutator per reader. A mutator returns
// { mutation: what was done, run: what the worker does, dir?: a folder to remove afterwards }.

async function prepareBases(work) {
  const api = await import(dist);
  const base = {
    gguf: readFileSync(join(shared, 'models/stories260K/stories260K.gguf')),
    gguf8: existsSync(join(shared, 'models/tinystories-656k/TinyStories-656K-Q8_0.gguf')) ? readFileSync(join(shared, 'models/tinystories-656k/TinyStories-656K-Q8_0.gguf')) : undefined,
    bin: readFileSync(join(shared, 'models/stories260K/stories260K.bin')),
    tok512: readFileSync(join(shared, 'models/stories260K/tok512.bin')),
    hfDir: join(shared, 'models/tinystories-656k'),
    refs: readdirSync(join(shared, 'refs')).filter((d) => existsSync(join(shared, 'refs', d, 'config.json')) && existsSync(join(shared, 'refs', d, 'model.safetensors'))),
  };
  // Text IR: the printed step graph of a small decoder.
  const m = api.Model.load(join(shared, 'models/stories260K/stories260K.bin'));
  base.ir = api.ir.printGraph(m.graph({ logits: 'last' }));
  await m.dispose();
  // A compiled artifact (WGSL kernels only: fast to make, and the reference backend runs it).
  base.artifact = join(work, 'artifact');
  try {
    await api.compile(join(shared, 'models/stories260K/stories260K.bin'), { out: base.artifact, targets: ['webgpu'] });
  } catch (e) {
    console.error(`fuzz: could not compile the artifact base (${e.message}); skipping the artifact reader`);
    base.artifact = undefined;
  }
  return base;
}

function mutators(base, r, work) {
  const fresh = (id) => {
    const dir = join(work, `in-${id}`);
    mkdirSync(dir);
    return dir;
  };
  const write = (dir, name, bytes) => {
    const p = join(dir, name);
    writeFileSync(p, bytes);
    return p;
  };
  const u64Values = [0n, 1n, 2n, 255n, 1n << 20n, 1n << 32n, 1n << 53n, 1n << 63n, (1n << 64n) - 1n];
  const u32Values = [0, 1, 2, 3, 7, 255, 65535, 1_000_000, 2 ** 31 - 1, 2 ** 31, 2 ** 32 - 1];
  const flip = (bytes, n) => {
    const b = Buffer.from(bytes);
    for (let i = 0; i < n; i++) b[r.int(0, b.length - 1)] = r.int(0, 255);
    return b;
  };
  const model = (path, extra = {}) => ({ kind: 'model', path, ...extra });

  const gguf = (id) => {
    const src = base.gguf8 && r.next() < 0.3 ? base.gguf8 : base.gguf;
    const b = Buffer.from(src);
    const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
    const ggufKeys = ggufU32Keys(b);
    const tensors = ggufTensorTypes(b);
    let mutation;
    switch (r.int(0, 6)) {
      case 0: { const v = r.pick(u64Values); const at = r.pick([8, 16]); dv.setBigUint64(at, v, true); mutation = `${at === 8 ? 'tensor' : 'metadata'} count = ${v}`; break; }
      case 1: { const k = r.pick(ggufKeys); const v = r.pick(u32Values); dv.setUint32(k.at, v, true); mutation = `${k.key} = ${v}`; break; }
      case 2: { const k = r.pick(ggufKeys); const t = r.int(0, 12); dv.setUint32(k.at - 4, t, true); mutation = `${k.key} value type → ${t}`; break; }
      case 3: { const t = r.pick(tensors); const ty = r.pick([0, 1, 2, 3, 6, 8, 10, 12, 14, 20, 24, 26, 28, 30, 39, 99]); dv.setUint32(t.at, ty, true); mutation = `tensor ${t.name} ggml type → ${ty}`; break; }
      case 4: { const k = r.pick(ggufKeys); const d = r.pick([-3, -1, 1, 2, 8, 1000]); const lenAt = k.keyAt - 8; dv.setBigUint64(lenAt, BigInt(Math.max(0, Number(dv.getBigUint64(lenAt, true)) + d)), true); mutation = `key length of ${k.key} shifted by ${d}`; break; }
      case 5: { const n = r.int(0, b.length - 1); mutation = `truncated to ${n} bytes`; return { mutation, dir: fresh(id), run: model(write(join(work, `in-${id}`), 'm.gguf', b.subarray(0, n))) }; }
      default: { const n = r.int(1, 8); mutation = `${n} random byte flips`; const dir = fresh(id); return { mutation, dir, run: model(write(dir, 'm.gguf', flip(b, n))) }; }
    }
    const dir = fresh(id);
    return { mutation, dir, run: model(write(dir, 'm.gguf', b)) };
  };

  const safetensors = (id) => {
    const useRef = base.refs.length && r.next() < 0.5;
    const from = useRef ? join(shared, 'refs', r.pick(base.refs)) : base.hfDir;
    const st = readFileSync(join(from, 'model.safetensors'));
    const n = Number(st.readBigUInt64LE(0));
    let header = st.subarray(8, 8 + n).toString('utf8');
    let data = st.subarray(8 + n);
    let len = n;
    let mutation;
    switch (r.int(0, 5)) {
      case 0: { const d = r.pick([-64, -8, -1, 1, 8, 64, 4096]); len = Math.max(0, n + d); mutation = `header length ${n} → ${len}`; break; }
      case 1: { const dt = r.pick(['F16', 'BF16', 'I32', 'U32', 'F64', 'I64', 'U8', 'I8', 'BOOL', 'F8_E4M3', 'X']); let i = -1; const which = r.int(0, 40); header = header.replace(/"dtype":"[A-Z0-9_]+"/g, (m) => (++i === which ? `"dtype":"${dt}"` : m)); mutation = `dtype #${which} → ${dt}`; break; }
      case 2: { const d = r.pick([-4096, -4, -2, 2, 4, 4096]); let i = -1; const which = r.int(0, 40); header = header.replace(/"data_offsets":\[(\d+),(\d+)\]/g, (m, a, c) => (++i === which ? `"data_offsets":[${Math.max(0, +a + d)},${Math.max(0, +c + d)}]` : m)); mutation = `offsets of tensor #${which} shifted by ${d}`; break; }
      case 3: { let i = -1; const which = r.int(0, 40); const v = r.pick(['[]', '[0]', '[1,1]', '[-1]', '[1e9]', '[2,3,4,5,6]']); header = header.replace(/"shape":\[[^\]]*\]/g, (m) => (++i === which ? `"shape":${v}` : m)); mutation = `shape #${which} → ${v}`; break; }
      case 4: { const cut = r.int(0, data.length); data = data.subarray(0, cut); mutation = `data truncated to ${cut} bytes`; break; }
      default: { const hb = flip(Buffer.from(header), r.int(1, 4)); header = hb.toString('latin1'); mutation = 'header byte flips'; }
    }
    const hbytes = Buffer.from(header, mutation === 'header byte flips' ? 'latin1' : 'utf8');
    const out = Buffer.alloc(8 + hbytes.length + data.length);
    out.writeBigUInt64LE(BigInt(mutation.startsWith('header length') ? len : hbytes.length), 0);
    hbytes.copy(out, 8);
    data.copy(out, 8 + hbytes.length);
    const dir = fresh(id);
    copyFileSync(join(from, 'config.json'), join(dir, 'config.json'));
    writeFileSync(join(dir, 'model.safetensors'), out);
    return { mutation: `${from.split('/').pop()}: ${mutation}`, dir, run: model(dir) };
  };

  const llama2c = (id) => {
    const b = Buffer.from(base.bin);
    let mutation;
    switch (r.int(0, 2)) {
      case 0: { const f = r.int(0, 6); const v = r.pick([0, -1, -512, 1, 2, 3, 7, 1 << 24, 2 ** 31 - 1, -(2 ** 31), r.int(-1000, 1000)]); b.writeInt32LE(v, f * 4); mutation = `header field ${['dim', 'hidden_dim', 'n_layers', 'n_heads', 'n_kv_heads', 'vocab_size', 'seq_len'][f]} = ${v}`; break; }
      case 1: { const n = r.int(0, b.length); mutation = `truncated to ${n} bytes`; const dir = fresh(id); return { mutation, dir, run: model(write(dir, 'm.bin', b.subarray(0, n)), { tokenizer: join(shared, 'models/stories260K/tok512.bin') }) }; }
      default: { const n = r.int(1, 16); const out = flip(b, n); mutation = `${n} byte flips (weights: NaN possible)`; const dir = fresh(id); return { mutation, dir, run: model(write(dir, 'm.bin', out), { tokenizer: join(shared, 'models/stories260K/tok512.bin') }) }; }
    }
    const dir = fresh(id);
    return { mutation, dir, run: model(write(dir, 'm.bin', b), { tokenizer: join(shared, 'models/stories260K/tok512.bin') }) };
  };

  const config = (id) => {
    const arch = base.refs.length ? r.pick(base.refs) : undefined;
    const from = arch ? join(shared, 'refs', arch) : base.hfDir;
    const c = JSON.parse(readFileSync(join(from, 'config.json'), 'utf8'));
    const key = r.pick(Object.keys(c));
    const value = r.pick([-512, -1, 0, 0.5, 1e-30, 1e308, 2 ** 53, 'x', null, true, [], {}, [1, 2], 'NaN', '__delete__']);
    let text;
    if (value === '__delete__') { delete c[key]; text = JSON.stringify(c); } else if (value === 'NaN') { c[key] = 1; text = JSON.stringify(c).replace(`"${key}":1`, `"${key}":1e999`); } else { c[key] = value; text = JSON.stringify(c); }
    const dir = fresh(id);
    writeFileSync(join(dir, 'config.json'), text);
    symlinkSync(join(from, 'model.safetensors'), join(dir, 'model.safetensors'));
    return { mutation: `${arch ?? 'tinystories-656k'}: ${key} = ${value === 'NaN' ? 'Infinity (1e999)' : JSON.stringify(value)}`, dir, run: model(dir) };
  };

  const tokenizer = (id) => {
    const dir = fresh(id);
    if (r.next() < 0.5) {
      const b = Buffer.from(base.tok512);
      let mutation;
      const which = r.int(0, 2);
      if (which === 0) { const n = r.int(0, b.length); mutation = `tok512.bin truncated to ${n}`; write(dir, 'tok.bin', b.subarray(0, n)); }
      else if (which === 1) { const n = r.int(1, 8); mutation = `tok512.bin: ${n} byte flips`; write(dir, 'tok.bin', flip(b, n)); }
      else { mutation = 'tokenizer of another model (32000 tokens) for a 512-token model'; copyFileSync(join(shared, 'models/llama2c-vocab/tokenizer.bin'), join(dir, 'tok.bin')); }
      return { mutation, dir, run: { kind: 'tokenizer', path: join(shared, 'models/stories260K/stories260K.bin'), tokenizer: join(dir, 'tok.bin') } };
    }
    const t = JSON.parse(readFileSync(join(base.hfDir, 'tokenizer.json'), 'utf8'));
    let mutation;
    switch (r.int(0, 4)) {
      case 0: { const ks = Object.keys(t.model.vocab); const k = r.pick(ks); t.model.vocab[k] = r.pick([-1, 999999, 'x', null, 0]); mutation = `vocab["${k}"] = ${JSON.stringify(t.model.vocab[k])}`; break; }
      case 1: { if (Array.isArray(t.model.merges)) t.model.merges[r.int(0, t.model.merges.length - 1)] = r.pick(['', 'a', 'zz zz zz', 42, null]); mutation = 'a merge replaced'; break; }
      case 2: { t.model.type = r.pick(['WordPiece', 'Unigram', 'X', 1]); mutation = `model.type = ${JSON.stringify(t.model.type)}`; break; }
      case 3: { const k = r.pick(Object.keys(t)); t[k] = r.pick([null, 1, 'x', [], {}]); mutation = `${k} = ${JSON.stringify(t[k])}`; break; }
      default: { const ks = Object.keys(t.model.vocab); for (let i = 0; i < 64; i++) delete t.model.vocab[r.pick(ks)]; mutation = 'up to 64 vocab entries removed'; }
    }
    for (const f of ['config.json', 'model.safetensors', 'tokenizer_config.json', 'special_tokens_map.json', 'generation_config.json']) {
      if (existsSync(join(base.hfDir, f))) symlinkSync(join(base.hfDir, f), join(dir, f));
    }
    writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(t));
    return { mutation: `tokenizer.json: ${mutation}`, dir, run: { kind: 'tokenizer', path: dir } };
  };

  const irText = () => {
    const text = base.ir;
    let out = text;
    let mutation;
    switch (r.int(0, 4)) {
      case 0: { const n = r.int(1, 5); const cs = [...text]; for (let i = 0; i < n; i++) cs[r.int(0, cs.length - 1)] = r.pick(['%', '{', '}', '(', ')', '[', ']', ',', '0', '-', 'S', ' ', '\n', 'nan', '@', '"', '=']); out = cs.join(''); mutation = `${n} character edits`; break; }
      case 1: { const lines = text.split('\n'); const i = r.int(1, lines.length - 2); lines.splice(i, 1); out = lines.join('\n'); mutation = `line ${i + 1} deleted`; break; }
      case 2: { out = text.replace(/eps = [^,}]+/, `eps = ${r.pick(['0', '-1e-5', 'nan', 'inf'])}`); mutation = 'eps edited'; break; }
      case 3: { out = text.replace(/scale = [^,}]+/, `scale = ${r.pick(['0', 'nan', '-inf'])}`); mutation = 'attention scale edited'; break; }
      default: { const n = r.int(0, text.length); out = text.slice(0, n); mutation = `truncated to ${n} chars`; }
    }
    return { mutation, run: { kind: 'ir', text: out } };
  };

  const artifact = (id) => {
    const dir = fresh(id);
    const art = join(dir, 'art');
    copyDir(base.artifact, art);
    const manifest = JSON.parse(readFileSync(join(art, 'manifest.json'), 'utf8'));
    const mutation = editManifest(manifest, r);
    writeFileSync(join(art, 'manifest.json'), JSON.stringify(manifest, null, 2));
    return { mutation: `manifest: ${mutation}`, dir, run: model(art) };
  };

  const all = { gguf, safetensors, llama2c, config, tokenizer, ir: irText };
  if (base.artifact) all.artifact = artifact;
  return all;
}

/** One edit of a compiled artifact's manifest; returns what it did. */
function editManifest(manifest, r) {
  const programs = Object.entries(manifest.targets ?? {}).flatMap(([t, v]) => Object.entries(v.programs ?? {}).map(([role, p]) => [`${t}.${role}`, p]));
  const tensors = Object.entries(manifest.weights?.tensors ?? {});
  const graphs = Object.entries(manifest.graphs ?? {});
  switch (r.int(0, 5)) {
    case 0: {
      if (!programs.length) break;
      const [where, p] = r.pick(programs);
      const i = r.int(0, p.nodes.length - 1);
      p.nodes[i].kernels = [];
      return `${where} node ${i}: kernels removed`;
    }
    case 1: {
      const files = manifest.tokenizer?.files;
      if (!files) break;
      const k = r.pick(Object.keys(files));
      const to = r.pick(['../cpu.wasm', '/etc/passwd', '../../manifest.json', 'missing.bin', '']);
      if (typeof files[k] === 'string') files[k] = to; else files[k] = { ...files[k], file: to, path: to };
      return `tokenizer.files.${k} → ${JSON.stringify(to)}`;
    }
    case 2: {
      if (!tensors.length) break;
      const [name, t] = r.pick(tensors);
      const field = r.pick(['offset', 'bytes', 'dtype', 'shape']);
      const old = t[field];
      t[field] = field === 'dtype' ? r.pick(['f16', 'i32', 'q8_0', 'x']) : field === 'shape' ? [1] : old + r.pick([-1, 1, 4, 4096, -old - 1]);
      return `weights.tensors.${name}.${field}: ${JSON.stringify(old)} → ${JSON.stringify(t[field])}`;
    }
    case 3: {
      if (!graphs.length) break;
      const [role, g] = r.pick(graphs);
      const i = r.int(0, g.nodes.length - 1);
      const what = r.pick(['deleted', 'attrs']);
      if (what === 'deleted') g.nodes.splice(i, 1);
      else g.nodes[i].attrs = { ...g.nodes[i].attrs, eps: r.pick([-1, 0, 1e30]), scale: 0 };
      return `graphs.${role} node ${i} ${what === 'deleted' ? 'deleted' : 'attrs set out of range'}`;
    }
    default:
      break;
  }
  // Any leaf value deleted or replaced.
  const paths = [];
  const walk = (o, path) => {
    if (o && typeof o === 'object') for (const [k, v] of Object.entries(o)) walk(v, [...path, k]);
    else paths.push(path);
  };
  walk(manifest, []);
  const path = r.pick(paths);
  let obj = manifest;
  for (const k of path.slice(0, -1)) obj = obj[k];
  const last = path[path.length - 1];
  const old = obj[last];
  if (r.next() < 0.3) delete obj[last];
  else obj[last] = typeof old === 'string' ? r.pick(['../cpu.wasm', '/etc/passwd', '', 'x']) : r.pick([-1, 0, 1e12, 'x', null, []]);
  return `${path.join('.')}: ${JSON.stringify(old)?.slice(0, 40)} → ${last in obj ? JSON.stringify(obj[last]) : 'deleted'}`;
}

function copyDir(from, to) {
  mkdirSync(to, { recursive: true });
  for (const e of readdirSync(from)) {
    const src = join(from, e);
    if (statSync(src).isDirectory()) copyDir(src, join(to, e));
    else copyFileSync(src, join(to, e));
  }
}

/** Positions of u32-typed GGUF metadata values: { key, keyAt (string start), at (value) }. */
function ggufU32Keys(b) {
  const out = [];
  for (const key of ['block_count', 'context_length', 'embedding_length', 'feed_forward_length', 'attention.head_count', 'attention.head_count_kv', 'rope.dimension_count', 'general.alignment', 'tokenizer.ggml.bos_token_id', 'tokenizer.ggml.eos_token_id', 'vocab_size', 'attention.key_length']) {
    let from = 0;
    for (;;) {
      const i = b.indexOf(key, from);
      if (i < 0) break;
      from = i + 1;
      // The full key ends here: its u64 length sits before its first byte.
      let start = i;
      while (start > 0 && b[start - 1] >= 0x2e && b[start - 1] <= 0x7a) start--;
      const end = i + key.length;
      if (start < 8 || Number(b.readBigUInt64LE(start - 8)) !== end - start) continue;
      if (b.readUInt32LE(end) !== 4) continue;
      out.push({ key: b.subarray(start, end).toString(), keyAt: start, at: end + 4 });
    }
  }
  return out.length ? out : [{ key: 'version', keyAt: 8, at: 4 }];
}

/** Positions of the ggml type field of each GGUF tensor info. */
function ggufTensorTypes(b) {
  const out = [];
  for (const suffix of ['.weight']) {
    let from = 0;
    for (;;) {
      const i = b.indexOf(suffix, from);
      if (i < 0) break;
      from = i + 1;
      let start = i;
      while (start > 0 && b[start - 1] >= 0x2e && b[start - 1] <= 0x7a) start--;
      const end = i + suffix.length;
      if (start < 8 || Number(b.readBigUInt64LE(start - 8)) !== end - start || end + 4 > b.length) continue;
      const nDims = b.readUInt32LE(end);
      if (nDims < 1 || nDims > 4) continue;
      out.push({ name: b.subarray(start, end).toString(), at: end + 4 + 8 * nDims });
    }
  }
  return out.length ? out : [{ name: '(none)', at: 4 }];
}

// ---------------------------------------------------------------------------------------------
// Worker: runs one input per message and answers { id, status, nan?, detail? }.

async function worker() {
  const api = await import(dist);
  const { TesseraError } = api;
  process.on('message', async (job) => {
    let answer;
    try {
      answer = { status: 'accepted', ...(await runInput(api, job.run)) };
    } catch (e) {
      const typed = e instanceof TesseraError;
      const where = typed ? '' : ` @ ${(e?.stack ?? '').split('\n').slice(1, 3).map((s) => s.trim()).join(' < ')}`;
      answer = { status: typed ? 'typed' : 'internal', detail: `${e?.name ?? typeof e}: ${String(e?.message ?? e).split('\n')[0]}${where}` };
    }
    process.send({ id: job.id, ...answer });
  });
}

const IDS = [1, 2, 3, 4];

async function runInput(api, run) {
  switch (run.kind) {
    case 'model': {
      const m = api.Model.load(run.path, run.tokenizer ? { tokenizer: run.tokenizer } : {});
      try {
        api.formatModelInfo(api.describeModel(m));
        const ids = IDS.map((i) => i % m.config.vocabSize);
        const logits = await m.logits(ids);
        const bad = logits.findIndex((x) => !Number.isFinite(x));
        return bad < 0 ? {} : { nan: true, detail: `logits[${bad}] = ${logits[bad]}` };
      } finally {
        await m.dispose();
      }
    }
    case 'tokenizer': {
      const m = api.Model.load(run.path, run.tokenizer ? { tokenizer: run.tokenizer } : {});
      try {
        const tok = m.tokenizer;
        const ids = tok.encode('Once upon a time, a little cat saw 3 birds.');
        tok.decode(ids);
        const logits = await m.logits(ids.slice(0, 8));
        const bad = logits.findIndex((x) => !Number.isFinite(x));
        return bad < 0 ? {} : { nan: true, detail: `logits[${bad}] = ${logits[bad]}` };
      } finally {
        await m.dispose();
      }
    }
    case 'ir': {
      // The text parser is loaded on demand (ir.loadParser) where the API has that split.
      const parser = api.ir.loadParser ? await api.ir.loadParser() : api.ir;
      const g = parser.parseGraph(run.text, 'fuzz.ir');
      api.ir.verifyGraph(g, { complete: true });
      return {};
    }
    default:
      throw new Error(`unknown input kind ${run.kind}`);
  }
}
