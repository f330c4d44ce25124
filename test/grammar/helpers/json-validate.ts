// An independent checker for the JSON Schema subset the tests generate (not the converter's
// code): the errors of `value` against `schema`, [] when it validates.
export type TestSchema = Readonly<Record<string, unknown>>;

export function validate(value: unknown, schema: TestSchema, path = '$'): string[] {
  if ('const' in schema) return JSON.stringify(value) === JSON.stringify(schema.const) ? [] : [`${path}: not the const`];
  if (Array.isArray(schema.enum)) return schema.enum.some((e) => JSON.stringify(e) === JSON.stringify(value)) ? [] : [`${path}: not in the enum`];
  if (Array.isArray(schema.anyOf)) return (schema.anyOf as TestSchema[]).some((s) => validate(value, s, path).length === 0) ? [] : [`${path}: matches no anyOf branch`];
  switch (schema.type) {
    case 'null': return value === null ? [] : [`${path}: not null`];
    case 'boolean': return typeof value === 'boolean' ? [] : [`${path}: not a boolean`];
    case 'number': return typeof value === 'number' ? [] : [`${path}: not a number`];
    case 'integer': {
      if (typeof value !== 'number' || !Number.isInteger(value)) return [`${path}: not an integer`];
      if (typeof schema.minimum === 'number' && value < schema.minimum) return [`${path}: below the minimum`];
      if (typeof schema.maximum === 'number' && value > schema.maximum) return [`${path}: above the maximum`];
      return [];
    }
    case 'string': {
      if (typeof value !== 'string') return [`${path}: not a string`];
      const n = [...value].length;
      if (typeof schema.minLength === 'number' && n < schema.minLength) return [`${path}: shorter than minLength`];
      if (typeof schema.maxLength === 'number' && n > schema.maxLength) return [`${path}: longer than maxLength`];
      if (typeof schema.pattern === 'string' && !new RegExp(schema.pattern, 'u').test(value)) return [`${path}: does not match the pattern`];
      if (schema.format === 'date' && !/^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$/.test(value)) return [`${path}: not a date`];
      if (schema.format === 'uuid' && !/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(value)) return [`${path}: not a uuid`];
      return [];
    }
    case 'array': {
      if (!Array.isArray(value)) return [`${path}: not an array`];
      if (typeof schema.minItems === 'number' && value.length < schema.minItems) return [`${path}: fewer than minItems`];
      if (typeof schema.maxItems === 'number' && value.length > schema.maxItems) return [`${path}: more than maxItems`];
      return value.flatMap((v, i) => (schema.items ? validate(v, schema.items as TestSchema, `${path}[${i}]`) : []));
    }
    case 'object': {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) return [`${path}: not an object`];
      const props = (schema.properties ?? {}) as Record<string, TestSchema>;
      const errors: string[] = [];
      for (const r of (schema.required ?? []) as string[]) if (!(r in value)) errors.push(`${path}: lacks required '${r}'`);
      for (const [k, v] of Object.entries(value)) {
        if (k in props) errors.push(...validate(v, props[k], `${path}.${k}`));
        else if (schema.additionalProperties === false) errors.push(`${path}: has the extra key '${k}'`);
      }
      return errors;
    }
    default:
      return [];
  }
}
