// tessera/web: compiled artifacts in a browser. ESM, no Node built-ins in its import graph
// (test/browser/web-imports.test.ts walks it).
export { Model, type WebLoadOptions } from './model.js';
export { Encoder, type WebEncoderOptions } from './encoder.js';
export { type ArtifactSource, type DownloadEvent, artifactFiles, fetchArtifactFiles } from './sources.js';
export { ISOLATION_HEADERS, WEB_BACKENDS, type WebBackendName } from './backend.js';
export { ArtifactError } from '../../codegen/artifact/manifest.js';
export { ModelBusyError, ModelDisposedError } from '../lifecycle.js';
export { EncoderInputError, type EmbedOptions, type EncoderRow, type RankedDocument, type RerankResult } from '../encoder-calls.js';
export type { ChatMessage, ChatContentPart } from '../chat/messages.js';
export { type ChatOptions, MissingChatTemplateError } from '../chat/turns.js';
export type { GeneratedToken, GenerateParams, GenerationStats } from '../../runtime/generate.js';
export { WorkerEncoder, WorkerModel, type WorkerScript } from './remote.js';
