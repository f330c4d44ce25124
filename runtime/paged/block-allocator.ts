// The KV pool's blocks: a free list over block ids 0…total−1. Sequences take blocks as they grow
// and give them back when they end (or are cut back); the allocator only counts, it never moves
// data, so a block given back is reused as it is (the next sequence overwrites the slots it reads).
import { ResourceError } from '../../ir/errors.js';

/** The pool has no free block for a sequence that needs one, and nothing running will free any. */
export class KvCacheFullError extends ResourceError {
  constructor(readonly needed: number, readonly total: number) {
    super(`the KV cache is full: a sequence needs ${needed} more block(s) of the ${total} the pool holds and none will be freed; send shorter requests or raise the pool size (kvBlocks)`);
    this.name = 'KvCacheFullError';
  }
}

export class BlockAllocator {
  private readonly free: number[];
  private readonly taken: Uint8Array;

  constructor(readonly total: number) {
    if (!Number.isInteger(total) || total < 1) throw new RangeError(`a KV pool needs at least one block, got ${total}`);
    // Popped from the end: block 0 first.
    this.free = Array.from({ length: total }, (_, i) => total - 1 - i);
    this.taken = new Uint8Array(total);
  }

  get inUse(): number {
    return this.total - this.free.length;
  }

  get available(): number {
    return this.free.length;
  }

  /** `n` blocks, or undefined (taking none) when fewer are free. */
  take(n: number): number[] | undefined {
    if (n > this.free.length) return undefined;
    const blocks = this.free.splice(this.free.length - n, n).reverse();
    for (const b of blocks) this.taken[b] = 1;
    return blocks;
  }

  give(blocks: readonly number[]): void {
    for (const b of blocks) {
      if (!Number.isInteger(b) || b < 0 || b >= this.total) throw new RangeError(`block ${b} is not in the pool of ${this.total}`);
      if (!this.taken[b]) throw new RangeError(`block ${b} was given back twice`);
      this.taken[b] = 0;
      this.free.push(b);
    }
  }
}
