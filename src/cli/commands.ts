// Every CLI command: one row per command, naming the module that registers it (registerCommand).
// Modules load on demand, so `tessera generate` imports what generating needs and not the
// compiler, the op checker or the benchmark; help and an unknown name load every row.
// A new command is one module in this folder plus its row here.
const COMMAND_MODULES: Readonly<Record<string, () => Promise<unknown>>> = {
  bench: () => import('./bench.js'),
  cache: () => import('./cache.js'),
  chat: () => import('./chat.js'),
  compile: () => import('./compile.js'),
  dump: () => import('./dump.js'),
  embed: () => import('./embed.js'),
  generate: () => import('./generate.js'),
  help: () => import('./help.js'),
  info: () => import('./info.js'),
  logits: () => import('./logits.js'),
  rerank: () => import('./rerank.js'),
  serve: () => import('./serve.js'),
  'serve-static': () => import('./serve-static.js'),
  'test-ops': () => import('./test-ops.js'),
  verify: () => import('./verify.js'),
};

/** Loads the module of command `name`; a name without a row loads nothing (the caller reports it). */
export async function loadCommand(name: string): Promise<void> {
  if (Object.hasOwn(COMMAND_MODULES, name)) await COMMAND_MODULES[name]();
}

/** Loads every command (for help and for the list an unknown name is answered with). */
export async function loadAllCommands(): Promise<void> {
  await Promise.all(Object.values(COMMAND_MODULES).map((load) => load()));
}
