// `tessera embed` and `tessera rerank`, in-process, on the refs BERT models: the JSON they print
// carries exactly the API's numbers, and bad input gets a clear message and exit code.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli.js';
import { Encoder } from '../../src/encoder.js';
import { copyCheckpoint, writeBertTokenizer } from '../helpers/encoder-fixtures.js';
import { readRef } from '../helpers/refs.js';
import { hasShared, sharedPath } from '../helpers/shared.js';

async function cli(args: string[], cwd: string) {
  let stdout = '', stderr = '';
  const io = { stdout: { write: (s: string) => (stdout += s) }, stderr: { write: (s: string) => (stderr += s) }, cwd, env: {} };
  const code = await main(args, io);
  return { code, stdout, stderr };
}

/** The ref's rows cut to their real tokens, as --ids / --token-types strings and as arrays. */
function refRows(arch: string) {
  const ref = readRef(arch);
  const mask = ref.json.attention_mask as number[][];
  const types = ref.json.token_type_ids as number[][];
  const n = mask.map((m) => m.reduce((s, x) => s + x, 0));
  const ids = ref.inputIds.map((r, b) => r.slice(0, n[b]));
  const tokenTypes = types.map((r, b) => r.slice(0, n[b]));
  const flag = (rows: number[][]) => rows.map((r) => r.join(',')).join(';');
  return { ids, tokenTypes, idsFlag: flag(ids), typesFlag: flag(tokenTypes) };
}

const vectors = (vs: Float32Array[]) => vs.map((v) => Array.from(v));

