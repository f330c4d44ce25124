// `tessera chat`: a conversation with a model through its chat template. Interactive on a
// terminal or piped standard input (one user turn per line, answers streamed, /reset, /exit,
// Ctrl-C stops the answer being written), or one answer to a conversation read from a JSON file.
import { createInterface } from 'node:readline';
import { InputError } from '../../ir/errors.js';
import { ChatTemplateError } from '../../models/chat/template-source.js';
import { ContextFullError } from '../../runtime/executor.js';
import { GENERATE_RANGES, type GenerateParams, type GenerationStats } from '../../runtime/generate.js';
import { type ChatMessage, checkMessages } from '../chat/messages.js';
import type { Model } from '../model.js';
import { CliError, EXIT_OK, stringOpt } from './command.js';
import type { CliIO, Writer } from './io.js';
import { readTextFile } from './load.js';
import { loadModelFrom, CTX_OPTION, LORA_OPTION, MODEL_OPTIONS, numberOpt } from './model-options.js';
import { registerCommand } from './registry.js';
import { SAMPLING_OPTIONS, samplingParams } from './sampling-options.js';
import { STRUCTURED_OUTPUT_OPTIONS, structuredOutputParams } from './structured-output.js';

registerCommand({
  name: 'chat',
  summary: 'chat with a model through its chat template (interactive, or one answer to --messages)',
  args: '',
  positionals: { min: 0, max: 0 },
  description: `Renders the conversation with the model's chat template (or --chat-template FILE) and
streams the answer, stopping at the model's end-of-turn tokens. Interactive: each line of standard
input is a user turn; /reset starts the conversation over, /exit (or end of input) quits, and
Ctrl-C stops the answer being written (at the prompt it quits). The KV cache is kept between turns,
so a turn prefills only its new tokens. With --messages FILE.json (a list of { role, content }, or
{ "messages": [...] }) one answer is written to standard output. Statistics go to standard error.`,
  options: {
    ...MODEL_OPTIONS,
    lora: LORA_OPTION,
    ctx: CTX_OPTION,
    system: { type: 'string', value: 'TEXT', help: 'a system message that opens the conversation' },
    'chat-template': { type: 'string', value: 'FILE', help: "a Jinja chat template to use instead of the model's own" },
    messages: { type: 'string', value: 'FILE.json', help: 'answer this conversation once and exit' },
    'max-tokens': { type: 'string', short: 'n', value: 'N', help: 'new tokens per answer at most (default 512)' },
    ...SAMPLING_OPTIONS,
    ...STRUCTURED_OUTPUT_OPTIONS,
  },
  examples: [
    { command: 'tessera chat -m ./Qwen2.5-0.5B-Instruct-Q8_0.gguf --system "Answer briefly."', says: 'an interactive chat with a GGUF that carries its template' },
    { command: 'tessera chat -m ../shared/models/tinystories-656k --chat-template story.jinja --messages talk.json', says: 'one answer, template from a file' },
  ],
  async run(inv, io) {
    const params: GenerateParams = {
      maxTokens: numberOpt(inv, 'max-tokens', GENERATE_RANGES.maxTokens) ?? 512,
      ...samplingParams(inv),
      // Every answer follows the grammar (each starts it afresh).
      ...structuredOutputParams(inv, io),
    };
    const templatePath = stringOpt(inv, 'chat-template');
    const chatTemplate = templatePath === undefined ? undefined : readTextFile(templatePath, io);
    const system = stringOpt(inv, 'system');
    const opening: ChatMessage[] = system === undefined ? [] : [{ role: 'system', content: system }];
    const messagesPath = stringOpt(inv, 'messages');
    const given = messagesPath === undefined ? undefined : readConversation(messagesPath, io);
    const model = await loadModelFrom(inv, io);
    try {
      checkTemplate(model, chatTemplate);
      const chat = new Conversation(model, { ...params, chatTemplate }, io);
      if (given) {
        await chat.answer([...opening, ...given], io.stdout);
      } else {
        await chat.interactive(opening);
      }
    } finally {
      await model.dispose();
    }
    return EXIT_OK;
  },
});

