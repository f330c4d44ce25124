// The messages between a page and the engine worker (worker-host.ts ↔ remote.ts), and errors
// carried across as their own classes: an ArtifactError thrown in the worker is an ArtifactError
// on the page, with its message and fields.
import { ArtifactError } from '../../codegen/artifact/manifest.js';
import { InputError, ModelFormatError, ResourceError, StateError, TesseraError, UsageError } from '../../ir/errors.js';
import { ChatTemplateError } from '../../models/chat/chat-files.js';
import { ConfigError } from '../../models/config/model-config.js';
import { FormatError } from '../../models/formats/store.js';
import { ContextFullError, TokenRangeError } from '../../runtime/executor.js';
import { OptionError } from '../../runtime/options.js';
import { GpuResourceError } from '../../runtime/webgpu/errors.js';
import { MissingChatTemplateError } from '../chat/turns.js';
import { EncoderInputError } from '../encoder-calls.js';
import { ModelBusyError, ModelDisposedError } from '../lifecycle.js';
import type { ArtifactManifest } from '../../codegen/artifact/manifest.js';
import type { ModelConfig } from '../../models/config/model-config.js';

export type RemoteKind = 'model' | 'encoder';

/** Page → worker. */
export type ToWorker =
  | { readonly op: 'open'; readonly kind: RemoteKind; readonly source: unknown; readonly options: Record<string, unknown> }
  | { readonly op: 'call'; readonly id: number; readonly method: string; readonly args: unknown[] }
  | { readonly op: 'stream'; readonly id: number; readonly method: 'generate' | 'chat'; readonly args: unknown[] }
  | { readonly op: 'stop'; readonly id: number; readonly abort: boolean };

/** What the page needs to answer without asking: the config, the reason, the tokenizer's files, the IR. */
export interface OpenedInfo {
  readonly dir: string;
  readonly backend: 'wasm' | 'webgpu';
  readonly backendReason: string;
  readonly config: ModelConfig;
  readonly tokenizer?: ArtifactManifest['tokenizer'];
  /** The tokenizer file and its companions, by name. */
  readonly tokenizerFiles: Readonly<Record<string, Uint8Array<ArrayBuffer>>>;
  /** printGraph of each stored graph, by role. */
  readonly ir: Readonly<Record<string, string>>;
  /** Encoders: the outputs the compiled graph returns. */
  readonly outputs?: readonly string[];
}

/** Worker → page. */
export type FromWorker =
  | { readonly op: 'progress'; readonly event: unknown }
  | { readonly op: 'opened'; readonly info: OpenedInfo }
  | { readonly op: 'result'; readonly id: number; readonly value: unknown }
  | { readonly op: 'token'; readonly id: number; readonly value: unknown }
  | { readonly op: 'done'; readonly id: number; readonly value: unknown }
  | { readonly op: 'error'; readonly id?: number; readonly error: CarriedError };

export interface CarriedError {
  readonly name: string;
  readonly message: string;
  readonly stack?: string;
  /** Own enumerable fields (OptionError.option, UsageError.command …). */
  readonly fields: Record<string, unknown>;
}

/** The classes an error may come back as, by name (anything else arrives as a plain Error with its name). */
const CLASSES: readonly (abstract new (...args: never[]) => Error)[] = [
  ArtifactError, ConfigError, FormatError, ModelFormatError, ChatTemplateError, MissingChatTemplateError,
  OptionError, UsageError, InputError, EncoderInputError, TokenRangeError, ContextFullError,
  ResourceError, GpuResourceError, StateError, ModelBusyError, ModelDisposedError, TesseraError,
  RangeError, TypeError, Error,
];

export function carryError(e: unknown): CarriedError {
  const err = e instanceof Error ? e : new Error(String(e));
  const fields: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(err)) if (k !== 'name' && (v === null || ['string', 'number', 'boolean'].includes(typeof v))) fields[k] = v;
  return { name: err.name, message: err.message, stack: err.stack, fields };
}

/** The error as its own class again (instanceof holds), with its message, fields and the worker's stack. */
export function restoreError(c: CarriedError): Error {
  const cls = CLASSES.find((k) => k.name === c.name) ?? Error;
  const err = Object.create(cls.prototype as object) as Error;
  Object.assign(err, c.fields);
  Object.defineProperties(err, {
    name: { value: c.name, writable: true, configurable: true },
    message: { value: c.message, writable: true, configurable: true },
    stack: { value: c.stack ?? `${c.name}: ${c.message}`, writable: true, configurable: true },
  });
  return err;
}
