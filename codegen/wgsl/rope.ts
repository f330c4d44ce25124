import type { Node } from '../../ir/graph.js';
import type { WgslTarget } from './target.js';
import type { WgslLowering } from './types.js';
export function emitRope(node: Node, _t: WgslTarget): WgslLowering { throw new Error('TODO ' + node.op); }
