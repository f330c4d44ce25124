// Run in a fresh process (by test/codegen/compile-cache.test.ts): compiles one AssemblyScript
// source through the built package's asc wrapper (and so through the disk cache named by
// TESSERA_CACHE_DIR) and prints {"bytes": N}. Two of these at once test concurrent writers.
import { compileAssemblyScript } from '../../dist/codegen/wasm/asc.js';

const compiled = await compileAssemblyScript(process.argv[2], { optimizeLevel: 0 });
process.stdout.write(`${JSON.stringify({ bytes: compiled.binary.length, cached: compiled.cached })}\n`);