/** A missing or unparsable template is reported before the first turn, not after it is typed. */
function checkTemplate(model: Model, chatTemplate: string | undefined): void {
  try {
    model.chatPromptIds([{ role: 'user', content: 'hello' }], chatTemplate);
  } catch (e) {
    if (e instanceof ChatTemplateError) throw e;
    // A template may refuse this probe (a role rule); the real turns are checked when they come.
  }
}

function readConversation(path: string, io: CliIO): readonly ChatMessage[] {
  const text = readTextFile(path, io);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new CliError(`--messages ${path}: not valid JSON: ${(e as Error).message}`);
  }
  const list = typeof json === 'object' && json !== null && !Array.isArray(json) ? (json as { messages?: unknown }).messages : json;
  return checkMessages(list, `--messages ${path}: messages`);
}

class Conversation {
  /** Aborts the answer being written (Ctrl-C). */
  private current?: AbortController;

  constructor(private readonly model: Model, private readonly params: GenerateParams & { chatTemplate?: string }, private readonly io: CliIO) {}

  /** Streams one answer to `out` and ends its line; statistics follow on stderr. Returns its text. */
  async answer(messages: readonly ChatMessage[], out: Writer): Promise<string> {
    this.current = new AbortController();
    const stream = this.model.chat(messages, { ...this.params, signal: this.current.signal });
    let text = '';
    try {
      for (;;) {
        const r = await stream.next();
        if (r.done) {
          out.write('\n');
          this.report(r.value);
          return text;
        }
        text += r.value.text;
        if (r.value.text) out.write(r.value.text);
        // A backend that computes synchronously never lets the event loop run between tokens;
        // Ctrl-C (a signal, or a keypress read by readline) is heard only when it does.
        await new Promise<void>((done) => setImmediate(done));
      }
    } finally {
      this.current = undefined;
    }
  }

  /** Ctrl-C: stops the answer being written; true when there was one. */
  interrupt(): boolean {
    if (!this.current) return false;
    this.current.abort();
    return true;
  }

  async interactive(opening: readonly ChatMessage[]): Promise<void> {
    const input = process.stdin;
    const tty = input.isTTY === true;
    const rl = createInterface({ input, output: tty ? process.stdout : undefined, terminal: tty });
    const onInterrupt = () => {
      if (!this.interrupt()) rl.close();
    };
    rl.on('SIGINT', onInterrupt); // a terminal's Ctrl-C, read by readline
    process.on('SIGINT', onInterrupt); // a signal, when input is piped
    const prompt = () => { if (tty) rl.prompt(); };
    if (tty) this.io.stderr.write('Type a message; /reset starts over, /exit quits, Ctrl-C stops an answer.\n');
    let messages = [...opening];
    try {
      prompt();
      for await (const raw of rl) {
        const line = raw.trim();
        if (line === '/exit') break;
        if (line === '/reset') {
          messages = [...opening];
          this.io.stderr.write('(conversation reset)\n');
        } else if (line !== '') {
          const turn = [...messages, { role: 'user', content: line }];
          try {
            const text = await this.answer(turn, this.io.stdout);
            messages = [...turn, { role: 'assistant', content: text }];
          } catch (e) {
            // The conversation goes on: the turn is dropped and the user told what to do.
            if (!(e instanceof ContextFullError || e instanceof InputError)) throw e;
            this.io.stderr.write(`${e.message}${e instanceof ContextFullError ? ' (type /reset to start over)' : ''}\n`);
          }
        }
        prompt();
      }
    } finally {
      process.off('SIGINT', onInterrupt);
      rl.close();
    }
  }

  private report(s: GenerationStats): void {
    this.io.stderr.write(
      `[${this.model.executor.backend}] prompt ${s.promptTokens} tokens (${s.cachedPromptTokens} cached) · ` +
        `${s.generatedTokens} tokens at ${s.decodeTokensPerSecond.toFixed(1)} tok/s · stop: ${s.stopReason}${s.stopReason === 'aborted' ? ' (Ctrl-C)' : ''}\n`,
    );
  }
}
