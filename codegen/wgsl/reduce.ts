import type { Node } from '../../ir/graph.js';
import type { WgslTarget } from './target.js';
import type { WgslLowering } from './types.js';
export function emitArgmax(node: Node, _t: WgslTarget): WgslLowering { throw new Error('TODO ' + node.op); }
export function emitL2Normalize(node: Node, _t: WgslTarget): WgslLowering { throw new Error('TODO ' + node.op); }
export function emitMeanPool(node: Node, _t: WgslTarget): WgslLowering { throw new Error('TODO ' + node.op); }
export function emitSoftmax(node: Node, _t: WgslTarget): WgslLowering { throw new Error('TODO ' + node.op); }
