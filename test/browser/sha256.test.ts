// The streaming SHA-256 tessera/web hashes weights.bin with, against node:crypto: every length
// around the block and padding edges, and any split of the input into pieces.
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Sha256 } from '../../src/web/sha256.js';

const nodeHex = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

describe('Sha256', () => {
  it('matches node:crypto for every length 0…200 in one piece', () => {
    for (let n = 0; n <= 200; n++) {
      const b = Uint8Array.from({ length: n }, (_, i) => (i * 31 + n) & 255);
      expect(new Sha256().update(b).hex(), `length ${n}`).toBe(nodeHex(b));
    }
  });

  it('matches node:crypto however the input is split', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 600 }), fc.array(fc.nat(600), { maxLength: 6 }), (bytes, cuts) => {
      const at = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
      const h = new Sha256();
      let from = 0;
      for (const c of [...at, bytes.length]) {
        h.update(bytes.subarray(from, c));
        from = c;
      }
      expect(h.hex()).toBe(nodeHex(bytes));
    }));
  });
});
