// Whether an adapter fits the base model it is applied to, checked from headers before any graph
// is built: the same file family (PEFT names HF tensors, a GGUF adapter llama.cpp's), the same
// architecture (GGUF), and for every target a tensor of the base whose shape B·A matches.
import { familyTraits } from '../config/families/table.js';
import type { ModelSource } from '../open.js';
import { AdapterError, type LoraAdapter } from './adapter.js';

export function checkAdapterFits(adapter: LoraAdapter, base: ModelSource): void {
  const file = adapter.path;
  if (adapter.format === 'gguf' && base.format !== 'gguf') {
    throw new AdapterError(file, `a GGUF LoRA adapter names llama.cpp's tensors, but ${base.path} is a${base.format === 'hf' ? 'n HF' : ` ${base.format}`} checkpoint; apply it to the GGUF form of the model (or use the adapter's PEFT form)`);
  }
  if (adapter.format === 'peft' && base.format !== 'hf') {
    throw new AdapterError(file, `a PEFT adapter names Hugging Face tensors, but ${base.path} is a ${base.format} file; apply it to the HF checkpoint (or convert the adapter with llama.cpp's convert_lora_to_gguf.py)`);
  }
  const arch = familyTraits(base.config.family).gguf.architecture;
  if (adapter.architecture !== undefined && adapter.architecture !== arch) {
    throw new AdapterError(file, `the adapter is for general.architecture "${adapter.architecture}", the model is "${arch}" (${base.path})`);
  }
  const conv1d = base.format === 'hf' && familyTraits(base.config.family).hf.tensors.scheme === 'conv1d';
  for (const t of adapter.targets) {
    if (!base.store.has(t.tensor)) {
      throw new AdapterError(file, `"${t.a}" adapts "${t.tensor}", which ${base.path} does not hold; the adapter was made for another architecture or file layout`);
    }
    const shape = base.store.info(t.tensor).shape;
    const [out, inner] = [t.bShape[0], t.aShape[1]];
    const want = conv1d ? [inner, out] : [out, inner];
    if (shape.length !== 2 || shape[0] !== want[0] || shape[1] !== want[1]) {
      throw new AdapterError(file, `"${t.b}" · "${t.a}" is [${out}, ${inner}], but "${t.tensor}" is [${shape.join(', ')}]${conv1d ? ' (a Conv1D [in, out] weight)' : ''}; the adapter was made for another model or size`);
    }
  }
}
