// What the matcher knows of a vocabulary: each token's bytes, and a trie over them laid out in
// depth-first order so a mask is one linear scan that skips dead subtrees. Built once per
// tokenizer (cached) and shared by every grammar.
import type { Tokenizer } from '../../models/tokenizers/tokenizer.js';

export interface TokenVocabulary {
  readonly size: number;
  /** The bytes each token adds in the middle of a text; empty for control tokens. */
  readonly bytes: readonly Uint8Array[];
  readonly trie: TokenTrie;
}

/**
 * Trie nodes in depth-first pre-order; node 0 is the root. A subtree is the index range
 * [i, end[i]), so skipping one is `i = end[i]`. Tokens ending at node i are
 * tokens[tokenStart[i] .. tokenStart[i + 1]).
 */
export interface TokenTrie {
  readonly byte: Uint8Array;
  readonly depth: Int32Array;
  readonly end: Int32Array;
  readonly tokenStart: Int32Array;
  readonly tokens: Int32Array;
  readonly maxDepth: number;
}

const cache = new WeakMap<Tokenizer, TokenVocabulary>();

/** The vocabulary of a tokenizer (built on first use, then cached). */
export function tokenizerVocabulary(tokenizer: Tokenizer, size = tokenizer.vocabSize): TokenVocabulary {
  let v = cache.get(tokenizer);
  if (v === undefined || v.size !== size) {
    v = vocabularyFromBytes(Array.from({ length: size }, (_, id) => (id < tokenizer.vocabSize ? tokenizer.tokenBytes(id) : new Uint8Array(0))));
    cache.set(tokenizer, v);
  }
  return v;
}

export function vocabularyFromBytes(bytes: readonly Uint8Array[]): TokenVocabulary {
  return { size: bytes.length, bytes, trie: buildTrie(bytes) };
}

function buildTrie(bytes: readonly Uint8Array[]): TokenTrie {
  const ids = bytes.map((_, id) => id).filter((id) => bytes[id].length > 0);
  ids.sort((x, y) => compareBytes(bytes[x], bytes[y]) || x - y);
  const byte: number[] = [0];
  const depth: number[] = [0];
  const end: number[] = [0];
  const nodeOf = new Int32Array(ids.length);
  const path: number[] = [0]; // node ids from the root down to the current prefix
  let prev: Uint8Array = new Uint8Array(0);
  ids.forEach((id, k) => {
    const b = bytes[id];
    let common = 0;
    while (common < b.length && common < prev.length && b[common] === prev[common]) common++;
    while (path.length - 1 > common) end[path.pop()!] = byte.length;
    for (let d = common; d < b.length; d++) {
      path.push(byte.length);
      byte.push(b[d]);
      depth.push(d + 1);
      end.push(0);
    }
    nodeOf[k] = path[path.length - 1];
    prev = b;
  });
  while (path.length > 0) end[path.pop()!] = byte.length;
  // Tokens per node, in node order (ids are sorted by bytes, so nodes come in order too).
  const tokenStart = new Int32Array(byte.length + 1);
  for (let k = 0; k < ids.length; k++) tokenStart[nodeOf[k] + 1]++;
  for (let i = 0; i < byte.length; i++) tokenStart[i + 1] += tokenStart[i];
  return {
    byte: Uint8Array.from(byte),
    depth: Int32Array.from(depth),
    end: Int32Array.from(end),
    tokenStart,
    tokens: Int32Array.from(ids),
    maxDepth: Math.max(0, ...depth),
  };
}

function compareBytes(x: Uint8Array, y: Uint8Array): number {
  const n = Math.min(x.length, y.length);
  for (let i = 0; i < n; i++) if (x[i] !== y[i]) return x[i] - y[i];
  return x.length - y.length;
}
