// Which storage type each weight gets when the quantize pass runs a recipe: llama-quantize's
// choices (its ftypes and the per-tensor rules of llama_tensor_get_type in llama.cpp's
// src/llama-quant.cpp, for dense models without an importance matrix), one row per recipe.
// A type name alone (q4_k, q8_0, …) is that type for every weight (llama-quantize --pure); the
// _S/_M/_L names are llama.cpp's mixes, which give some roles and layers more bits and store output
// heads as Q6_K. Whatever a row chooses, a K-quant whose 256-element super-block does not divide
// the weight's rows falls back to a 32-element type, as llama.cpp does. Recipes whose types are
// not all writable dtypes yet (ir/dtype.ts) are not offered.
import { QUANTIZE_DTYPES, type QuantizeDType } from '../ir/dtype.js';
import { QUANT_CODECS, type QuantCodecName } from '../ir/quant/index.js';

/** What a weight is in the model, as llama.cpp's tensor categories tell them apart. */
export type WeightRole = 'attn_q' | 'attn_k' | 'attn_v' | 'attn_qkv' | 'attn_output' | 'ffn_gate' | 'ffn_up' | 'ffn_down' | 'output' | 'token_embd' | 'other';

/**
 * Roles by the parameter names the model builders give (models/arch/decoder.ts, encoder.ts), as
 * the passes before quantize leave them: qkv-merge joins `l0.wq`, `l0.wk`, `l0.wv` into
 * `l0.wq_k_v`, rmsnorm-matmul appends `.normed`. Output heads are found from the graph instead.
 */
const ROLE_NAMES: readonly (readonly [RegExp, WeightRole])[] = [
  [/^l\d+\.wq_k_v\b/, 'attn_qkv'],
  [/^l\d+\.wq\b/, 'attn_q'],
  [/^l\d+\.wk\b/, 'attn_k'],
  [/^l\d+\.wv\b/, 'attn_v'],
  [/^l\d+\.wo\b/, 'attn_output'],
  [/^l\d+\.w_gate/, 'ffn_gate'],
  [/^l\d+\.w_up\b/, 'ffn_up'],
  [/^l\d+\.w_down\b/, 'ffn_down'],
];

export function weightRole(name: string): WeightRole {
  return ROLE_NAMES.find(([re]) => re.test(name))?.[1] ?? 'other';
}

/** The layer a parameter belongs to (`l3.wv` → 3), if its name says. */
export function layerOf(name: string): number | undefined {
  const m = /^l(\d+)\./.exec(name);
  return m ? Number(m[1]) : undefined;
}

/** Layer sets the rules choose by (C's integer division, as llama.cpp computes them). */
const LAYERS = {
  all: () => true,
  /** llama.cpp's use_more_bits: the first and last eighth of the layers and every third one between. */
  moreBits: (i: number, n: number) => i < Math.floor(n / 8) || i >= Math.floor((7 * n) / 8) || (i - Math.floor(n / 8)) % 3 === 2,
  firstTwo: (i: number) => i < 2,
  firstFour: (i: number) => i < 4,
  firstEighth: (i: number, n: number) => i < Math.floor(n / 8),
  firstSixteenth: (i: number, n: number) => i < Math.floor(n / 16),
} satisfies Record<string, (layer: number, layers: number) => boolean>;

/** Weights of these roles, in these layers, get `type` (the first rule that matches wins). */
interface Rule {
  readonly roles: readonly WeightRole[];
  readonly layers?: keyof typeof LAYERS;
  readonly type: QuantCodecName;
}

export interface Recipe {
  /** The type of every weight no rule picks (llama.cpp's default type of the ftype). */
  readonly base: QuantCodecName;
  /** Output heads (lm_head, classifiers), when the pass quantizes them. */
  readonly output: QuantCodecName;
  readonly rules: readonly Rule[];
}

// llama.cpp treats attn_qkv as attn_v (category_is_attn_v) in every branch these mixes reach.
const V: readonly WeightRole[] = ['attn_v', 'attn_qkv'];

