// Lets a process prove it runs a compiled artifact without compiling: with
// TESSERA_FORBID_COMPILER=1 set, every compiler entry point (graph builders, the pass manager,
// code generators, the AssemblyScript compiler) throws instead of running.

export function assertCompilerAllowed(what: string): void {
  if (typeof process !== 'undefined' && process.env?.TESSERA_FORBID_COMPILER) {
    throw new Error(`the compiler was invoked (${what}) while TESSERA_FORBID_COMPILER is set`);
  }
}
