// A compiled artifact seen through the ModelSource interface: its packed weights are the
// "checkpoint", and its graphs are fixed (no builder runs).
import type { LoadedArtifact } from '../codegen/artifact/read.js';
import { isDType } from '../ir/dtype.js';
import { ArtifactError, MANIFEST_FILE } from '../codegen/artifact/manifest.js';
import { ConfigError, type ModelConfig, validateConfig } from '../models/config/model-config.js';
import { FormatError, type TensorStore } from '../models/formats/store.js';
import type { ModelSource } from '../models/open.js';

export function artifactSource(a: LoadedArtifact): ModelSource {
  const store: TensorStore = {
    format: 'artifact',
    path: a.dir,
    names: () => a.weightNames(),
    has: (n) => a.weightNames().includes(n),
    info: (n) => {
      const e = a.weightEntry(n);
      return { dtype: e.dtype, shape: e.shape };
    },
    read: (n) => a.readWeight(n),
    readInto: (n, dest) => a.readWeightInto(n, dest),
  };
  const config = artifactConfig(a);
  const fixed = (): never => { throw new ConfigError(a.dir, 'a compiled artifact has fixed graphs; compile again to change them'); };
  return {
    path: a.dir,
    format: 'artifact',
    origin: a.manifest.model.sourceFormat,
    config,
    store,
    tokenizerPath: a.tokenizerPath,
    decoderWeights: fixed,
    encoderWeights: fixed,
    leafType(name) {
      const e = a.weightEntry(name);
      if (!isDType(e.dtype)) throw new FormatError(a.dir, `tensor "${name}" has unknown dtype ${e.dtype}`);
      return { dtype: e.dtype, shape: e.shape };
    },
    readLeaf: (name) => a.readWeight(name),
    readLeafInto: (name, dest) => a.readWeightInto(name, dest),
  };
}

/** The manifest's model config, range-checked as a checkpoint's is (a hand-edited one is refused, naming the value). */
function artifactConfig(a: LoadedArtifact): ModelConfig {
  const c = a.manifest.model.config as unknown as ModelConfig;
  try {
    return validateConfig(c, `${a.dir}/${MANIFEST_FILE} model.config`);
  } catch (e) {
    // A field of the wrong kind (an object where a number belongs) fails inside the checks.
    if (e instanceof TypeError) throw new ArtifactError(a.dir, `${MANIFEST_FILE}: model.config is not a model config (${e.message}); recompile the model with \`tessera compile\``);
    throw e;
  }
}
