// Shared assertion: a call fails with a FormatError whose message contains every part.
import { expect } from 'vitest';
import { FormatError } from '../../models/formats/store.js';

export function expectFormatError(fn: () => unknown, ...parts: (string | RegExp)[]): FormatError {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(FormatError);
  for (const p of parts) expect((err as Error).message).toMatch(p);
  return err as FormatError;
}
