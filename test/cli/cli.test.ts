import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseGraphJSON } from '../../ir/json.js';
import { parseGraph } from '../../ir/parser.js';
import { printGraph } from '../../ir/printer.js';
import { registerPass } from '../../passes/registry.js';
import { main } from '../../src/cli.js';
import { registerCommand } from '../../src/cli/registry.js';

registerPass({
  name: 'test-break',
  description: 'declares a wrong result type',
  run(g) {
    const v = g.nodes[0].outputs[0];
    v.type = { dtype: v.type.dtype, shape: [...v.type.shape, 1] };
    return { changed: true };
  },
});
registerCommand({
  name: 'test-crash',
  summary: 'a command with a bug',
  args: '',
  positionals: { min: 0, max: 0 },
  options: {},
  examples: [],
  run: async () => {
    throw new TypeError("Cannot read properties of undefined (reading 'x')");
  },
});

const GOOD = `graph @t<S>(%x: f32[S, 4]) {
  param %w: f32[2, 4] = "layer.weight"
  param %w2: f32[2, 4] = "layer.weight"
  %a = silu(%x) : f32[S, 4]
  %b = silu(%x) : f32[S, 4]
  %c = add(%a, %b) : f32[S, 4]
  %r = reshape(%c) {shape = [S, 4]} : f32[S, 4]
  %y = matmul(%r, %w) : f32[S, 2]
  %y2 = matmul(%r, %w2) : f32[S, 2]
  %dead = silu(%y) : f32[S, 2]
  output y = %y
  output y2 = %y2
}
`;
// Parses, but %a's declared type is not what silu infers.
const BAD_TYPE = `graph @bad<S>(%x: f32[S, 4]) {
  %a = silu(%x) : f32[S, 5]
  %b = silu(%a) : f32[S, 5]
  output y = %b
}
`;
const BAD_SYNTAX = `graph @bad(%x: f32[4]) {
  %a = silu(%x : f32[4]
}
`;

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'tessera-cli-'));
  writeFileSync(join(dir, 'good.ir'), GOOD);
  writeFileSync(join(dir, 'bad-type.ir'), BAD_TYPE);
  writeFileSync(join(dir, 'bad-syntax.ir'), BAD_SYNTAX);
});

async function cli(args: string[], env: Record<string, string | undefined> = { PATH: process.env.PATH }) {
  let stdout = '', stderr = '';
  const code = await main(args, { stdout: { write: (s: string) => (stdout += s) }, stderr: { write: (s: string) => (stderr += s) }, cwd: dir, env });
  return { code, stdout, stderr };
}

const noStack = (s: string) => expect(s).not.toMatch(/^\s+at /m);

