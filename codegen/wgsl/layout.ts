import type { Node } from '../../ir/graph.js';
import type { WgslTarget } from './target.js';
import type { WgslLowering } from './types.js';
export function emitConcat(node: Node, _t: WgslTarget): WgslLowering { throw new Error('TODO ' + node.op); }
export function emitKvAppend(node: Node, _t: WgslTarget): WgslLowering { throw new Error('TODO ' + node.op); }
export function emitReshape(node: Node, _t: WgslTarget): WgslLowering { throw new Error('TODO ' + node.op); }
export function emitSlice(node: Node, _t: WgslTarget): WgslLowering { throw new Error('TODO ' + node.op); }
export function emitSplit(node: Node, _t: WgslTarget): WgslLowering { throw new Error('TODO ' + node.op); }
export function emitTranspose(node: Node, _t: WgslTarget): WgslLowering { throw new Error('TODO ' + node.op); }
