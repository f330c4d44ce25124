// Greedy generation on real checkpoints is the same with the default pipeline as without passes:
// the fused graph (merged projections, folded norms, flash attention, epilogues) picks the same
// tokens at every step, prefill and decode, through the KV cache.
import { describe, expect, it } from 'vitest';
import { Model } from '../../src/model.js';
import { pipelineTransform } from '../../src/passes.js';
import { hasShared, sharedPath } from '../helpers/shared.js';

async function greedyIds(model: Model, prompt: string, maxTokens: number): Promise<number[]> {
  const ids: number[] = [];
  for await (const t of model.generate(prompt, { temperature: 0, maxTokens, stopAtEos: false })) if (t.id >= 0) ids.push(t.id);
  return ids;
}

const PROMPTS = ['Once upon a time', 'The little dog', 'Lily'];

function sameTokens(path: string, opts: { tokenizer?: string } = {}) {
  return async () => {
    const none = Model.load(path, { ...opts, transform: pipelineTransform('none') });
    const fused = Model.load(path, { ...opts, transform: pipelineTransform('default') });
    // The pipeline did change the graph the fused model runs.
    expect(fused.graph().nodes.some((n) => n.op === 'flash_attention')).toBe(true);
    for (const prompt of PROMPTS) {
      const want = await greedyIds(none, prompt, 48);
      expect(want.length).toBe(48);
      expect(await greedyIds(fused, prompt, 48), prompt).toEqual(want);
    }
  };
}

describe.runIf(hasShared('models', 'stories260K'))('--passes default on stories260K', () => {
  const dir = sharedPath('models', 'stories260K');
  it('stories260K.bin generates the same ids as --passes none', sameTokens(`${dir}/stories260K.bin`, { tokenizer: `${dir}/tok512.bin` }));
});

describe.runIf(hasShared('models', 'tinystories-656k'))('--passes default on TinyStories-656K', () => {
  const dir = sharedPath('models', 'tinystories-656k');
  it('the safetensors checkpoint generates the same ids as --passes none', sameTokens(dir));
  it('the Q8_0 GGUF (quantized weights stay unfolded) generates the same ids as --passes none', sameTokens(`${dir}/TinyStories-656K-Q8_0.gguf`));
});