describe('tessera: help and usage', () => {
  it('prints the version', async () => {
    const r = await cli(['--version']);
    expect(r).toMatchObject({ code: 0, stdout: expect.stringMatching(/^tessera \d+\.\d+\.\d+\n$/) });
  });

  it('prints an overview with every command', async () => {
    for (const args of [['--help'], ['-h'], ['help']]) {
      const r = await cli(args);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/^Usage: tessera <command> \[options\]$/m);
      expect(r.stdout).toMatch(/^ {2}dump +print a graph/m);
      expect(r.stdout).toMatch(/^ {2}verify /m);
      expect(r.stdout).toMatch(/Exit codes: 0 success; 1 failure/);
    }
  });

  it('shows usage on stderr with exit 2 when run without a command', async () => {
    const r = await cli([]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('Usage: tessera <command>');
  });

  it('has help with options and examples for every command', async () => {
    for (const cmd of ['dump', 'verify', 'help']) {
      for (const args of [['help', cmd], [cmd, '--help'], [cmd, '-h']]) {
        const r = await cli(args);
        expect(r.code, args.join(' ')).toBe(0);
        expect(r.stdout).toMatch(new RegExp(`^Usage: tessera ${cmd} `, 'm'));
        expect(r.stdout).toMatch(/^Options:$/m);
        expect(r.stdout).toMatch(/^Examples:$/m);
        expect(r.stdout).toContain('-h, --help');
      }
    }
    const dump = (await cli(['help', 'dump'])).stdout;
    for (const flag of ['--passes PIPELINE', '--print-ir-before PASSES', '--print-ir-after PASSES', '--print-ir-after-all', '--print-ir-after-change', '--dump-dir DIR', '--timing', '--format FORMAT', '-o, --output FILE']) {
      expect(dump).toContain(flag);
    }
  });

  it('lists passes and pipelines', async () => {
    const r = await cli(['help', 'passes']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^ {2}canonicalize +DCE, CSE/m);
    expect(r.stdout).toMatch(/^ {2}default +canonicalize/m);
    expect(r.stdout).toMatch(/^ {2}none +\(no passes\)/m);
  });

  it('rejects unknown commands, options and help topics with exit 2', async () => {
    let r = await cli(['dumq', 'good.ir']);
    expect(r).toMatchObject({ code: 2, stdout: '' });
    expect(r.stderr).toMatch(/^tessera: unknown command 'dumq' \(did you mean 'dump'\?\) \(commands: (\S+, )*dump, (\S+, )*help, (\S+, )*verify\)\nRun 'tessera help' for usage\.\n$/);
    r = await cli(['dump', 'good.ir', '--pases', 'default']);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe("tessera dump: unknown option '--pases' (did you mean '--passes'?)\nRun 'tessera help dump' for usage.\n");
    r = await cli(['--frobnicate']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/unknown option '--frobnicate'/);
    r = await cli(['help', 'dumq']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/no help for 'dumq' \(did you mean 'dump'\?\) \(topics: (\S+, )*dump, .*verify, passes\)/);
  });

  it('explains bad option values and argument counts', async () => {
    const cases: [string[], RegExp][] = [
      [['dump', 'good.ir', '--passes'], /option '--passes' needs a value: --passes PIPELINE/],
      [['dump', 'good.ir', '--passes', '--timing'], /option '--passes' needs a value, got the option '--timing'/],
      [['dump', 'good.ir', '--timing=yes'], /option '--timing' takes no value/],
      [['dump', 'good.ir', '--format', 'png'], /option '--format' must be one of text, json, dot, svg, got 'png'/],
      [['dump', 'good.ir', '--format', 'json', '--format', 'dot'], /option '--format' is given twice/],
      [['dump'], /give either a graph file or --model PATH/],
      [['dump', 'a.ir', 'b.ir'], /too many arguments \('b.ir'\)/],
      [['verify'], /missing argument: tessera verify <file.ir>\.\.\./],
    ];
    for (const [args, msg] of cases) {
      const r = await cli(args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(msg);
      noStack(r.stderr);
    }
  });

  it('reports bugs as internal errors, with the stack only on request', async () => {
    let r = await cli(['test-crash']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^tessera test-crash: internal error: Cannot read properties/);
    noStack(r.stderr);
    r = await cli(['test-crash'], { TESSERA_DEBUG: '1' });
    expect(r.stderr).toMatch(/^\s+at /m);
  });
});

describe('tessera dump', () => {
  it('prints the graph as text that parses back to the same graph', async () => {
    const r = await cli(['dump', 'good.ir']);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(r.stdout).toBe(printGraph(parseGraph(GOOD)));
    expect(printGraph(parseGraph(r.stdout))).toBe(r.stdout);
  });

  it('runs a pipeline; the result parses back too', async () => {
    const r = await cli(['dump', 'good.ir', '--passes', 'canonicalize']);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`graph @t<S>(%x: f32[S, 4]) {
  param %w: f32[2, 4] = "layer.weight"
  %a = silu(%x) : f32[S, 4]
  %c = add(%a, %a) : f32[S, 4]
  %y = matmul(%c, %w) : f32[S, 2]
  output y = %y
  output y2 = %y
}
`);
    expect(printGraph(parseGraph(r.stdout))).toBe(r.stdout);
  });

  it('shows the IR after every pass with --print-ir-after-all', async () => {
    const r = await cli(['dump', 'good.ir', '--passes', 'cse,dce,canonicalize', '--print-ir-after-all']);
    expect(r.code).toBe(0);
    expect(r.stderr.split('\n').filter((l) => l.startsWith('//'))).toEqual([
      '// ----- IR after cse (1/3) -----',
      '// ----- IR after dce (2/3) -----',
      '// ----- IR after canonicalize (3/3) -----',
    ]);
    // The last dump on stderr is the result on stdout.
    expect(r.stderr.endsWith(r.stdout)).toBe(true);
  });

  it('prints before chosen passes and after changes only', async () => {
    let r = await cli(['dump', 'good.ir', '--passes', 'dce,canonicalize,dce', '--print-ir-before', 'canonicalize', '--print-ir-after-change']);
    expect(r.stderr.split('\n').filter((l) => l.startsWith('//'))).toEqual([
      '// ----- IR after dce (1/3) -----',
      '// ----- IR before canonicalize (2/3) -----',
      '// ----- IR after canonicalize (2/3) -----',
    ]);
    r = await cli(['dump', 'good.ir', '--passes', 'cse', '--print-ir-after', 'cse,dce', '--print-ir-after=canonicalize']);
    expect(r.stderr.split('\n').filter((l) => l.startsWith('//'))).toEqual(['// ----- IR after cse (1/1) -----']);
    r = await cli(['dump', 'good.ir', '--passes', 'cse', '--print-ir-after', 'cse,dcee']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/print-ir-after: unknown pass 'dcee' \(did you mean 'dce'\?\)/);
  });

  it('writes numbered files with --dump-dir', async () => {
    const r = await cli(['dump', 'good.ir', '--passes', 'cse,dce', '--dump-dir', 'dumps']);
    expect(r.code).toBe(0);
    expect(readdirSync(join(dir, 'dumps')).sort()).toEqual(['000-input.ir', '001-cse.ir', '002-dce.ir']);
    expect(readFileSync(join(dir, 'dumps', '002-dce.ir'), 'utf8')).toBe(r.stdout);
  });

  it('prints a timing table with --timing', async () => {
    const r = await cli(['dump', 'good.ir', '--passes', 'canonicalize', '--timing']);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/^\/\/ ----- pass timing \(1 pass\) -----$/m);
    expect(r.stderr).toMatch(/^1\s+canonicalize\s+\d+\.\d\d\s+\d+\.\d\d\s+\d+\.\d%\s+yes\s+.*nodes-merged=2/m);
  });

  it('rejects unknown passes with the list of known ones', async () => {
    const r = await cli(['dump', 'good.ir', '--passes', 'canonicalize,qkv-merg']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^tessera dump: pipeline 'canonicalize,qkv-merg': unknown pass or pipeline 'qkv-merg' at column 14 (\(did you mean 'qkv-merge'\?\) )?\(known passes: canonicalize, cse, dce, (\S+, )*test-break(, \S+)*; pipelines: default, (\S+, )*none(, \S+)*\)/);
  });

  it('names the pass that broke the graph, and can skip verification', async () => {
    let r = await cli(['dump', 'good.ir', '--passes', 'cse,test-break']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^tessera dump: pass test-break \(2\/2\) produced an invalid graph:\n {2}4:3: node 0 \(%a = silu\): result %a is declared f32\[S, 4, 1\] but silu gives f32\[S, 4\]/);
    noStack(r.stderr);
    r = await cli(['dump', 'good.ir', '--passes', 'test-break', '--no-verify-each']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('%a = silu(%x) : f32[S, 4, 1]');
  });

  it('writes JSON that reads back to the same graph', async () => {
    const r = await cli(['dump', 'good.ir', '--format', 'json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).format).toBe('tessera.graph');
    expect(printGraph(parseGraphJSON(r.stdout))).toBe(printGraph(parseGraph(GOOD)));
    // -o picks the format from the extension, and a .json file is read as JSON.
    expect((await cli(['dump', 'good.ir', '-o', 'good.json'])).code).toBe(0);
    const back = await cli(['dump', 'good.json', '--passes', 'default']);
    expect(back.code).toBe(0);
    expect(back.stdout).toBe((await cli(['dump', 'good.ir', '--passes', 'default'])).stdout);
  });

  it('writes Graphviz DOT', async () => {
    const r = await cli(['dump', 'good.ir', '--format', 'dot']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^digraph "t" \{/);
    expect(r.stdout).toContain('label="matmul\\n%y: f32[S, 2]"');
    expect((await cli(['dump', 'good.ir', '-o', 'good.dot'])).code).toBe(0);
    expect(readFileSync(join(dir, 'good.dot'), 'utf8')).toBe(r.stdout);
  });

  it('explains how to get Graphviz when dot is missing for --format svg', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'tessera-nopath-'));
    const r = await cli(['dump', 'good.ir', '--format', 'svg', '-o', 'out.svg'], { PATH: empty });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^tessera dump: --format svg needs Graphviz's 'dot' program, which is not on PATH\./);
    expect(r.stderr).toContain('apt-get install graphviz');
    expect(existsSync(join(dir, 'out.svg'))).toBe(false);
    noStack(r.stderr);
  });

  it('runs dot -Tsvg when it is on PATH', async () => {
    const bin = mkdtempSync(join(tmpdir(), 'tessera-fakedot-'));
    // A stand-in for Graphviz that checks its arguments and wraps the DOT it reads.
    writeFileSync(join(bin, 'dot'), '#!/bin/sh\n[ "$1" = "-Tsvg" ] || exit 3\necho "<svg><!--"; cat; echo "--></svg>"\n');
    chmodSync(join(bin, 'dot'), 0o755);
    const r = await cli(['dump', 'good.ir', '-o', 'good.svg'], { PATH: `${bin}:${process.env.PATH}` });
    expect(r.code).toBe(0);
    const svg = readFileSync(join(dir, 'good.svg'), 'utf8');
    expect(svg).toMatch(/^<svg><!--\ndigraph "t"/);
  });

  it('fails cleanly on missing files and invalid IR', async () => {
    let r = await cli(['dump', 'nope.ir']);
    expect(r).toMatchObject({ code: 1, stderr: "tessera dump: cannot read 'nope.ir': no such file\n" });
    r = await cli(['dump', 'bad-syntax.ir']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^tessera dump: bad-syntax\.ir:2:\d+: /);
    noStack(r.stderr);
    r = await cli(['dump', 'bad-type.ir']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^tessera dump: bad-type\.ir is not a valid graph:\n {2}bad-type\.ir:2:3: node 0 \(%a = silu\): result %a is declared f32\[S, 5\] but silu gives f32\[S, 4\]/);
  });
});

