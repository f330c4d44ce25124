// The server's table of run-time LoRA adapters (src/serve/lora-adapters.ts) alone: the default
// scales requests naming no adapters get, and POST /lora-adapters bodies as llama.cpp's server
// takes them (left-out adapters go to 0; a bad item is a 400 naming it and changes nothing).
import { describe, expect, it } from 'vitest';
import { HttpError } from '../../src/serve/http-error.js';
import { ServerLoras } from '../../src/serve/lora-adapters.js';

const adapters = [{ path: '/a.gguf', runtime: true }, { path: '/b', runtime: true, id: 'style' }];

function refusal(body: unknown, loras = new ServerLoras(adapters, [1, 0.5])): HttpError {
  try {
    loras.setDefaults(body);
  } catch (e) {
    if (e instanceof HttpError) return e;
    throw e;
  }
  throw new Error(`accepted ${JSON.stringify(body)}`);
}

describe('ServerLoras', () => {
  it('lists ids, paths, scales (and names), and spells the defaults out for requests', () => {
    const loras = new ServerLoras(adapters, Float32Array.of(1, 0.5));
    expect(loras.list()).toEqual([{ id: 0, path: '/a.gguf', scale: 1 }, { id: 1, path: '/b', scale: 0.5, name: 'style' }]);
    expect(loras.requestDefaults()).toEqual([{ id: 0, scale: 1 }, { id: 1, scale: 0.5 }]);
    expect(new ServerLoras([], []).requestDefaults()).toBeUndefined();
  });

  it('a POST sets the listed adapters (by number or name) and turns the others off', () => {
    const loras = new ServerLoras(adapters, [1, 0.5]);
    loras.setDefaults([{ id: 1, scale: 2 }]);
    expect(loras.requestDefaults()).toEqual([{ id: 0, scale: 0 }, { id: 1, scale: 2 }]);
    loras.setDefaults([{ id: 'style', scale: -1 }, { id: 0, scale: 0.25 }]);
    expect(loras.list().map((l) => l.scale)).toEqual([0.25, -1]);
    loras.setDefaults([]);
    expect(loras.list().map((l) => l.scale)).toEqual([0, 0]);
  });

  it('a bad body is a 400 naming the item and field, and leaves the scales as they were', () => {
    const loras = new ServerLoras(adapters, [1, 0.5]);
    const cases: [unknown, string | null, RegExp][] = [
      [{ id: 0, scale: 1 }, null, /must be a JSON list/],
      [[{ id: 0, scale: 1 }, { id: 2, scale: 1 }], '[1].id', /\[1\]\.id 2 names no loaded adapter \(known: 0, 1 \(style\)\)/],
      [[{ id: 'other', scale: 1 }], '[0].id', /"other" names no loaded adapter/],
      [[{ id: 0.5, scale: 1 }], '[0].id', /0\.5 names no loaded adapter/],
      [[{ scale: 1 }], '[0].id', /is missing and names no loaded adapter/],
      [[{ id: 0, scale: null }], '[0].scale', /must be a finite number, got null/],
      [[{ id: 0 }], '[0].scale', /must be a finite number, got nothing/],
      [[null], '[0]', /item 0 must be \{ "id"/],
    ];
    for (const [body, param, message] of cases) {
      const e = refusal(body, loras);
      expect(e.status, JSON.stringify(body)).toBe(400);
      expect(e.body.error).toMatchObject({ type: 'invalid_request_error', param });
      expect(e.message).toMatch(message);
    }
    expect(loras.list().map((l) => l.scale)).toEqual([1, 0.5]);
    expect(refusal([{ id: 0, scale: 1 }], new ServerLoras([], [])).message).toMatch(/known: none: start the server with --lora/);
  });
});
