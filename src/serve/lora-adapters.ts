// The server's run-time LoRA adapters, as llama.cpp's server keeps them: loaded once with the model,
// numbered 0, 1, … in load order, each with a default scale that requests naming no adapters run
// with. GET /lora-adapters lists them; POST /lora-adapters [{ id, scale }] sets the defaults (the
// adapters it leaves out go to 0, as a request's own `lora` leaves them off).
import type { LoraOption, LoraRequest } from '../lora.js';
import { badRequest } from './http-error.js';

/** One entry of GET /lora-adapters. */
export interface AdapterListing {
  readonly id: number;
  readonly path: string;
  readonly scale: number;
  /** The name requests may use besides the number (the API's `id` of a lora entry). */
  readonly name?: string;
}

export class ServerLoras {
  private scales: number[];

  /** `adapters`: the model's run-time adapters; `scales`: the defaults they start with. */
  constructor(private readonly adapters: readonly LoraOption[], scales: ArrayLike<number>) {
    this.scales = Array.from(scales);
  }

  list(): AdapterListing[] {
    return this.adapters.map((a, id) => ({ id, path: a.path, scale: this.scales[id], ...(a.id !== undefined ? { name: a.id } : {}) }));
  }

  /**
   * The `lora` a request naming none runs with: every adapter at its default scale, spelled out so
   * that a later POST does not change a request already running (undefined without adapters).
   */
  requestDefaults(): LoraRequest[] | undefined {
    return this.adapters.length ? this.scales.map((scale, id) => ({ id, scale })) : undefined;
  }

  /** POST /lora-adapters: checks the whole body first (400 naming the item), then sets the defaults. */
  setDefaults(body: unknown): void {
    if (!Array.isArray(body)) throw badRequest('the body must be a JSON list of { "id": adapter number, "scale": number } (GET /lora-adapters lists the ids)');
    const scales = this.adapters.map(() => 0);
    for (const [i, item] of body.entries()) {
      if (typeof item !== 'object' || item === null || Array.isArray(item)) throw badRequest(`item ${i} must be { "id": adapter number, "scale": number }`, `[${i}]`);
      const { id, scale } = item as { id?: unknown; scale?: unknown };
      const at = typeof id === 'number' ? (Number.isInteger(id) && id >= 0 && id < this.adapters.length ? id : -1)
        : typeof id === 'string' ? this.adapters.findIndex((a) => a.id === id) : -1;
      if (at < 0) throw badRequest(`[${i}].id ${JSON.stringify(id) ?? 'is missing and'} names no loaded adapter (known: ${this.known()})`, `[${i}].id`);
      if (typeof scale !== 'number' || !Number.isFinite(scale)) throw badRequest(`[${i}].scale must be a finite number, got ${JSON.stringify(scale) ?? 'nothing'}`, `[${i}].scale`);
      scales[at] = scale;
    }
    this.scales = scales;
  }

  private known(): string {
    if (!this.adapters.length) return 'none: start the server with --lora PATH[:SCALE]';
    return this.adapters.map((a, id) => (a.id !== undefined ? `${id} (${a.id})` : String(id))).join(', ');
  }
}
