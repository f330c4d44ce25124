import { describe, expect, it } from 'vitest';
import '../../passes/index.js';
import { findPipeline, formatPipeline, parsePipelineText, PipelineError, registerPipeline, resolvePipeline } from '../../passes/pipeline.js';
import { PIPELINES } from '../../passes/pipelines.js';
import { registerPass } from '../../passes/registry.js';

// A pass with options, to test option parsing and checking.
registerPass({
  name: 'test-tiled',
  description: 'does nothing, with options',
  options: { tile: { type: 'int', default: 64 }, mode: { type: 'string', default: 'fast', oneOf: ['fast', 'exact'] }, scale: { type: 'float', optional: true } },
  run: () => ({ changed: false }),
});

const names = (text: string, target?: string) => resolvePipeline(text, { target }).map((s) => s.pass.name);

describe('pipeline strings', () => {
  it('split into steps with options', () => {
    expect(parsePipelineText('')).toEqual([]);
    expect(parsePipelineText('  ')).toEqual([]);
    expect(parsePipelineText('canonicalize, cse ,dce')).toEqual([
      { name: 'canonicalize', options: {}, column: 1 },
      { name: 'cse', options: {}, column: 15 },
      { name: 'dce', options: {}, column: 20 },
    ]);
    expect(parsePipelineText('a{tile=64, mode=exact scale=-1.5e-3 name="x,}" on=true list=[1, 2]}')[0].options).toEqual({
      tile: 64, mode: 'exact', scale: -0.0015, name: 'x,}', on: true, list: [1, 2],
    });
  });

  it('report syntax errors with a column', () => {
    expect(() => parsePipelineText('cse,,dce')).toThrow(/expected a pass name, found ',' at column 5/);
    expect(() => parsePipelineText('cse dce')).toThrow(/expected ',' between passes, found 'd' at column 5/);
    expect(() => parsePipelineText('cse{tile}')).toThrow(/expected '=' after option 'tile' at column 9/);
    expect(() => parsePipelineText('cse{tile=1')).toThrow(/unterminated options/);
    expect(() => parsePipelineText('cse{a=1,a=2}')).toThrow(/option 'a' is given twice/);
    expect(() => parsePipelineText('cse,')).toThrow(PipelineError);
  });

  it('resolve names, listing the known ones when a name is unknown', () => {
    expect(names('canonicalize,cse')).toEqual(['canonicalize', 'cse']);
    let err: Error | undefined;
    try {
      resolvePipeline('canonicalize,canonicalise');
    } catch (e) {
      err = e as Error;
    }
    expect(err).toBeInstanceOf(PipelineError);
    expect(err!.message).toMatch(/unknown pass or pipeline 'canonicalise' at column 14 \(did you mean 'canonicalize'\?\)/);
    expect(err!.message).toMatch(/known passes: canonicalize, cse, dce, (\S+, )*test-tiled(, \S+)*; pipelines: default, (\S+, )*none/);
  });

  it('check pass options against the schema and fill defaults', () => {
    const [step] = resolvePipeline('test-tiled{tile=32}');
    expect(step.options).toEqual({ tile: 32, mode: 'fast' });
    expect(formatPipeline(resolvePipeline('test-tiled{tile=32, mode=fast},test-tiled'))).toBe('test-tiled{tile=32},test-tiled');
    expect(() => resolvePipeline('test-tiled{tlie=3}')).toThrow(/pass 'test-tiled': unknown option 'tlie' \(known: tile, mode, scale\)/);
    expect(() => resolvePipeline('test-tiled{tile=1.5}')).toThrow(/option 'tile': expected an integer, got 1.5/);
    expect(() => resolvePipeline('test-tiled{mode=slow}')).toThrow(/expected one of "fast", "exact"/);
    expect(() => resolvePipeline('default{x=1}')).toThrow(/'default' is a pipeline; options go on its passes/);
  });
});

describe('named pipelines', () => {
  it('none and default exist', () => {
    expect(names('none')).toEqual([]);
    expect(names('default')).toContain('canonicalize');
    // Each lookup gets its own row's description: the generic row, or the target's.
    for (const row of PIPELINES.filter((p) => p.name === 'default')) {
      expect(row.description).not.toBe('');
      expect(findPipeline('default', row.target)?.description, row.target ?? 'no target').toBe(row.description);
    }
  });

  it('may differ per target and nest', () => {
    registerPipeline('test-opt', 'cse,dce');
    registerPipeline('test-opt', 'canonicalize,test-tiled{tile=16}', { target: 'webgpu' });
    registerPipeline('test-outer', 'test-opt,canonicalize');
    expect(names('test-opt')).toEqual(['cse', 'dce']);
    expect(names('test-opt', 'wasm')).toEqual(['cse', 'dce']);
    expect(names('test-outer', 'webgpu')).toEqual(['canonicalize', 'test-tiled', 'canonicalize']);
    expect(resolvePipeline('test-opt', { target: 'webgpu' })[1].options.tile).toBe(16);
  });

  it('are checked when used, so they may name passes registered later', () => {
    registerPipeline('test-later', 'cse,not-yet-a-pass');
    expect(() => resolvePipeline('test-later')).toThrow(/pipeline 'cse,not-yet-a-pass': unknown pass or pipeline 'not-yet-a-pass'/);
    expect(() => registerPipeline('test-bad', 'cse,,')).toThrow(PipelineError);
    expect(() => registerPipeline('cse', 'dce')).toThrow(/has the name of a pass/);
  });

  it('may not include themselves', () => {
    registerPipeline('test-loop-a', 'cse,test-loop-b');
    registerPipeline('test-loop-b', 'test-loop-a');
    expect(() => resolvePipeline('test-loop-a')).toThrow(/includes itself \(test-loop-a → test-loop-b → test-loop-a\)/);
  });
});

describe('pass registry', () => {
  it('refuses duplicate and malformed names', () => {
    const pass = { name: 'cse', description: '', run: () => ({ changed: false }) };
    expect(() => registerPass(pass)).toThrow(/pass 'cse' is registered twice/);
    expect(() => registerPass({ ...pass, name: 'Bad_Name' })).toThrow(/invalid pass name 'Bad_Name'/);
  });
});
