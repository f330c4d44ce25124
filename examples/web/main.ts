// The demo page: open an artifact (dropped folder, picked folder, or URL), stream a story with
// tokens/s, show the backend and why, and the compiled IR. Built by `npm run build:web`.
// The engine runs in a dedicated worker (dist/worker.js, bundled beside this script) unless the
// query says engine=page. The page's state is exposed as window.tessera for the browser tests and
// bench/web.mjs.
import { type DownloadEvent, Encoder, Model, WorkerEncoder, WorkerModel } from '../../src/web/index.js';

/** The engine worker's script, built from src/web/worker-entry.ts by `npm run build:web`. */
const WORKER = new URL('./worker.js', import.meta.url);

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
let model: Model | WorkerModel | undefined;
/** ms since navigation: this script started, the last model finished opening (bench/web.mjs reads them). */
const timings = { scriptStart: performance.now(), opened: 0 };

interface DemoRun {
  text: string;
  ids: number[];
  prefillTokensPerSecond: number;
  decodeTokensPerSecond: number;
  /** From tell() to the first token, and from the page's navigation to it (performance.now()). */
  firstTokenMs: number;
  firstTokenSinceNavigationMs: number;
}

function progress(e: DownloadEvent | { phase: string; done: number; total: number; unit: string }): void {
  const bar = $<HTMLProgressElement>('progress');
  bar.max = Math.max(1, e.total);
  bar.value = e.done;
  const mib = (n: number) => (n / 2 ** 20).toFixed(2);
  $('status').textContent = e.unit === 'bytes' ? `${e.phase}: ${mib(e.done)} / ${mib(e.total)} MiB${'cached' in e && e.cached ? ` (${mib(e.cached)} MiB from the cache)` : ''}` : `${e.phase}: ${e.done} / ${e.total} ${e.unit}`;
}

function options() {
  const threads = Number($<HTMLInputElement>('threads').value);
  return {
    backend: $<HTMLSelectElement>('backend-choice').value as 'auto' | 'wasm' | 'webgpu',
    allowSoftwareGpu: $<HTMLInputElement>('software').checked,
    ...(threads > 0 ? { threads } : {}),
    progress,
  };
}

async function open(source: Parameters<typeof Model.open>[0], name: string): Promise<Model | WorkerModel> {
  await model?.dispose();
  model = undefined;
  $<HTMLButtonElement>('go').disabled = true;
  $('status').textContent = `opening ${name}…`;
  try {
    model = engine === 'page' ? await Model.open(source, options()) : await WorkerModel.open(WORKER, source, options());
    timings.opened = performance.now();
  } catch (e) {
    $('status').textContent = `${(e as Error).name}: ${(e as Error).message}`;
    throw e;
  }
  $('status').textContent = `${name}: ${model.config.family}, ${model.config.numLayers} layers, vocabulary ${model.config.vocabSize}`;
  $('backend').textContent = model.backendReason;
  $('ir').textContent = model.ir('last');
  $<HTMLButtonElement>('go').disabled = false;
  return model;
}

async function tell(prompt: string, maxTokens: number): Promise<DemoRun> {
  if (!model) throw new Error('no model is open');
  const story = $('story');
  story.textContent = prompt;
  let text = '';
  const ids: number[] = [];
  const start = performance.now();
  let first = 0;
  const stream = model.generate(prompt, { maxTokens });
  for (;;) {
    const r = await stream.next();
    if (r.done) {
      const s = r.value;
      const run = { text, ids, prefillTokensPerSecond: s.prefillTokensPerSecond, decodeTokensPerSecond: s.decodeTokensPerSecond, firstTokenMs: first - start, firstTokenSinceNavigationMs: first };
      $('speed').textContent = `prefill ${s.prefillTokensPerSecond.toFixed(0)} tok/s · decode ${s.decodeTokensPerSecond.toFixed(1)} tok/s · ${s.generatedTokens} tokens`;
      return run;
    }
    if (!first) first = performance.now();
    if (r.value.id >= 0) ids.push(r.value.id);
    text += r.value.text;
    story.textContent = prompt + text;
    $('speed').textContent = `${ids.length} tokens · ${(ids.length / ((performance.now() - first) / 1000 || 1)).toFixed(1)} tok/s`;
  }
}

/** A dropped or picked folder's files, named relative to the folder (its first path segment dropped). */
function folderFiles(files: Iterable<File & { readonly relativePath?: string }>): Map<string, Blob> {
  const out = new Map<string, Blob>();
  for (const f of files) {
    const path = (f.relativePath ?? f.webkitRelativePath) || f.name;
    out.set(path.includes('/') ? path.slice(path.indexOf('/') + 1) : path, f);
  }
  return out;
}

async function droppedFiles(items: DataTransferItemList): Promise<{ map: Map<string, Blob>; name: string }> {
  const files: (File & { relativePath: string })[] = [];
  const walk = async (entry: FileSystemEntry, path: string): Promise<void> => {
    if (entry.isFile) {
      const f = await new Promise<File>((ok, fail) => (entry as FileSystemFileEntry).file(ok, fail));
      files.push(Object.assign(f, { relativePath: path }));
      return;
    }
    const reader = (entry as FileSystemDirectoryEntry).createReader();
    for (;;) {
      const batch = await new Promise<FileSystemEntry[]>((ok, fail) => reader.readEntries(ok, fail));
      if (!batch.length) break;
      for (const e of batch) await walk(e, `${path}/${e.name}`);
    }
  };
  const root = items[0]?.webkitGetAsEntry();
  if (!root) throw new Error('drop a folder');
  await walk(root, root.name);
  return { map: folderFiles(files), name: root.name };
}

const drop = $('drop');
drop.addEventListener('dragover', (e) => { e.preventDefault(); drop.classList.add('over'); });
drop.addEventListener('dragleave', () => drop.classList.remove('over'));
drop.addEventListener('drop', (e) => {
  e.preventDefault();
  drop.classList.remove('over');
  if (e.dataTransfer) void droppedFiles(e.dataTransfer.items).then(({ map, name }) => open(map, name));
});
$('pick').addEventListener('click', () => $<HTMLInputElement>('files').click());
$('files').addEventListener('change', () => {
  const list = $<HTMLInputElement>('files').files;
  if (list?.length) void open(folderFiles(Array.from(list)), list[0].webkitRelativePath.split('/')[0]);
});
$('load-url').addEventListener('click', () => void open($<HTMLInputElement>('url').value, $<HTMLInputElement>('url').value));
$('go').addEventListener('click', () => void tell($<HTMLInputElement>('prompt').value, Number($<HTMLInputElement>('max').value)));

// ?model=URL opens an artifact on arrival (the tests and bench/web.mjs use it with &backend=&threads=).
const query = new URLSearchParams(location.search);
const engine = query.get('engine') === 'page' ? 'page' : 'worker';
for (const [key, id] of [['backend', 'backend-choice'], ['threads', 'threads']] as const) {
  const v = query.get(key);
  if (v) $<HTMLInputElement>(id).value = v;
}
if (query.get('software') === '1') $<HTMLInputElement>('software').checked = true;
const ready = query.get('model') ? open(query.get('model')!, query.get('model')!) : Promise.resolve(undefined);
$<HTMLInputElement>('url').value = query.get('model') ?? '';

Object.assign(globalThis, { tessera: { Model, Encoder, WorkerModel, WorkerEncoder, WORKER, engine, ready, open, tell, timings, get model() { return model; } } });
