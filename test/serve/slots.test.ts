// The slot pool: first come first served, a bounded queue (429), leaving the queue on abort,
// and 503 for everything waiting once it closes.
import { describe, expect, it } from 'vitest';
import { SlotPool } from '../../src/serve/slots.js';

describe('SlotPool', () => {
  it('grants free slots at once, then in arrival order as slots come back', async () => {
    const pool = new SlotPool(['a', 'b'], 3);
    const got = [await pool.acquire(), await pool.acquire()].sort();
    expect(got).toEqual(['a', 'b']);
    const order: string[] = [];
    const waits = [1, 2, 3].map((n) => pool.acquire().then((s) => order.push(`${n}:${s}`)));
    expect(pool.queued).toBe(3);
    await expect(pool.acquire()).rejects.toMatchObject({ status: 429 });
    pool.release('a');
    pool.release('b');
    await Promise.resolve();
    pool.release('a');
    await Promise.all(waits);
    expect(order).toEqual(['1:a', '2:b', '3:a']);
    expect(pool.busy).toBe(2);
  });

  it('a request whose client goes away leaves the queue; close() refuses the waiting and later ones with 503', async () => {
    const pool = new SlotPool(['only'], 5);
    await pool.acquire();
    const ctl = new AbortController();
    const leaving = pool.acquire(ctl.signal);
    const staying = pool.acquire();
    ctl.abort();
    await expect(leaving).rejects.toMatchObject({ status: 499 });
    expect(pool.queued).toBe(1);
    pool.close();
    await expect(staying).rejects.toMatchObject({ status: 503 });
    await expect(pool.acquire()).rejects.toMatchObject({ status: 503 });
  });
});
