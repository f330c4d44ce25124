// Tessera's public API.
export { Model, type LoadOptions, paramResolver } from './model.js';
export { Encoder, EncoderInputError, type EncoderLoadOptions, type EncoderRow, type EmbedOptions, type RerankResult, type RankedDocument, type EncoderInfo } from './encoder.js';
export { describeModel, formatModelInfo, type ModelInfo } from './info.js';
export { pipelineTransform } from './passes.js';
export type { GenerateParams, GeneratedToken, GenerationStats, StopReason } from '../runtime/generate.js';
export type { SamplingParams } from '../runtime/sampler.js';
export { buildGrammar, jsonSchemaToGbnf } from '../runtime/grammar/index.js';
export type { StructuredOutputParams } from '../runtime/grammar/options.js';
export type { ChatMessage, ChatContentPart } from './chat/messages.js';
export type { ChatOptions } from './chat/session.js';
export { TesseraServer, type ServeOptions } from './serve/server.js';
export { BatchedModel, BatchedSequence, type BatchedOptions } from './batched.js';
export type { ModelConfig } from '../models/config/model-config.js';
export { openModel, type ModelSource } from '../models/open.js';
export { loadTokenizer } from '../models/tokenizers/load.js';
export type { Tokenizer } from '../models/tokenizers/tokenizer.js';
export * as ir from '../ir/index.js';
export { compile, type CompileOptions, type CompileSummary } from './compile.js';
export { progressLine, type ProgressCallback, type ProgressEvent, type ProgressPhase } from './progress.js';
export { BACKENDS, type BackendName, BackendError } from './backends.js';
export { GpuResourceError, GpuOutOfMemoryError, GpuDeviceLostError } from '../runtime/webgpu/errors.js';

// Errors. Every error Tessera throws on purpose is a TesseraError of one of five kinds; anything
// else that escapes is a bug. The concrete classes below narrow the kind (README: "Errors").
export { TesseraError, UsageError, InputError, ModelFormatError, ResourceError, StateError, IRError } from '../ir/errors.js';
export { OptionError } from '../runtime/options.js';
export { ModelBusyError, ModelDisposedError } from './lifecycle.js';
export { ContextFullError, TokenRangeError } from '../runtime/executor.js';
export { KvCacheFullError } from '../runtime/paged/block-allocator.js';
export { NonFiniteLogitsError } from '../runtime/sampler.js';
export { GrammarError, SchemaError } from '../runtime/grammar/errors.js';
export { ConfigError, UnsupportedModelError } from '../models/config/model-config.js';
export { FormatError } from '../models/formats/store.js';
export { ChatTemplateError } from '../models/chat/template-source.js';
export { MissingChatTemplateError } from './chat/session.js';
export { ArtifactError } from '../codegen/artifact/manifest.js';
export { PipelineError } from '../passes/pipeline.js';
export { PassError } from '../passes/pass-manager.js';
export { GpuUnavailableError } from '../runtime/webgpu/device.js';
