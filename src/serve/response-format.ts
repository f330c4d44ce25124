// The OpenAI `response_format` field as structured-output options: {type: "text"} is free text,
// {type: "json_object"} any JSON object, {type: "json_schema", json_schema: {schema}} JSON valid
// against the schema. The schema is compiled here, so an unsupported one is a 400 naming the
// field before anything is queued or streamed.
import type { StructuredOutputParams } from '../../runtime/grammar/options.js';
import { buildGrammar, GrammarError, jsonSchemaToGbnf, SchemaError } from '../../runtime/grammar/index.js';
import { badRequest } from './http-error.js';

const FIELD = 'response_format';

export function responseFormat(v: unknown): StructuredOutputParams {
  if (v === undefined || v === null) return {};
  if (typeof v !== 'object' || Array.isArray(v)) throw badRequest(`${FIELD} must be an object with a type ("text", "json_object" or "json_schema")`, FIELD);
  const format = v as { type?: unknown; json_schema?: unknown };
  switch (format.type) {
    case 'text': return {};
    case 'json_object': return { json: true };
    case 'json_schema': return { jsonSchema: checkedSchema(format.json_schema) };
    default: throw badRequest(`${FIELD}.type must be "text", "json_object" or "json_schema", got ${JSON.stringify(format.type)}`, FIELD);
  }
}

function checkedSchema(spec: unknown): object {
  const schema = typeof spec === 'object' && spec !== null ? (spec as { schema?: unknown }).schema : undefined;
  // A json_schema without a schema constrains nothing beyond JSON, as OpenAI's strict=false.
  if (schema === undefined) return {};
  if (typeof schema !== 'object' || schema === null || Array.isArray(schema)) throw badRequest(`${FIELD}.json_schema.schema must be a JSON schema (an object)`, FIELD);
  try {
    buildGrammar(jsonSchemaToGbnf(schema));
  } catch (e) {
    if (e instanceof SchemaError || e instanceof GrammarError) throw badRequest(`${FIELD}.json_schema.schema: ${e.message}`, FIELD);
    throw e;
  }
  return schema;
}
