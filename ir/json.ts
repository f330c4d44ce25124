// The JSON form of a graph: a stable, tool-friendly mirror of the text IR. Keys come in a fixed
// order (attributes sorted), dims are numbers or their canonical text ("P+S"), and the reader
// rebuilds exactly the graph that was written: graphFromJSON(graphToJSON(g)) prints as g does.
import type { AttrValue } from './attrs.js';
import { type Dim, SymDim } from './dim.js';
import { type DType, isDType } from './dtype.js';
import { IRError } from './errors.js';
import { Graph, makeNode, Value } from './graph.js';
import { parseDim } from './parse/dim.js';
import type { TensorType } from './types.js';
import type { WeightExpr } from './weights.js';

export const GRAPH_JSON_FORMAT = 'tessera.graph';
export const GRAPH_JSON_VERSION = 1;

export type DimJSON = number | string;
export interface TypeJSON {
  dtype: string;
  shape: DimJSON[];
}
/** Plain JSON values where they fit; dims and non-finite floats, which JSON cannot tell apart or hold, are tagged. */
export type AttrJSON = number | boolean | string | { dim: string } | { float: 'nan' | 'inf' | '-inf' } | (number | { dim: string })[];
export type WeightJSON = { tensor: string } | { fn: string; args: WeightJSON[]; attrs: Record<string, AttrJSON> };

export interface GraphJSON {
  format: typeof GRAPH_JSON_FORMAT;
  version: number;
  name: string;
  symbols: string[];
  inputs: { name: string; type: TypeJSON; state: boolean }[];
  params: { name: string; type: TypeJSON; source: WeightJSON }[];
  nodes: { op: string; inputs: string[]; attrs: Record<string, AttrJSON>; results: { name: string; type: TypeJSON }[] }[];
  outputs: { name: string; value: string }[];
  updates: { state: string; value: string }[];
}

// ---- writing ----

const dimJSON = (d: Dim): DimJSON => (typeof d === 'number' ? d : d.key);
const typeJSON = (t: TensorType): TypeJSON => ({ dtype: t.dtype, shape: t.shape.map(dimJSON) });

function attrJSON(v: AttrValue): AttrJSON {
  if (v instanceof SymDim) return { dim: v.key };
  if (Array.isArray(v)) return v.map((x: number | SymDim) => (x instanceof SymDim ? { dim: x.key } : x));
  if (typeof v === 'number' && !Number.isFinite(v)) return { float: Number.isNaN(v) ? 'nan' : v > 0 ? 'inf' : '-inf' };
  return v as number | boolean | string;
}

function attrsJSON(attrs: Readonly<Record<string, AttrValue>>): Record<string, AttrJSON> {
  const out: Record<string, AttrJSON> = {};
  for (const k of Object.keys(attrs).sort()) out[k] = attrJSON(attrs[k]);
  return out;
}

function weightJSON(e: WeightExpr): WeightJSON {
  return e.kind === 'tensor' ? { tensor: e.name } : { fn: e.fn, args: e.args.map(weightJSON), attrs: attrsJSON(e.attrs) };
}

export function graphToJSON(g: Graph): GraphJSON {
  return {
    format: GRAPH_JSON_FORMAT,
    version: GRAPH_JSON_VERSION,
    name: g.name,
    symbols: [...g.symbols],
    inputs: g.inputs.map((v) => ({ name: v.name, type: typeJSON(v.type), state: v.def.kind === 'input' && v.def.state })),
    params: g.params.map((v) => {
      if (v.def.kind !== 'param') throw new IRError(`param %${v.name} is not marked as a parameter`);
      return { name: v.name, type: typeJSON(v.type), source: weightJSON(v.def.source) };
    }),
    nodes: g.nodes.map((n) => ({
      op: n.op,
      inputs: n.inputs.map((v) => v.name),
      attrs: attrsJSON(n.attrs),
      results: n.outputs.map((v) => ({ name: v.name, type: typeJSON(v.type) })),
    })),
    outputs: g.outputs.map((o) => ({ name: o.name, value: o.value.name })),
    updates: g.updates.map((u) => ({ state: u.state.name, value: u.value.name })),
  };
}

/** Two-space indented JSON with a trailing newline. */
export function printGraphJSON(g: Graph): string {
  return `${JSON.stringify(graphToJSON(g), null, 2)}\n`;
}

// ---- reading ----

type Json = unknown;

