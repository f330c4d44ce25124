// The GBNF rules JSON is built from, shared by JSON mode and the schema converter. Whitespace is
// bounded (at most two newlines and 20 blanks between tokens, as llama.cpp's converter allows),
// so a sampled model cannot run away in whitespace; numbers have at most 16 integer and 16
// fraction digits.

export interface RuleText {
  readonly body: string;
  /** Other rules of this table it references. */
  readonly deps: readonly string[];
}

export const JSON_RULES: Readonly<Record<string, RuleText>> = {
  space: { body: '| " " | "\\n"{1,2} [ \\t]{0,20}', deps: [] },
  boolean: { body: '("true" | "false") space', deps: ['space'] },
  null: { body: '"null" space', deps: ['space'] },
  char: { body: '[^"\\\\\\x7F\\x00-\\x1F] | [\\\\] (["\\\\/bfnrt] | "u" [0-9a-fA-F]{4})', deps: [] },
  string: { body: '"\\"" char* "\\"" space', deps: ['char', 'space'] },
  'integral-part': { body: '[0] | [1-9] [0-9]{0,15}', deps: [] },
  'decimal-part': { body: '[0-9]{1,16}', deps: [] },
  integer: { body: '("-"? integral-part) space', deps: ['integral-part', 'space'] },
  number: { body: '("-"? integral-part) ("." decimal-part)? ([eE] [-+]? integral-part)? space', deps: ['integral-part', 'decimal-part', 'space'] },
  value: { body: 'object | array | string | number | boolean | null', deps: ['object', 'array', 'string', 'number', 'boolean', 'null'] },
  object: { body: '"{" space ( string ":" space value ("," space string ":" space value)* )? "}" space', deps: ['space', 'string', 'value'] },
  array: { body: '"[" space ( value ("," space value)* )? "]" space', deps: ['space', 'value'] },
  // String formats (the text between the quotes).
  date: { body: '[0-9]{4} "-" ( "0" [1-9] | "1" [0-2] ) "-" ( "0" [1-9] | [1-2] [0-9] | "3" [0-1] )', deps: [] },
  time: { body: '([01] [0-9] | "2" [0-3]) ":" [0-5] [0-9] ":" [0-5] [0-9] ( "." [0-9]{3} )? ( "Z" | ( "+" | "-" ) ( [01] [0-9] | "2" [0-3] ) ":" [0-5] [0-9] )', deps: [] },
  'date-time': { body: 'date "T" time', deps: ['date', 'time'] },
  uuid: { body: '[0-9a-fA-F]{8} "-" [0-9a-fA-F]{4} "-" [0-9a-fA-F]{4} "-" [0-9a-fA-F]{4} "-" [0-9a-fA-F]{12}', deps: [] },
};

/** The formats a `format` keyword may name, each the name of its rule above. */
export const STRING_FORMATS = ['date', 'time', 'date-time', 'uuid'] as const;

/** GBNF text of `root ::= <root>` plus every rule it needs from the table. */
export function jsonRulesText(root: string): string {
  const lines = [`root ::= ${root}`];
  const seen = new Set<string>();
  const visit = (name: string) => {
    if (seen.has(name)) return;
    seen.add(name);
    lines.push(`${name} ::= ${JSON_RULES[name].body}`);
    for (const d of JSON_RULES[name].deps) visit(d);
  };
  visit(root);
  return lines.join('\n') + '\n';
}

/** Plain JSON mode: any JSON object (as OpenAI's `json_object` response format). */
export const JSON_OBJECT_GRAMMAR = jsonRulesText('object');

/** A GBNF string literal for `text`. */
export function gbnfLiteral(text: string): string {
  let out = '"';
  for (const ch of text) {
    const cp = ch.codePointAt(0)!;
    if (ch === '"' || ch === '\\') out += `\\${ch}`;
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (cp < 0x20 || cp === 0x7f) out += `\\x${cp.toString(16).padStart(2, '0')}`;
    else out += ch;
  }
  return `${out}"`;
}
