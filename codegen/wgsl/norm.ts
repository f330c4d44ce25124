import type { Node } from '../../ir/graph.js';
import type { WgslTarget } from './target.js';
import type { WgslLowering } from './types.js';
export function emitLayerNorm(node: Node, _t: WgslTarget): WgslLowering { throw new Error('TODO ' + node.op); }
export function emitRmsNorm(node: Node, _t: WgslTarget): WgslLowering { throw new Error('TODO ' + node.op); }
