// Node attributes: typed values checked against each op's schema.
import { type Dim, dimEquals, dimToString, SymDim } from './dim.js';

export type AttrType = 'int' | 'float' | 'bool' | 'string' | 'ints' | 'floats' | 'dim' | 'dims';

/** A 'dim' attribute holds a Dim (a number or a SymDim); 'dims' a list of them. */
export type AttrValue = number | boolean | string | SymDim | readonly number[] | readonly Dim[];

export type Attrs = Readonly<Record<string, AttrValue>>;

export interface AttrSpec {
  readonly type: AttrType;
  /** Filled in when the attribute is absent; omitted by the printer when equal. */
  readonly default?: AttrValue;
  /** Absent and no default: the attribute is simply not set. */
  readonly optional?: boolean;
  /** For strings: the allowed values. */
  readonly oneOf?: readonly string[];
  readonly doc?: string;
}

export type AttrSchema = Readonly<Record<string, AttrSpec>>;

/** Checks one value against its spec; returns a message, or undefined when it fits. */
export function checkAttr(spec: AttrSpec, value: AttrValue): string | undefined {
  const is = describeAttr(value);
  switch (spec.type) {
    case 'int':
      return typeof value === 'number' && Number.isInteger(value) ? undefined : `expected an integer, got ${is}`;
    case 'float':
      return typeof value === 'number' ? undefined : `expected a number, got ${is}`;
    case 'bool':
      return typeof value === 'boolean' ? undefined : `expected true or false, got ${is}`;
    case 'string':
      if (typeof value !== 'string') return `expected a string, got ${is}`;
      if (spec.oneOf && !spec.oneOf.includes(value)) return `expected one of ${spec.oneOf.map((s) => JSON.stringify(s)).join(', ')}, got ${JSON.stringify(value)}`;
      return undefined;
    case 'ints':
      return Array.isArray(value) && value.every((v) => typeof v === 'number' && Number.isInteger(v)) ? undefined : `expected a list of integers, got ${is}`;
    case 'floats':
      return Array.isArray(value) && value.every((v) => typeof v === 'number') ? undefined : `expected a list of numbers, got ${is}`;
    case 'dim':
      return (typeof value === 'number' && Number.isInteger(value)) || value instanceof SymDim ? undefined : `expected a dimension, got ${is}`;
    case 'dims':
      return Array.isArray(value) && value.every((v) => typeof v === 'number' ? Number.isInteger(v) : typeof v === 'object') ? undefined : `expected a list of dimensions, got ${is}`;
  }
}

function describeAttr(v: AttrValue): string {
  if (v instanceof SymDim) return v.key;
  if (Array.isArray(v)) return `[${v.map((x) => (typeof x === 'number' ? String(x) : dimToString(x as Dim))).join(', ')}]`;
  return typeof v === 'string' ? JSON.stringify(v) : String(v);
}

export function attrEquals(a: AttrValue, b: AttrValue): boolean {
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    return a.every((x, i) => dimEquals(x as Dim, b[i] as Dim));
  }
  if (a instanceof SymDim || b instanceof SymDim) return (typeof a === 'number' || a instanceof SymDim) && (typeof b === 'number' || b instanceof SymDim) && dimEquals(a, b);
  return a === b;
}

/** Fills defaults and reports unknown, missing or ill-typed attributes as messages. */
export function normalizeAttrs(schema: AttrSchema, given: Attrs): { attrs: Record<string, AttrValue>; errors: string[] } {
  const attrs: Record<string, AttrValue> = {};
  const errors: string[] = [];
  for (const [name, value] of Object.entries(given)) {
    const spec = schema[name];
    if (!spec) {
      const known = Object.keys(schema);
      errors.push(`unknown attribute '${name}'${known.length ? ` (known: ${known.join(', ')})` : ' (this op takes none)'}`);
      continue;
    }
    const bad = checkAttr(spec, value);
    if (bad) errors.push(`attribute '${name}': ${bad}`);
    else attrs[name] = Array.isArray(value) ? [...(value as readonly number[])] : value;
  }
  for (const [name, spec] of Object.entries(schema)) {
    if (name in attrs || errors.some((e) => e.startsWith(`attribute '${name}'`))) continue;
    if (spec.default !== undefined) attrs[name] = spec.default;
    else if (!spec.optional) errors.push(`missing attribute '${name}' (${spec.type})`);
  }
  return { attrs, errors };
}
