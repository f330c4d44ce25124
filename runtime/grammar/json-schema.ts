// JSON Schema → GBNF for the subset that maps to a grammar: type (one or a list) object / array /
// string / number / integer / boolean / null; properties, required, additionalProperties; items
// (a schema, or a list as a tuple), prefixItems, minItems, maxItems; enum, const, anyOf, oneOf,
// allOf of object schemas; string minLength, maxLength, pattern, format (date, time, date-time,
// uuid); integer minimum / maximum / exclusive bounds; local $ref. As llama.cpp's converter does,
// properties come in the schema's order (required ones first), additional properties default to
// none when `properties` is given, and the empty schema means any object. Number bounds,
// uniqueItems and other assertions a grammar cannot express are not enforced (listed in
// IGNORED); keywords that would change the language in ways we cannot follow are refused.
import { SchemaError } from './errors.js';
import { integerRangeExpr } from './int-range.js';
import { gbnfLiteral, JSON_RULES, STRING_FORMATS } from './json-rules.js';
import { gbnfChar, patternToGbnf } from './regex.js';

type Schema = Readonly<Record<string, unknown>>;

/** Keywords that restrict the language in ways this converter does not follow: refused. */
const REFUSED = ['not', 'if', 'then', 'else', 'patternProperties', 'dependentSchemas', 'dependentRequired', 'propertyNames', 'contains', 'unevaluatedProperties', 'unevaluatedItems'];
/** Assertions a grammar does not enforce; generation may produce values they reject. */
export const IGNORED = ['minimum and maximum of numbers (integers are bounded)', 'multipleOf', 'uniqueItems', 'minProperties', 'maxProperties'];

export function jsonSchemaToGbnf(schema: unknown): string {
  return new SchemaConverter(schema).convert();
}

class SchemaConverter {
  private readonly rules = new Map<string, string>();
  private readonly refNames = new Map<string, string>();

  constructor(private readonly root: unknown) {}

  convert(): string {
    this.rules.set('root', ''); // reserved for the start rule, written last
    this.rules.set('root', this.visit(this.root, '', 'root'));
    return [...this.rules].map(([n, b]) => `${n} ::= ${b}`).join('\n') + '\n';
  }

  /** A GBNF expression for the values `schema` allows. */
  private visit(schema: unknown, path: string, hint: string): string {
    if (schema === true) return this.primitive('value');
    if (schema === false) throw new SchemaError('the schema `false` allows no value, so nothing can be generated', path);
    if (typeof schema !== 'object' || schema === null || Array.isArray(schema)) throw new SchemaError(`a schema must be an object or a boolean, got ${JSON.stringify(schema)}`, path);
    const s = schema as Schema;
    for (const k of REFUSED) if (k in s) throw new SchemaError(`'${k}' is not supported in schemas for constrained generation; remove it or express it with anyOf / enum`, path);
    if (typeof s.$ref === 'string') return this.ref(s.$ref, path);
    if ('const' in s) return `${gbnfLiteral(JSON.stringify(s.const))} space${this.use('space')}`;
    if (Array.isArray(s.enum)) {
      if (s.enum.length === 0) throw new SchemaError('enum is empty, so no value is allowed', `${path}/enum`);
      this.use('space');
      return this.rule(hint, `(${s.enum.map((v) => gbnfLiteral(JSON.stringify(v))).join(' | ')}) space`);
    }
    for (const key of ['anyOf', 'oneOf'] as const) {
      if (!(key in s)) continue;
      const list = s[key];
      if (!Array.isArray(list) || list.length === 0) throw new SchemaError(`${key} must be a non-empty array of schemas`, `${path}/${key}`);
      return this.rule(hint, list.map((sub, i) => this.visit(sub, `${path}/${key}/${i}`, `${hint}-${i}`)).join(' | '));
    }
    if (Array.isArray(s.allOf)) return this.visit(this.mergeAllOf(s, path), path, hint);
    if (Array.isArray(s.type)) {
      if (s.type.length === 0) throw new SchemaError('type is an empty list', `${path}/type`);
      return this.rule(hint, s.type.map((t) => this.visit({ ...s, type: t }, path, `${hint}-${String(t)}`)).join(' | '));
    }
    const type = s.type ?? inferType(s);
    switch (type) {
      case 'object': return this.object(s, path, hint);
      case 'array': return this.array(s, path, hint);
      case 'string': return this.string(s, path, hint);
      case 'integer': return this.integer(s, path, hint);
      case 'number':
      case 'boolean':
      case 'null':
        return this.primitive(type as string);
      case undefined:
        return this.primitive('value');
      default:
        throw new SchemaError(`unknown type ${JSON.stringify(type)}; the types are object, array, string, number, integer, boolean, null`, `${path}/type`);
    }
  }

