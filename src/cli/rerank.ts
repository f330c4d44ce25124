// `tessera rerank`: relevance of documents to a query from a BERT cross-encoder, as JSON.
import { EXIT_OK, listOpt, stringOpt, UsageError } from './command.js';
import { ENCODER_OPTIONS, jsonLines, parseRows, parseTokenTypes, withEncoder } from './embed.js';
import { registerCommand } from './registry.js';

registerCommand({
  name: 'rerank',
  summary: 'score documents against a query with a cross-encoder; print them best first as JSON',
  args: '',
  positionals: { min: 0, max: 0 },
  description: `Lays out each (query, document) pair as [CLS] query [SEP] document [SEP] with token types 0/1,
runs the cross-encoder (a BertForSequenceClassification with one label) over them in padded
batches, and prints a JSON array of {index, score, document}, highest score first; index is the
document's position on the command line and score is sigmoid(logit), in (0, 1).
With --ids and --token-types instead, the rows are taken as already laid out and a JSON array of
scores is printed in row order (for models without a tokenizer, and for testing).`,
  options: {
    ...ENCODER_OPTIONS,
    query: { type: 'string', short: 'q', value: 'TEXT', help: 'the query' },
    doc: { type: 'string', short: 'd', multiple: true, value: 'TEXT', help: 'a document to score' },
    top: { type: 'string', value: 'N', help: 'print only the N best documents' },
    ids: { type: 'string', value: 'ROWS', help: 'laid-out pairs as token ids instead of text: rows separated by ";", ids by ","' },
    'token-types': { type: 'string', value: 'ROWS', help: 'token types for --ids, shaped like it (required with --ids)' },
  },
  examples: [
    { command: 'tessera rerank --model ms-marco-MiniLM-L-6-v2 --query "how do cats sleep" --doc "Cats nap often." --doc "Dogs bark."', says: '[{"index":0,"score":0.98,…},{"index":1,…}] best first' },
    { command: 'tessera rerank -m reranker -q "capital of France" -d "Paris" -d "Lyon" -d "Rome" --top 1', says: 'only the best document' },
    { command: 'tessera rerank -m refs/bert_reranker --ids "1,50,2,207,2;1,33,2,29,121,2" --token-types "0,0,0,1,1;0,0,0,1,1,1"', says: 'one score per row, in row order' },
    { command: 'tessera rerank -m build/reranker --backend webgpu -q "capital of France" -d "Paris" -d "Rome"', says: 'a compiled artifact on its WGSL kernels' },
  ],
  async run(inv, io) {
    const query = stringOpt(inv, 'query');
    const docs = listOpt(inv, 'doc');
    const idsText = stringOpt(inv, 'ids');
    const topText = stringOpt(inv, 'top');
    if (idsText !== undefined) {
      if (query !== undefined || docs.length) throw new UsageError('give --query and --doc, or --ids, not both', inv.command);
      if (topText !== undefined) throw new UsageError('--top ranks documents; with --ids the scores are printed in row order', inv.command);
      if (stringOpt(inv, 'token-types') === undefined) throw new UsageError('--ids needs --token-types: 0 for [CLS] query [SEP], 1 for document [SEP]', inv.command);
      const ids = parseRows(idsText, 'ids', inv.command);
      const types = parseTokenTypes(inv, ids);
      io.stdout.write(`${JSON.stringify(await withEncoder(inv, io, (e) => e.scorePairs(ids, types)))}\n`);
      return EXIT_OK;
    }
    if (stringOpt(inv, 'token-types') !== undefined) throw new UsageError('--token-types goes with --ids', inv.command);
    if (query === undefined) throw new UsageError('missing --query TEXT (or give laid-out pairs with --ids)', inv.command);
    if (!docs.length) throw new UsageError('nothing to rank: give --doc TEXT, once per document', inv.command);
    let top = docs.length;
    if (topText !== undefined) {
      if (!/^\d+$/.test(topText) || Number(topText) < 1) throw new UsageError(`--top must be a positive integer, got '${topText}'`, inv.command);
      top = Number(topText);
    }
    const { ranked } = await withEncoder(inv, io, (e) => e.rerank(query, docs));
    io.stdout.write(jsonLines(ranked.slice(0, top)));
    return EXIT_OK;
  },
});
