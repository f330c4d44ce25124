// `tessera generate`: stream text from a model. Only text goes to stdout; statistics go to stderr.
import { EXIT_OK, flagOpt, listOpt, stringOpt, UsageError } from './command.js';
import { checkIdsInVocabulary, loadModelFrom, CTX_OPTION, LORA_OPTION, MODEL_OPTIONS, numberOpt, parseIdList } from './model-options.js';
import { registerCommand } from './registry.js';
import { SAMPLING_OPTIONS, samplingParams } from './sampling-options.js';
import { STRUCTURED_OUTPUT_OPTIONS, structuredOutputParams } from './structured-output.js';
import { GENERATE_RANGES, type GenerateParams } from '../../runtime/generate.js';

registerCommand({
  name: 'generate',
  summary: 'generate text from a prompt, streamed to standard output',
  args: '',
  positionals: { min: 0, max: 0 },
  description: `Encodes the prompt (with BOS when the tokenizer asks for it), runs the prompt through the
model and samples new tokens until the end-of-sequence token, --max-tokens, a --stop text or the
context limit. Standard output carries only the prompt and the completion, streamed as they are
produced; prefill and decode speed and the reason generation stopped go to standard error.
Greedy by default (--temperature 0); the same --seed gives the same text.`,
  options: {
    ...MODEL_OPTIONS,
    lora: LORA_OPTION,
    ctx: CTX_OPTION,
    prompt: { type: 'string', short: 'p', value: 'TEXT', help: 'the text to continue' },
    ids: { type: 'string', value: 'IDS', help: 'the prompt as comma-separated token ids instead of text' },
    'max-tokens': { type: 'string', short: 'n', value: 'N', help: 'new tokens at most (default 256)' },
    ...SAMPLING_OPTIONS,
    stop: { type: 'string', multiple: true, value: 'TEXT', help: 'stop when the text contains TEXT (repeatable)' },
    'ignore-eos': { type: 'boolean', help: 'keep going past the end-of-sequence token' },
    'prefill-chunk': { type: 'string', value: 'N', help: 'prompt tokens per forward pass (default: all at once)' },
    'no-bos': { type: 'boolean', help: 'do not prepend the BOS token' },
    ...STRUCTURED_OUTPUT_OPTIONS,
  },
  examples: [
    { command: 'tessera generate -m ../shared/models/stories260K/stories260K.bin -p "Once upon a time"', says: 'greedy story from a llama2.c checkpoint' },
    { command: 'tessera generate -m ../shared/models/tinystories-656k -p "Lily" -t 0.8 --top-p 0.9 --seed 7 -n 60', says: 'sampled, reproducible' },
    { command: 'tessera generate -m model.gguf -p "Q:" --stop "\\n" --passes default', says: 'stop at the first newline; run the optimised graph' },
    { command: 'tessera generate -m ../shared/models/stories260K/stories260K.bin -p "Tom" --json-schema person.json -t 1', says: 'JSON valid against a schema (also --grammar-file F.gbnf, --json)' },
  ],
  async run(inv, io) {
    const prompt = stringOpt(inv, 'prompt');
    const idsText = stringOpt(inv, 'ids');
    if ((prompt === undefined) === (idsText === undefined)) throw new UsageError('give the prompt with either --prompt TEXT or --ids 1,2,3', inv.command);
    // Every value is checked against the API's ranges before the model loads or anything is printed.
    const params: GenerateParams = {
      maxTokens: numberOpt(inv, 'max-tokens', GENERATE_RANGES.maxTokens) ?? 256,
      ...samplingParams(inv),
      stop: listOpt(inv, 'stop'),
      stopAtEos: !flagOpt(inv, 'ignore-eos'),
      prefillChunk: numberOpt(inv, 'prefill-chunk', { ...GENERATE_RANGES.prefillChunk, min: 1 }),
      ...structuredOutputParams(inv, io),
    };
    const promptIds = idsText === undefined ? undefined : parseIdList(idsText, 'ids', inv.command);
    // Cold start: from opening the model (or artifact) to the first generated token.
    const opened = performance.now();
    const model = await loadModelFrom(inv, io);
    try {
      const V = model.config.vocabSize;
      if (promptIds) checkIdsInVocabulary(promptIds, V, 'ids', inv.command);
      checkIdsInVocabulary(Object.keys(params.logitBias ?? {}).map(Number), V, 'logit-bias', inv.command);
      const ids = promptIds ?? model.tokenizer.encode(prompt!, flagOpt(inv, 'no-bos') ? { addBos: false } : {});
      // generate() checks the prompt (length, ids) and every option now, before the prompt is echoed.
      const stream = model.generate(ids, params);
      io.stdout.write(prompt ?? model.tokenizer.decode(ids));
      let firstToken: number | undefined;
      for (;;) {
        const r = await stream.next();
        if (r.done) {
          const s = r.value;
          io.stdout.write('\n');
          io.stderr.write(
            `[${model.executor.backend}] prefill ${s.promptTokens} tokens: ${s.prefillTokensPerSecond.toFixed(1)} tok/s · ` +
              `decode ${s.generatedTokens} tokens: ${s.decodeTokensPerSecond.toFixed(1)} tok/s · ` +
              `first token ${firstToken === undefined ? '–' : `${firstToken.toFixed(0)} ms`} after opening · stop: ${s.stopReason}${s.message ? ` (${s.message})` : ''}\n`,
          );
          break;
        }
        firstToken ??= performance.now() - opened;
        if (r.value.text) io.stdout.write(r.value.text);
      }
    } finally {
      await model.dispose();
    }
    return EXIT_OK;
  },
});