  private object(s: Schema, path: string, hint: string): string {
    const props = (s.properties ?? {}) as Record<string, unknown>;
    if (typeof props !== 'object' || props === null || Array.isArray(props)) throw new SchemaError('properties must be an object', `${path}/properties`);
    const names = Object.keys(props);
    const required = new Set(Array.isArray(s.required) ? (s.required as unknown[]).map(String) : []);
    const extra = s.additionalProperties ?? (names.length === 0 && required.size === 0);
    if (names.length === 0 && required.size === 0 && extra === true) return this.primitive('object');
    this.use('space');
    const kv = (name: string, sub: unknown) => `${gbnfLiteral(JSON.stringify(name))} space ":" space ${this.visit(sub, `${path}/properties/${escapePointer(name)}`, `${hint}-${name}`)}`;
    const keyOrder = [...names, ...[...required].filter((r) => !names.includes(r))];
    const req = keyOrder.filter((n) => required.has(n)).map((n) => this.rule(`${hint}-${n}-kv`, kv(n, props[n] ?? true)));
    const opt = keyOrder.filter((n) => !required.has(n)).map((n) => this.rule(`${hint}-${n}-kv`, kv(n, props[n])));
    const add = extra === false ? undefined : this.rule(`${hint}-additional-kv`, `${this.keyOtherThan(keyOrder, hint)} ":" space ${this.visit(extra, `${path}/additionalProperties`, `${hint}-additional`)}`);
    // After the first member every member is "," space member; optional ones may be left out.
    const addTail = add ? `("," space ${add})*` : '';
    let members: string;
    if (req.length > 0) {
      members = [req.join(' "," space '), ...opt.map((o) => `("," space ${o})?`), addTail].filter(Boolean).join(' ');
    } else {
      let tail = addTail === '' ? '' : this.rule(`${hint}-rest`, addTail);
      const firsts: string[] = add ? [`${add} ${tail}`.trim()] : [];
      for (let i = opt.length - 1; i >= 0; i--) {
        firsts.unshift(`${opt[i]} ${tail}`.trim());
        tail = this.rule(`${hint}-rest`, `("," space ${opt[i]})? ${tail}`.trim());
      }
      members = firsts.length === 0 ? '' : `(${firsts.join(' | ')})?`;
    }
    return this.rule(hint, `"{" space ${members} "}" space`.replace(/ {2,}/g, ' '));
  }

  /** A quoted key that is not one of `keys` (additional properties may not shadow declared ones). */
  private keyOtherThan(keys: readonly string[], hint: string): string {
    this.use('char');
    this.use('space');
    if (keys.length === 0) return this.primitive('string');
    interface Node { readonly next: Map<string, Node>; end: boolean }
    const trie: Node = { next: new Map(), end: false };
    for (const k of keys) {
      let n = trie;
      for (const ch of JSON.stringify(k).slice(1, -1)) {
        if (!n.next.has(ch)) n.next.set(ch, { next: new Map(), end: false });
        n = n.next.get(ch)!;
      }
      n.end = true;
    }
    const name = (node: Node): string => {
      const children = [...node.next];
      const others = children.map(([ch]) => ch).filter((ch) => ch !== '\\').map((ch) => gbnfChar(ch.codePointAt(0)!)).join('');
      const options = children.map(([ch, child]) => `${gbnfLiteral(ch)} ${name(child)}`);
      // Leaving the trie: any other character, then anything.
      options.push(`[^"\\\\\\x7F\\x00-\\x1F${others}] char* "\\"" space`);
      if (!node.next.has('\\')) options.push('[\\\\] (["\\\\/bfnrt] | "u" [0-9a-fA-F]{4}) char* "\\"" space');
      if (!node.end) options.push('"\\"" space');
      return this.rule(`${hint}-other-key`, options.join(' | '));
    };
    return this.rule(`${hint}-other-key`, `"\\"" ${name(trie)}`);
  }

