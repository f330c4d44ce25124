// `tessera cache`: where the compile cache lives, what is in it, and emptying it.
import { clearCache, compileCacheDir, compileCacheEnabled, listCache } from '../../codegen/compile-cache.js';
import { EXIT_OK, UsageError } from './command.js';
import { registerCommand } from './registry.js';

const ACTIONS = ['ls', 'clear', 'path'] as const;

const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(2)} MiB`;

registerCommand({
  name: 'cache',
  summary: 'list, locate or clear the compile cache',
  args: '[ls|clear|path]',
  positionals: { min: 0, max: 1 },
  description: `Compiled WebAssembly modules are kept on disk, keyed by a hash of everything that
determines them (the kernel source, the compiler's version and flags), so the second run of a
model skips the compiler; beside them, which weights of a checkpoint file passed the NaN/Inf
check (verified-weights), so an unchanged file is not scanned again. The folder is $TESSERA_CACHE_DIR, else $XDG_CACHE_HOME/tessera, else
~/.cache/tessera; its size is bounded (least recently used entries go first past
$TESSERA_CACHE_MAX_MB, default 1024). TESSERA_NO_CACHE=1 or --no-cache on a model command turns
it off. Damaged entries are detected by their checksum and rebuilt.`,
  options: {},
  examples: [
    { command: 'tessera cache', says: 'one line per entry (kind, key, size, last use) and the total' },
    { command: 'tessera cache path', says: 'the cache folder' },
    { command: 'tessera cache clear', says: 'removes every entry' },
  ],
  async run(inv, io) {
    const action = inv.positionals[0] ?? 'ls';
    if (!(ACTIONS as readonly string[]).includes(action)) throw new UsageError(`unknown action '${action}' (expected ${ACTIONS.join(', ')})`, inv.command);
    if (action === 'path') {
      io.stdout.write(`${compileCacheDir()}\n`);
    } else if (action === 'clear') {
      io.stdout.write(`removed ${clearCache()} entries from ${compileCacheDir()}\n`);
    } else {
      const entries = listCache();
      for (const e of entries) io.stdout.write(`${e.namespace}\t${e.key.slice(0, 16)}\t${mib(e.bytes)}\t${e.lastUsed.toISOString()}\n`);
      const total = entries.reduce((n, e) => n + e.bytes, 0);
      io.stdout.write(`${entries.length} entries, ${mib(total)} in ${compileCacheDir()}${compileCacheEnabled() ? '' : ' (disabled by TESSERA_NO_CACHE)'}\n`);
    }
    return EXIT_OK;
  },
});