/** llama-quantize's mixes, by its names in lower case. */
const MIXES = {
  q3_k_s: { base: 'q3_k', output: 'q6_k', rules: [] },
  q3_k_m: {
    base: 'q3_k', output: 'q6_k', rules: [
      { roles: V, layers: 'firstTwo', type: 'q5_k' },
      { roles: V, type: 'q4_k' },
      { roles: ['ffn_down'], layers: 'firstSixteenth', type: 'q5_k' },
      { roles: ['ffn_down', 'attn_output'], type: 'q4_k' },
    ],
  },
  q3_k_l: { base: 'q3_k', output: 'q6_k', rules: [{ roles: [...V, 'ffn_down', 'attn_output'], type: 'q5_k' }] },
  q4_k_s: {
    base: 'q4_k', output: 'q6_k', rules: [
      { roles: V, layers: 'firstFour', type: 'q5_k' },
      { roles: ['ffn_down'], layers: 'firstEighth', type: 'q5_k' },
    ],
  },
  q4_k_m: { base: 'q4_k', output: 'q6_k', rules: [{ roles: [...V, 'ffn_down'], layers: 'moreBits', type: 'q6_k' }] },
  q5_k_s: { base: 'q5_k', output: 'q6_k', rules: [] },
  q5_k_m: { base: 'q5_k', output: 'q6_k', rules: [{ roles: [...V, 'ffn_down'], layers: 'moreBits', type: 'q6_k' }] },
} as const satisfies Record<string, Recipe>;

/** llama.cpp's tensor_type_fallback: a K-quant on rows that are not whole super-blocks. */
const SHAPE_FALLBACK: Partial<Record<QuantCodecName, QuantCodecName>> = { q2_k: 'q4_0', q3_k: 'q4_0', q4_k: 'q5_0', q5_k: 'q5_1', q6_k: 'q8_0', iq4_xs: 'iq4_nl' };
const SUPER_BLOCK = 256;

const isWritable = (t: QuantCodecName): t is QuantCodecName & QuantizeDType => (QUANTIZE_DTYPES as readonly string[]).includes(t);

function typesOf(r: Recipe): QuantCodecName[] {
  const types = [r.base, r.output, ...r.rules.map((x) => x.type)];
  return [...types, ...types.flatMap((t) => SHAPE_FALLBACK[t] ?? [])];
}

/** Every recipe, offered or not (tests check the choices against llama.cpp's files either way). */
export const RECIPE_TABLE: Readonly<Record<string, Recipe>> = {
  ...Object.fromEntries(Object.keys(QUANT_CODECS).map((d) => [d, { base: d, output: d, rules: [] }])),
  ...MIXES,
};

/** The recipes on offer: those whose every type is a writable dtype. */
export const RECIPES: Readonly<Record<string, Recipe>> = Object.fromEntries(Object.entries(RECIPE_TABLE).filter(([, r]) => typesOf(r).every(isWritable)));
export const RECIPE_NAMES: readonly string[] = Object.keys(RECIPES);

export function isRecipeName(s: string): boolean {
  return Object.hasOwn(RECIPES, s);
}

/** A type an offered recipe chose: writable by construction of RECIPES. */
export function writable(type: QuantCodecName): QuantizeDType {
  if (!isWritable(type)) throw new Error(`internal error: recipe type ${type} is not a writable dtype`);
  return type;
}

/** What the pass knows of a weight when it chooses its type. */
export interface WeightSite {
  readonly role: WeightRole;
  /** Its layer, and the model's layer count (from the parameter names). */
  readonly layer?: number;
  readonly layers: number;
  /** Elements per row (the matmul's input features). */
  readonly rowLength: number;
}

export interface TypeChoice {
  readonly type: QuantCodecName;
  /** A rule gave this weight a type other than the recipe's base. */
  readonly promoted: boolean;
  /** Its rows are not whole super-blocks, so the chosen K-quant fell back. */
  readonly fellBack: boolean;
}

/** The storage type `recipe` gives a weight. */
export function chooseType(recipe: Recipe, site: WeightSite): TypeChoice {
  const rule = site.role === 'output' ? undefined : recipe.rules.find((r) => r.roles.includes(site.role) && (r.layers === undefined || (site.layer !== undefined && LAYERS[r.layers](site.layer, site.layers))));
  const chosen = site.role === 'output' ? recipe.output : rule?.type ?? recipe.base;
  const fallback = site.rowLength % SUPER_BLOCK !== 0 ? SHAPE_FALLBACK[chosen] : undefined;
  return { type: fallback ?? chosen, promoted: rule !== undefined && rule.type !== recipe.base, fellBack: fallback !== undefined };
}