  private array(s: Schema, path: string, hint: string): string {
    this.use('space');
    const tuple = Array.isArray(s.prefixItems) ? s.prefixItems : Array.isArray(s.items) ? s.items : undefined;
    if (tuple) {
      const key = Array.isArray(s.prefixItems) ? 'prefixItems' : 'items';
      const items = tuple.map((sub, i) => this.visit(sub, `${path}/${key}/${i}`, `${hint}-${i}`));
      return this.rule(hint, `"[" space ${items.join(' "," space ')} "]" space`.replace(/ {2,}/g, ' '));
    }
    const min = count(s.minItems, `${path}/minItems`) ?? 0;
    const max = count(s.maxItems, `${path}/maxItems`) ?? Infinity;
    if (max < min) throw new SchemaError(`maxItems ${max} is below minItems ${min}`, path);
    if (max === 0) return this.rule(hint, '"[" space "]" space');
    const item = s.items === undefined ? this.primitive('value') : this.visit(s.items, `${path}/items`, `${hint}-item`);
    const more = repetition(Math.max(min - 1, 0), max - 1);
    const list = `${item} ${more === '' ? '' : `("," space ${item})${more}`}`.trim();
    return this.rule(hint, `"[" space ${min === 0 ? `(${list})?` : list} "]" space`);
  }

  private string(s: Schema, path: string, hint: string): string {
    this.use('space');
    if (s.format !== undefined && s.pattern === undefined) {
      const format = s.format as (typeof STRING_FORMATS)[number];
      if (!STRING_FORMATS.includes(format)) throw new SchemaError(`format ${JSON.stringify(s.format)} is not supported; the formats are ${STRING_FORMATS.join(', ')}`, `${path}/format`);
      return this.rule(`${hint}`, `"\\"" ${this.primitive(format)} "\\"" space`);
    }
    if (s.pattern !== undefined) {
      if (typeof s.pattern !== 'string') throw new SchemaError('pattern must be a string', `${path}/pattern`);
      return this.rule(hint, `"\\"" ${patternToGbnf(s.pattern, `${path}/pattern`)} "\\"" space`);
    }
    const min = count(s.minLength, `${path}/minLength`) ?? 0;
    const max = count(s.maxLength, `${path}/maxLength`) ?? Infinity;
    if (min === 0 && max === Infinity) return this.primitive('string');
    if (max < min) throw new SchemaError(`maxLength ${max} is below minLength ${min}`, path);
    this.use('char');
    return this.rule(hint, `"\\"" char${repetition(min, max)} "\\"" space`);
  }

  private integer(s: Schema, path: string, hint: string): string {
    const bound = (key: string): number | undefined => {
      const v = s[key];
      if (v === undefined || typeof v === 'boolean') return undefined;
      if (typeof v !== 'number' || !Number.isFinite(v)) throw new SchemaError(`${key} must be a number`, `${path}/${key}`);
      return v;
    };
    const lows = [bound('minimum') === undefined ? undefined : Math.ceil(bound('minimum')!), bound('exclusiveMinimum') === undefined ? undefined : Math.floor(bound('exclusiveMinimum')!) + 1].filter((x) => x !== undefined);
    const highs = [bound('maximum') === undefined ? undefined : Math.floor(bound('maximum')!), bound('exclusiveMaximum') === undefined ? undefined : Math.ceil(bound('exclusiveMaximum')!) - 1].filter((x) => x !== undefined);
    if (lows.length === 0 && highs.length === 0) return this.primitive('integer');
    const min = lows.length ? Math.max(...lows) : undefined;
    const max = highs.length ? Math.min(...highs) : undefined;
    if (min !== undefined && max !== undefined && max < min) throw new SchemaError(`no integer lies between ${min} and ${max}`, path);
    this.use('space');
    return this.rule(hint, `${integerRangeExpr(min, max)} space`);
  }

  private ref(ref: string, path: string): string {
    const known = this.refNames.get(ref);
    if (known) return known;
    if (!ref.startsWith('#')) throw new SchemaError(`only local references ("#/…") are supported, got ${JSON.stringify(ref)}`, `${path}/$ref`);
    let target: unknown = this.root;
    for (const part of ref.slice(1).split('/').filter(Boolean).map(unescapePointer)) {
      if (typeof target !== 'object' || target === null || !(part in target)) throw new SchemaError(`the reference ${JSON.stringify(ref)} leads nowhere (no '${part}')`, `${path}/$ref`);
      target = (target as Record<string, unknown>)[part];
    }
    const name = this.freshName(`ref-${ref.split('/').pop() || 'root'}`);
    this.refNames.set(ref, name);
    this.rules.set(name, ''); // reserved: a recursive reference finds the name
    this.rules.set(name, this.visit(target, ref.slice(1), name));
    return name;
  }

