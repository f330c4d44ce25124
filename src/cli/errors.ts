// How errors reach the user: expected ones (bad input, bad usage) as one clear message and an
// exit code; anything else is a bug in Tessera, reported as such (stack with TESSERA_DEBUG=1).
import { IRError } from '../../ir/errors.js';
import { PassError } from '../../passes/pass-manager.js';
import { PipelineError } from '../../passes/pipeline.js';
import { ConfigError, UnsupportedModelError } from '../../models/config/model-config.js';
import { FormatError } from '../../models/formats/store.js';
import { ContextFullError, TokenRangeError } from '../../runtime/executor.js';
import { SamplingError } from '../../runtime/sampler.js';
import { BackendError } from '../backends.js';
import { ArtifactError } from '../../codegen/artifact/manifest.js';
import { CliError, EXIT_FAILURE, EXIT_USAGE, UsageError } from './command.js';

const USER_ERRORS = [UsageError, CliError, IRError, PipelineError, PassError, FormatError, ConfigError, UnsupportedModelError, ContextFullError, TokenRangeError, SamplingError, BackendError, ArtifactError];

/** Errors caused by what the user gave us (command line, IR, model files), not by a bug. */
export function isUserError(e: unknown): e is Error {
  return USER_ERRORS.some((cls) => e instanceof cls);
}

export function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** Exit code for an error: bad command lines and pipeline strings are usage errors. */
export function exitCodeFor(e: unknown): number {
  return e instanceof UsageError || e instanceof PipelineError ? EXIT_USAGE : EXIT_FAILURE;
}