describe.runIf(hasShared('refs'))('tessera embed / rerank', () => {
  const bert = sharedPath('refs', 'bert');
  const reranker = sharedPath('refs', 'bert_reranker');
  let withTokenizer: string;
  let cwd: string;
  beforeAll(() => {
    cwd = mkdtempSync(join(tmpdir(), 'tessera-cli-enc-'));
    withTokenizer = copyCheckpoint(reranker, join(cwd, 'reranker'), (n) => n);
    writeBertTokenizer(withTokenizer);
  });

  describe('embed', () => {
    const rows = refRows('bert');

    it('prints one vector per --ids row, equal to Encoder.embed', async () => {
      const api = Encoder.load(bert);
      const r = await cli(['embed', '--model', bert, '--backend', 'reference', '--ids', rows.idsFlag, '--token-types', rows.typesFlag], cwd);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(JSON.parse(r.stdout)).toEqual(vectors(await api.embed(rows.ids, { tokenTypes: rows.tokenTypes })));
      expect(r.stdout.split('\n')).toHaveLength(2 + 2 + 1);
      const raw = await cli(['embed', '-m', bert, '--backend', 'reference', '--ids', rows.idsFlag, '--token-types', rows.typesFlag, '--no-normalize'], cwd);
      expect(JSON.parse(raw.stdout)).toEqual(vectors(await api.embed(rows.ids, { tokenTypes: rows.tokenTypes, normalize: false })));
      // Token types default to 0; the model path resolves against the working directory.
      const zero = await cli(['embed', '-m', 'bert', '--backend', 'reference', '--ids', ' 5, 6 ,7;8'], sharedPath('refs'));
      expect(JSON.parse(zero.stdout)).toEqual(vectors(await api.embed([[5, 6, 7], [8]])));
    });

    it('picks a backend by default (auto) and says which on stderr; its vectors agree with the interpreter', async () => {
      const r = await cli(['embed', '--model', bert, '--ids', rows.idsFlag, '--token-types', rows.typesFlag], cwd);
      expect(r.code).toBe(0);
      expect(r.stderr).toMatch(/^backend (wasm|webgpu): /);
      const want = vectors(await Encoder.load(bert).embed(rows.ids, { tokenTypes: rows.tokenTypes }));
      const got = JSON.parse(r.stdout) as number[][];
      expect(Math.max(...got.flatMap((v, i) => v.map((x, j) => Math.abs(x - want[i][j]))))).toBeLessThan(1e-5);
    });

    it('embeds --text with the model tokenizer', async () => {
      const texts = ['The cat sat on the mat.', 'a dog?'];
      const r = await cli(['embed', '-m', withTokenizer, '--backend', 'reference', '--text', texts[0], '--text', texts[1]], cwd);
      expect(r.code).toBe(0);
      expect(JSON.parse(r.stdout)).toEqual(vectors(await Encoder.load(withTokenizer).embed(texts)));
    });

    it('rejects bad input with exit 2 (usage) or 1 (model), and no stack trace', async () => {
      const cases: [string[], number, RegExp][] = [
        [['embed', '-m', bert, '--ids', '1,2;3', '--token-types', '0,0;0,1'], 2, /--token-types row 1 has 2 values but --ids row 1 has 1/],
        [['embed', '-m', bert, '--ids', '1,2;3', '--token-types', '0,0'], 2, /--token-types has 1 rows but --ids has 2/],
        [['embed', '-m', bert, '--ids', '1,x'], 2, /--ids: row 0, item 1: 'x' is not an integer/],
        [['embed', '-m', bert, '--ids', '1,2.5'], 2, /'2\.5' is not an integer/],
        [['embed', '-m', bert, '--ids', '1,2;'], 2, /--ids: row 1 is empty/],
        [['embed', '-m', bert, '--text', 'a', '--ids', '1'], 2, /give --text or --ids, not both/],
        [['embed', '-m', bert], 2, /nothing to embed/],
        [['embed', '--ids', '1'], 2, /missing --model/],
        [['embed', '-m', bert, '--text', 'a', '--token-types', '0'], 2, /--token-types goes with --ids/],
        [['embed', '-m', bert, '--ids', '1,300'], 1, /row 0, token 1: id 300 is outside the vocabulary \[0, 256\)/],
        [['embed', '-m', bert, '--ids', '1,2', '--token-types', '0,5'], 1, /token type 5 is outside \[0, 2\)/],
        [['embed', '-m', bert, '--text', 'hello'], 1, /no tokenizer\.json beside the model.*pass token ids/],
        [['embed', '-m', sharedPath('refs', 'llama'), '--ids', '1'], 1, /llama decoder \(LlamaForCausalLM\) is not an encoder/],
        [['embed', '-m', 'no/such/model', '--ids', '1'], 1, /no model at 'no\/such\/model'/],
      ];
      for (const [args, code, message] of cases) {
        const r = await cli(args, cwd);
        expect(r.code, args.join(' ')).toBe(code);
        expect(r.stderr, args.join(' ')).toMatch(message);
        expect(r.stderr).toMatch(/^tessera embed: /m);
        expect(r.stderr).not.toMatch(/internal error|^\s+at /m);
        expect(r.stdout).toBe('');
      }
    });
  });

  describe('rerank', () => {
    const rows = refRows('bert_reranker');

    it('prints scores in row order for --ids, equal to Encoder.scorePairs', async () => {
      const r = await cli(['rerank', '-m', reranker, '--backend', 'reference', '--ids', rows.idsFlag, '--token-types', rows.typesFlag], cwd);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      const scores = JSON.parse(r.stdout) as number[];
      expect(scores).toEqual(await Encoder.load(reranker).scorePairs(rows.ids, rows.tokenTypes));
      expect(scores).toHaveLength(3);
    });

    it('ranks --doc texts against --query, best first; --top keeps the best N', async () => {
      const query = 'where is the cat?';
      const docs = ['a dog runs fast', 'the cat sat on the mat.', 'who is slow?', 'what cats?'];
      const want = (await Encoder.load(withTokenizer).rerank(query, docs)).ranked;
      const r = await cli(['rerank', '-m', withTokenizer, '--backend', 'reference', '--query', query, ...docs.flatMap((d) => ['--doc', d])], cwd);
      expect(r.code).toBe(0);
      const got = JSON.parse(r.stdout) as { index: number; score: number; document: string }[];
      expect(got).toEqual(want);
      expect(got.map((x) => x.index).sort()).toEqual([0, 1, 2, 3]);
      const top = await cli(['rerank', '-m', withTokenizer, '--backend', 'reference', '-q', query, '-d', docs[0], '-d', docs[1], '-d', docs[2], '-d', docs[3], '--top', '2'], cwd);
      expect(JSON.parse(top.stdout)).toEqual(want.slice(0, 2));
    });

    it('rejects bad input with exit 2 (usage) or 1 (model)', async () => {
      const cases: [string[], number, RegExp][] = [
        [['rerank', '-m', reranker, '--ids', '1,2,3'], 2, /--ids needs --token-types/],
        [['rerank', '-m', reranker, '--ids', '1,2;3', '--token-types', '0,1;0;1'], 2, /--token-types has 3 rows but --ids has 2/],
        [['rerank', '-m', reranker, '--ids', '1,-', '--token-types', '0,1'], 2, /'-' is not an integer/],
        [['rerank', '-m', reranker, '--ids', '1', '--token-types', '0', '--query', 'q'], 2, /not both/],
        [['rerank', '-m', withTokenizer, '--doc', 'd'], 2, /missing --query/],
        [['rerank', '-m', withTokenizer, '--query', 'q'], 2, /nothing to rank/],
        [['rerank', '-m', withTokenizer, '-q', 'q', '-d', 'd', '--top', '0'], 2, /--top must be a positive integer, got '0'/],
        [['rerank', '-m', reranker, '--ids', '1,999', '--token-types', '0,1'], 1, /id 999 is outside the vocabulary/],
        [['rerank', '-m', reranker, '-q', 'q', '-d', 'd'], 1, /no tokenizer\.json/],
        [['rerank', '-m', bert, '--ids', '1,2', '--token-types', '0,1'], 1, /BertModel has no classification head/],
      ];
      for (const [args, code, message] of cases) {
        const r = await cli(args, cwd);
        expect(r.code, args.join(' ')).toBe(code);
        expect(r.stderr, args.join(' ')).toMatch(message);
        expect(r.stderr).not.toMatch(/internal error|^\s+at /m);
      }
    });
  });

  it('both commands have help with options and examples', async () => {
    const overview = await cli(['help'], cwd);
    expect(overview.stdout).toMatch(/^ {2}embed +print sentence embeddings/m);
    expect(overview.stdout).toMatch(/^ {2}rerank +score documents/m);
    for (const cmd of ['embed', 'rerank']) {
      const r = await cli([cmd, '--help'], cwd);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(new RegExp(`^Usage: tessera ${cmd} `, 'm'));
      for (const flag of ['-m, --model DIR', '--ids ROWS', '--token-types ROWS', '--tokenizer PATH']) expect(r.stdout, cmd).toContain(flag);
      expect(r.stdout).toMatch(/^Examples:$/m);
    }
    expect((await cli(['help', 'embed'], cwd)).stdout).toContain('--no-normalize');
    expect((await cli(['help', 'rerank'], cwd)).stdout).toContain('--top N');
  });
});