  /**
   * allOf, as llama.cpp reads it: enums intersect; object parts merge, the properties of each part
   * required and those of an anyOf / oneOf inside it optional.
   */
  private mergeAllOf(s: Schema, path: string): Schema {
    const deref = (p: unknown): unknown => (typeof p === 'object' && p !== null && typeof (p as Schema).$ref === 'string' ? this.resolve((p as Schema).$ref as string, path) : p);
    const parts = (s.allOf as unknown[]).map(deref);
    const { allOf: _, ...rest } = s;
    if (parts.every((p) => typeof p === 'object' && p !== null && Array.isArray((p as Schema).enum))) {
      const lists = parts.map((p) => ((p as Schema).enum as unknown[]).map((v) => JSON.stringify(v)));
      const common = lists[0].filter((v) => lists.every((l) => l.includes(v)));
      return { ...rest, enum: common.map((v) => JSON.parse(v) as unknown) };
    }
    const properties: Record<string, unknown> = { ...((s.properties ?? {}) as object) };
    const required = new Set<string>(Array.isArray(s.required) ? (s.required as string[]) : []);
    const add = (p: unknown, isRequired: boolean, at: string) => {
      if (typeof p !== 'object' || p === null || Array.isArray(p)) throw new SchemaError('allOf is supported for object schemas (their properties are merged) and for enums (intersected)', at);
      const part = p as Schema;
      for (const key of ['anyOf', 'oneOf'] as const) if (Array.isArray(part[key])) (part[key] as unknown[]).forEach((q, j) => add(deref(q), false, `${at}/${key}/${j}`));
      if (!('properties' in part) && !Array.isArray(part.anyOf) && !Array.isArray(part.oneOf)) throw new SchemaError('allOf is supported for object schemas (their properties are merged) and for enums (intersected)', at);
      for (const [name, sub] of Object.entries((part.properties ?? {}) as Record<string, unknown>)) {
        properties[name] = sub;
        if (isRequired) required.add(name);
      }
    };
    parts.forEach((p, i) => add(p, true, `${path}/allOf/${i}`));
    return { ...rest, type: 'object', properties, required: [...required] };
  }

  private resolve(ref: string, path: string): unknown {
    let target: unknown = this.root;
    for (const part of ref.slice(1).split('/').filter(Boolean).map(unescapePointer)) {
      if (typeof target !== 'object' || target === null || !(part in target)) throw new SchemaError(`the reference ${JSON.stringify(ref)} leads nowhere`, path);
      target = (target as Record<string, unknown>)[part];
    }
    return target;
  }

  /** The rule of the JSON table `name` (and what it needs); its name as an expression. */
  private primitive(name: string): string {
    this.use(name);
    return name;
  }

  /** Adds a JSON table rule and its dependencies; returns '' so it can be appended to text. */
  private use(name: string): string {
    if (this.rules.has(name)) return '';
    const r = JSON_RULES[name];
    this.rules.set(name, r.body);
    for (const d of r.deps) this.use(d);
    return '';
  }

  /** A named rule for `body` (one name per distinct body), or `body` itself when it is a name. */
  private rule(hint: string, body: string): string {
    if (/^[a-zA-Z0-9-]+$/.test(body)) return body;
    for (const [name, b] of this.rules) if (b === body && name.startsWith(sanitize(hint))) return name;
    const name = this.freshName(hint);
    this.rules.set(name, body);
    return name;
  }

  private freshName(hint: string): string {
    const base = sanitize(hint);
    let name = base;
    for (let i = 1; this.rules.has(name) || name in JSON_RULES; i++) name = `${base}-${i}`;
    return name;
  }
}

function inferType(s: Schema): string | undefined {
  if (Object.keys(s).length === 0) return 'object';
  if ('properties' in s || 'additionalProperties' in s || 'required' in s) return 'object';
  if ('items' in s || 'prefixItems' in s || 'minItems' in s || 'maxItems' in s) return 'array';
  if ('pattern' in s || 'format' in s || 'minLength' in s || 'maxLength' in s) return 'string';
  return undefined;
}

function count(v: unknown, path: string): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw new SchemaError(`must be a whole number ≥ 0, got ${JSON.stringify(v)}`, path);
  return v;
}

/** GBNF repetition suffix for {min,max}: '' for exactly one. */
function repetition(min: number, max: number): string {
  if (min === 1 && max === 1) return '';
  if (min === 0 && max === 0) return '{0}';
  if (max === Infinity) return min === 0 ? '*' : min === 1 ? '+' : `{${min},}`;
  if (min === 0 && max === 1) return '?';
  return min === max ? `{${min}}` : `{${min},${max}}`;
}

function sanitize(hint: string): string {
  return hint.replace(/[^a-zA-Z0-9-]+/g, '-').replace(/^-+|-+$/g, '') || 'rule';
}

function escapePointer(s: string): string {
  return s.replace(/~/g, '~0').replace(/\//g, '~1');
}

function unescapePointer(s: string): string {
  return decodeURIComponent(s).replace(/~1/g, '/').replace(/~0/g, '~');
}
