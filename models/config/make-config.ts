// The one place a ModelConfig is assembled: every reader passes what its file says and the
// family's row (./families/table.ts) supplies the rest, so a new field gets its default here once.
import { activationOfHf } from './activation.js';
import { familyTraits } from './families/table.js';
import { checkSizes, ConfigError, type ConfigKeys, type ModelConfig, type RopeConfig, validateConfig } from './model-config.js';

/** What only the file can say: which family, and the sizes. */
export type ConfigSizes = Pick<ModelConfig, 'family' | 'architecture' | 'vocabSize' | 'hiddenSize' | 'numLayers' | 'numHeads' | 'intermediateSize' | 'maxPositions'>;

/** Fields the row alone decides: no file overrides them. */
type RowFields = 'gatedMlp' | 'qkNorm' | 'embedScale' | 'postNorms';

/** What a reader found; norm and rope may be given in part. */
export type ConfigFields = ConfigSizes &
  Partial<Omit<ModelConfig, keyof ConfigSizes | RowFields | 'norm' | 'rope' | 'layerWindows'>> & {
    readonly norm?: Partial<ModelConfig['norm']>;
    readonly rope?: Partial<RopeConfig>;
    /** The sliding window of layer i (0 = global); called once per layer after the sizes are checked. */
    readonly layerWindow?: (layer: number) => number;
  };

/**
 * A validated ModelConfig: `found` over the defaults of the family's row. `source` names the file
 * in errors and `keys` the fields as that file calls them.
 */
export function makeConfig(source: string, found: ConfigFields, keys: ConfigKeys = {}): ModelConfig {
  // Sizes first: per-layer lists below are as long as the file says.
  checkSizes(source, { vocabSize: found.vocabSize, hiddenSize: found.hiddenSize, numLayers: found.numLayers, numHeads: found.numHeads, headDim: found.headDim, maxPositions: found.maxPositions }, keys);
  const row = familyTraits(found.family);
  const headDim = found.headDim ?? found.hiddenSize / found.numHeads;
  const defaultActivation = activationOfHf(row.hf.defaults.hidden_act ?? '');
  if (!defaultActivation) throw new Error(`internal error: the ${found.family} row's default hidden_act "${row.hf.defaults.hidden_act}" maps to no activation`);
  if (found.rope && row.positions !== 'rope') throw new ConfigError(source, `${found.family} uses learned positions, not RoPE`);
  const rope: RopeConfig | undefined = row.positions === 'rope'
    ? { theta: row.hf.defaults.rope_theta ?? 10000, rotaryDim: headDim, interleaved: false, scaling: { type: 'none' }, ...found.rope }
    : undefined;
  return validateConfig({
    family: found.family,
    architecture: found.architecture,
    task: found.task ?? row.task,
    vocabSize: found.vocabSize,
    hiddenSize: found.hiddenSize,
    numLayers: found.numLayers,
    numHeads: found.numHeads,
    numKvHeads: found.numKvHeads ?? found.numHeads,
    headDim,
    intermediateSize: found.intermediateSize,
    maxPositions: found.maxPositions,
    norm: { kind: row.norm.kind, eps: row.hf.defaults.norm_eps ?? 1e-5, offset: row.norm.weightOffset, ...found.norm },
    ...(rope ? { rope } : {}),
    activation: found.activation ?? defaultActivation,
    gatedMlp: row.gatedMlp,
    tieEmbeddings: found.tieEmbeddings ?? row.hf.defaults.tie_word_embeddings ?? false,
    bias: found.bias ?? { qkv: row.bias.qkv === true, o: row.bias.o === true, mlp: row.bias.mlp === true },
    qkNorm: row.qkNorm,
    layerWindows: Array.from({ length: found.numLayers }, (_, i) => found.layerWindow?.(i) ?? 0),
    attnScale: found.attnScale ?? headDim ** -0.5,
    attnSoftcap: found.attnSoftcap ?? 0,
    finalSoftcap: found.finalSoftcap ?? 0,
    embedScale: row.embedScale === 'sqrt-hidden' ? Math.fround(Math.sqrt(found.hiddenSize)) : 1,
    postNorms: row.norm.placement === 'sandwich',
    typeVocabSize: found.typeVocabSize ?? (row.tokenTypes ? row.hf.defaults.type_vocab_size ?? 0 : 0),
    bosId: found.bosId,
    eosIds: found.eosIds ?? [],
  }, source, keys);
}
