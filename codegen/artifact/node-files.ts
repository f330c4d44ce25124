// An artifact folder on disk (Node): files confined to the folder (no .., no link leading out),
// read with positioned reads, hashed with node:crypto.
import { createHash } from 'node:crypto';
import { closeSync, existsSync, openSync, readFileSync, readSync, realpathSync, statSync } from 'node:fs';
import { isAbsolute, relative, resolve } from 'node:path';
import type { ArtifactFiles } from './files.js';
import { ArtifactError, MANIFEST_FILE } from './manifest.js';

export class DirectoryFiles implements ArtifactFiles {
  constructor(readonly location: string) {}

  /**
   * The path of a file the manifest names (`field` says which), refused if it (or a symbolic link
   * on the way) leads outside the artifact folder.
   */
  path(file: string, field = file): string {
    const dir = this.location;
    const path = resolve(dir, file);
    const inside = (root: string, p: string) => { const r = relative(root, p); return r !== '' && !r.startsWith('..') && !isAbsolute(r); };
    const refuse = (why: string) => new ArtifactError(dir, `${MANIFEST_FILE}: ${field} is ${JSON.stringify(file).slice(0, 60)}, ${why} (a damaged or edited manifest: recompile the model with \`tessera compile\`)`);
    if (!inside(resolve(dir), path)) throw refuse('outside the artifact folder');
    if (existsSync(path) && !inside(realpathSync(dir), realpathSync(path))) throw refuse('a link that leads outside the artifact folder');
    return path;
  }

  size(file: string, field: string): number | undefined {
    const p = this.path(file, field);
    return existsSync(p) ? statSync(p).size : undefined;
  }

  bytes(file: string): Uint8Array<ArrayBuffer> {
    return new Uint8Array(readFileSync(this.path(file)));
  }

  readInto(file: string, offset: number, dest: Uint8Array): void {
    const fd = openSync(this.path(file), 'r');
    try {
      for (let done = 0; done < dest.length;) {
        const n = readSync(fd, dest, done, dest.length - done, offset + done);
        if (n === 0) throw new ArtifactError(this.location, `${file} ends at byte ${offset + done}, before ${offset + dest.length}`);
        done += n;
      }
    } finally {
      closeSync(fd);
    }
  }

  sha256(file: string): string {
    const h = createHash('sha256');
    const fd = openSync(this.path(file), 'r');
    try {
      const buf = new Uint8Array(1 << 22);
      for (let n; (n = readSync(fd, buf, 0, buf.length, null)) > 0;) h.update(buf.subarray(0, n));
    } finally {
      closeSync(fd);
    }
    return h.digest('hex');
  }
}
