// How an artifact's files are reached: a folder on disk in Node (node-files.ts), bytes fetched or
// picked in a browser (src/web/). The reader (load.ts) sees only this interface, so checking and
// reading an artifact is one piece of code in both places.
import { ArtifactError } from './manifest.js';

export interface ArtifactFiles {
  /** Names the artifact in errors: its folder or URL. */
  readonly location: string;
  /**
   * The file's size in bytes, or undefined when it is missing. A name that leads outside the
   * artifact throws an ArtifactError naming the manifest `field` that gave it.
   */
  size(file: string, field: string): number | undefined;
  /** The whole file. */
  bytes(file: string): Uint8Array<ArrayBuffer>;
  /** `dest.length` bytes of the file from `offset`, written into `dest`. */
  readInto(file: string, offset: number, dest: Uint8Array): void;
  /** The file's sha256 in hex. */
  sha256(file: string): string;
  /** The file's path on disk, where files have one (Node loads tokenizers by path). */
  path?(file: string): string;
  /**
   * The file compiled as a WebAssembly module, where the source compiles it better than
   * WebAssembly.compile of its bytes would (a browser: streamed from the Cache API, so Chromium
   * keeps the optimized code for the next visit); undefined: compile the bytes.
   */
  compiledWasm?(file: string): Promise<WebAssembly.Module | undefined>;
}

/**
 * Files already in memory with their digests worked out (a browser hashes with SubtleCrypto,
 * which is asynchronous, while fetching; the reader then checks them like any other).
 */
export class MemoryArtifactFiles implements ArtifactFiles {
  constructor(
    readonly location: string,
    private readonly files: ReadonlyMap<string, Uint8Array<ArrayBuffer>>,
    private readonly digests: ReadonlyMap<string, string>,
  ) {}

  size(file: string): number | undefined {
    return this.files.get(file)?.length;
  }

  bytes(file: string): Uint8Array<ArrayBuffer> {
    const b = this.files.get(file);
    if (!b) throw new ArtifactError(this.location, `${file} is missing`);
    return b;
  }

  readInto(file: string, offset: number, dest: Uint8Array): void {
    const b = this.bytes(file);
    if (offset + dest.length > b.length) throw new ArtifactError(this.location, `${file} ends at byte ${b.length}, before ${offset + dest.length}`);
    dest.set(b.subarray(offset, offset + dest.length));
  }

  sha256(file: string): string {
    const d = this.digests.get(file);
    if (d === undefined) throw new ArtifactError(this.location, `${file} was not hashed when it was loaded`);
    return d;
  }
}