/** Reads a GraphJSON (as parsed by JSON.parse), checking its shape; errors name the JSON path. */
export function graphFromJSON(json: Json): Graph {
  const fail = (path: string, why: string): never => {
    throw new IRError(`JSON graph: ${path}: ${why}`);
  };
  const obj = (v: Json, path: string): Record<string, Json> =>
    v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, Json>) : fail(path, 'expected an object');
  const arr = (v: Json, path: string): Json[] => (Array.isArray(v) ? v : fail(path, 'expected an array'));
  const str = (v: Json, path: string): string => (typeof v === 'string' ? v : fail(path, 'expected a string'));
  const dim = (v: Json, path: string): Dim => {
    if (typeof v === 'number' && Number.isInteger(v)) return v;
    if (typeof v !== 'string') return fail(path, 'expected a dim (an integer, or dim text such as "P+S")');
    try {
      return parseDim(v);
    } catch (e) {
      return fail(path, (e as Error).message);
    }
  };
  const type = (v: Json, path: string): TensorType => {
    const o = obj(v, path);
    const dtype = str(o.dtype, `${path}.dtype`);
    if (!isDType(dtype)) fail(`${path}.dtype`, `unknown dtype '${dtype}'`);
    return { dtype: dtype as DType, shape: arr(o.shape, `${path}.shape`).map((d, i) => dim(d, `${path}.shape[${i}]`)) };
  };
  const attr = (v: Json, path: string): AttrValue => {
    if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'string') return v;
    if (Array.isArray(v)) return v.map((x, i) => (typeof x === 'number' ? x : dim(obj(x, `${path}[${i}]`).dim, `${path}[${i}].dim`))) as AttrValue;
    const o = obj(v, path);
    if ('dim' in o) return dim(o.dim, `${path}.dim`);
    const f = { nan: NaN, inf: Infinity, '-inf': -Infinity }[str(o.float, `${path}.float`)];
    return f ?? fail(`${path}.float`, "expected 'nan', 'inf' or '-inf'");
  };
  const attrs = (v: Json, path: string): Record<string, AttrValue> => {
    const out: Record<string, AttrValue> = {};
    for (const [k, x] of Object.entries(obj(v ?? {}, path))) out[k] = attr(x, `${path}.${k}`);
    return out;
  };
  const weight = (v: Json, path: string): WeightExpr => {
    const o = obj(v, path);
    if ('tensor' in o) return { kind: 'tensor', name: str(o.tensor, `${path}.tensor`) };
    return { kind: 'call', fn: str(o.fn, `${path}.fn`), args: arr(o.args, `${path}.args`).map((a, i) => weight(a, `${path}.args[${i}]`)), attrs: attrs(o.attrs, `${path}.attrs`) };
  };

  const root = obj(json, '$');
  if (root.format !== GRAPH_JSON_FORMAT) fail('$.format', `expected "${GRAPH_JSON_FORMAT}"`);
  if (root.version !== GRAPH_JSON_VERSION) fail('$.version', `version ${String(root.version)} is not supported (this reader knows ${GRAPH_JSON_VERSION})`);
  const g = new Graph(str(root.name, '$.name'));
  g.symbols = arr(root.symbols ?? [], '$.symbols').map((s, i) => str(s, `$.symbols[${i}]`));

  const values = new Map<string, Value>();
  const define = (v: Value, path: string) => {
    if (values.has(v.name)) fail(path, `%${v.name} is defined twice`);
    values.set(v.name, v);
    return v;
  };
  const use = (name: Json, path: string): Value => values.get(str(name, path)) ?? fail(path, `%${String(name)} is not defined (before this point)`);

  g.inputs = arr(root.inputs ?? [], '$.inputs').map((x, i) => {
    const o = obj(x, `$.inputs[${i}]`);
    const v = new Value(str(o.name, `$.inputs[${i}].name`), type(o.type, `$.inputs[${i}].type`), { kind: 'input', state: o.state === true });
    return define(v, `$.inputs[${i}]`);
  });
  g.params = arr(root.params ?? [], '$.params').map((x, i) => {
    const o = obj(x, `$.params[${i}]`);
    const v = new Value(str(o.name, `$.params[${i}].name`), type(o.type, `$.params[${i}].type`), { kind: 'param', source: weight(o.source, `$.params[${i}].source`) });
    return define(v, `$.params[${i}]`);
  });
  g.nodes = arr(root.nodes ?? [], '$.nodes').map((x, i) => {
    const p = `$.nodes[${i}]`;
    const o = obj(x, p);
    const inputs = arr(o.inputs ?? [], `${p}.inputs`).map((n, k) => use(n, `${p}.inputs[${k}]`));
    const results = arr(o.results, `${p}.results`).map((r, k) => {
      const ro = obj(r, `${p}.results[${k}]`);
      return { name: str(ro.name, `${p}.results[${k}].name`), type: type(ro.type, `${p}.results[${k}].type`) };
    });
    const node = makeNode(str(o.op, `${p}.op`), inputs, attrs(o.attrs, `${p}.attrs`), results);
    node.outputs.forEach((v, k) => define(v, `${p}.results[${k}]`));
    return node;
  });
  g.outputs = arr(root.outputs ?? [], '$.outputs').map((x, i) => {
    const o = obj(x, `$.outputs[${i}]`);
    return { name: str(o.name, `$.outputs[${i}].name`), value: use(o.value, `$.outputs[${i}].value`) };
  });
  g.updates = arr(root.updates ?? [], '$.updates').map((x, i) => {
    const o = obj(x, `$.updates[${i}]`);
    return { state: use(o.state, `$.updates[${i}].state`), value: use(o.value, `$.updates[${i}].value`) };
  });
  return g;
}

/** Parses JSON text and reads the graph; malformed JSON is an IRError too. */
export function parseGraphJSON(text: string, file?: string): Graph {
  let json: Json;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new IRError(`${file ? `${file}: ` : ''}invalid JSON: ${(e as Error).message}`);
  }
  try {
    return graphFromJSON(json);
  } catch (e) {
    if (e instanceof IRError && file) throw new IRError(`${file}: ${e.message}`);
    throw e;
  }
}