describe('tessera verify', () => {
  it('says ok with counts', async () => {
    const r = await cli(['verify', 'good.ir']);
    expect(r).toEqual({ code: 0, stdout: 'ok: 7 nodes, 2 params, 1 input, 2 outputs\n', stderr: '' });
  });

  it('lists every problem with its location, and exits 1', async () => {
    const r = await cli(['verify', 'bad-type.ir']);
    expect(r).toEqual({
      code: 1,
      stdout: '',
      stderr: 'bad-type.ir:2:3: node 0 (%a = silu): result %a is declared f32[S, 5] but silu gives f32[S, 4]\nbad-type.ir: 1 error\n',
    });
  });

  it('holds a file to what running it needs unless --fragment: a graph without outputs fails', async () => {
    writeFileSync(join(dir, 'no-outputs.ir'), 'graph @t<S>(%x: f32[S, 4]) {\n  %a = silu(%x) : f32[S, 4]\n}\n');
    const r = await cli(['verify', 'no-outputs.ir']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^no-outputs\.ir:1:\d+: graph @t has no outputs/m);
    expect(await cli(['verify', '--fragment', 'no-outputs.ir'])).toMatchObject({ code: 0, stdout: 'ok: 1 node, 0 params, 1 input, 0 outputs\n' });
  });

  it('checks several files, naming each', async () => {
    const r = await cli(['verify', 'good.ir', 'bad-syntax.ir', 'nope.ir', 'good.json']);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^good\.ir: ok: 7 nodes/m);
    expect(r.stderr).toMatch(/^bad-syntax\.ir:2:\d+: /m);
    expect(r.stderr).toMatch(/^cannot read 'nope\.ir': no such file$/m);
  });
});
