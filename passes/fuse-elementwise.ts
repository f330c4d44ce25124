// fuse-elementwise: chains of elementwise ops become one program (ir/ops/program.ts), and when the
// chain starts at a matmul, the program becomes that matmul's epilogue. One mechanism covers the
// bias-activation, SiLU(gate)·up and GeGLU (on a merged gate/up matmul, through its split), the
// residual add, softcap and scale. The fusable ops are the binary arithmetic ops and every op that
// declares a unary function (ir/op.ts), written in programs as it says; the matmuls are the ops
// whose projection trait takes an epilogue.
//
// A chain is a tree: an elementwise node joins its consumer's tree when the consumer is the one
// and only reader of its result. Each maximal tree then becomes
//   • matmul_ep / norm_matmul {epilogue} when one of its leaves is the result of a matmul that only
//     the tree reads (or the pieces of an equal split of one: the epilogue's acc0, acc1, …), and
//     the tree's result has the matmul's shape;
//   • else fused_elementwise {program} when it holds at least two ops.
// Programs round after every op as the ops do, so fusion changes no value.
import type { Attrs } from '../ir/attrs.js';
import { shapesEqual } from '../ir/dim.js';
import { isFloat } from '../ir/dtype.js';
import { type Graph, type Node, replaceAllUses, type Value } from '../ir/graph.js';
import { hasUnaryFunctions, projectionOf, type UnaryFunction, unaryFunctionOf } from '../ir/op.js';
import { isPlainProjection } from '../ir/ops/fused.js';
import { type BinaryOp, type Expr, formatProgram, parseProgram, substituteVars } from '../ir/ops/program.js';
import { normAxis } from '../ir/ops/util.js';
import type { PassContext } from './pass.js';
import { registerPass } from './registry.js';
import { attrsOf, newNode, Uses } from './rewrite.js';

const bin = (op: BinaryOp) => ([lhs, rhs]: Expr[]): Expr => ({ kind: 'bin', op, lhs, rhs });
const num = (value: number): Expr => ({ kind: 'num', value });

/** The fusable ops besides the unary functions the registry declares, as programs over their operands' programs. */
const ELEMENTWISE: Readonly<Record<string, (args: Expr[], a: Attrs) => Expr>> = {
  add: bin('+'),
  sub: bin('-'),
  mul: bin('*'),
  div: bin('/'),
  fused_elementwise: (args, a) => substituteVars(parseProgram(a.program as string), (v) => args[v.index]),
};

/** A unary op as a program over its operand's program, spelled as its unary function says. */
function unaryProgram(f: UnaryFunction, x: Expr, a: Attrs): Expr {
  const p = f.program;
  if ('negate' in p) return { kind: 'neg', arg: x };
  if ('multiplyBy' in p) return { kind: 'bin', op: '*', lhs: x, rhs: num(a[p.multiplyBy] as number) };
  return { kind: 'call', fn: p.call, args: [x, ...(p.literals ?? []).map((k) => num(a[k] as number))] };
}

/** Fusable node `n` as a program over its operands' programs. */
function programOf(n: Node, args: Expr[]): Expr {
  const a = attrsOf(n);
  const f = unaryFunctionOf(n.op, a);
  if (f) return unaryProgram(f, args[0], a);
  const e = ELEMENTWISE[n.op];
  if (!e) throw new Error(`internal error: ${n.op} ${JSON.stringify(a)} has no program form`);
  return e(args, a);
}

const isElementwise = (op: string): boolean => op in ELEMENTWISE || hasUnaryFunctions(op);

const fusable = (n: Node) =>
  isElementwise(n.op) && n.outputs.length === 1 && n.outputs[0].type.dtype === 'f32' && n.inputs.every((v) => isFloat(v.type.dtype));

/** How often a program reads operand x<k>. */
function reads(e: Expr, k: number): number {
  let n = 0;
  substituteVars(e, (x) => {
    if (x.space === 'x' && x.index === k) n++;
    return x;
  });
  return n;
}

/** c's program reads v once: inlining v's op then does not compute it twice. */
function readsOnce(c: Node, v: Value): boolean {
  if (c.op !== 'fused_elementwise') return true;
  const program = parseProgram(attrsOf(c).program as string);
  return c.inputs.reduce((n, x, k) => n + (x === v ? reads(program, k) : 0), 0) === 1;
}

interface Tree {
  readonly root: Node;
  readonly members: Set<Node>;
  /** Operands of the tree in order of first use; the program reads leaf k as x<k>. */
  readonly leaves: Value[];
  readonly program: Expr;
}

function buildTree(root: Node, absorbed: ReadonlyMap<Node, Node>): Tree {
  const members = new Set<Node>();
  const leaves: Value[] = [];
  const exprOf = (n: Node): Expr => {
    members.add(n);
    const args = n.inputs.map((v): Expr => {
      const p = v.producer;
      if (p && absorbed.get(p) === n) return exprOf(p);
      let k = leaves.indexOf(v);
      if (k < 0) k = leaves.push(v) - 1;
      return { kind: 'var', space: 'x', index: k };
    });
    return programOf(n, args);
  };
  return { root, members, leaves, program: exprOf(root) };
}

/** A matmul the tree can become the epilogue of: which node, which leaves are its column blocks. */
interface Epilogue {
  readonly matmul: Node;
  /** Nodes that disappear with the fusion besides the tree (the matmul, and a split). */
  readonly absorbed: readonly Node[];
  /** Leaf index → accumulator block. */
  readonly blocks: ReadonlyMap<number, number>;
  readonly parts: number;
}

function findEpilogue(t: Tree, uses: Uses): Epilogue | undefined {
  const shape = t.root.outputs[0].type.shape;
  for (const leaf of t.leaves) {
    const p = leaf.producer;
    if (!p || !uses.usedOnlyBy(leaf, t.members) || !shapesEqual(leaf.type.shape, shape)) continue;
    if (projectionOf(p.op)?.epilogue) {
      const k = t.leaves.indexOf(leaf);
      // Inlining an epilogue the tree reads twice would compute it twice (a bare product is free).
      if (!isPlainProjection(p.op, attrsOf(p), p.inputs.length) && reads(t.program, k) > 1) continue;
      return { matmul: p, absorbed: [p], blocks: new Map([[k, 0]]), parts: 1 };
    }
    if (p.op !== 'split') continue;
    const a = attrsOf(p);
    const src = p.inputs[0];
    const m = src.producer;
    const rank = src.type.shape.length;
    const sizes = a.sizes as readonly number[];
    if (!m || !projectionOf(m.op)?.epilogue || !isPlainProjection(m.op, attrsOf(m), m.inputs.length)) continue;
    if (normAxis(a.axis as number, rank) !== rank - 1 || sizes.some((s) => s !== sizes[0]) || !uses.onlyFeeds(src, p)) continue;
    if (!p.outputs.every((v) => uses.usedOnlyBy(v, t.members))) continue;
    const blocks = new Map<number, number>();
    p.outputs.forEach((v, i) => {
      const k = t.leaves.indexOf(v);
      if (k >= 0) blocks.set(k, i);
    });
    return { matmul: m, absorbed: [m, p], blocks, parts: sizes.length };
  }
  return undefined;
}

/** The matmul with the tree as its epilogue (composed with the epilogue it may already have). */
function epilogueNode(t: Tree, e: Epilogue): Node {
  const m = e.matmul;
  const a = m.op === 'matmul' ? { bias: m.inputs.length > 2, parts: 1, epilogue: 'acc0' } : attrsOf(m);
  const fixed = m.inputs.slice(0, 2 + (a.bias ? 1 : 0));
  const ownExtras = m.inputs.slice(fixed.length);
  const inner = parseProgram(a.epilogue as string);
  // The matmul's own extras keep their numbers; the tree's other leaves follow them.
  const extras: Value[] = [...ownExtras];
  const index = new Map<number, number>();
  t.leaves.forEach((v, k) => {
    if (!e.blocks.has(k)) index.set(k, extras.push(v) - 1);
  });
  const program = substituteVars(t.program, (v) => {
    const block = e.blocks.get(v.index);
    if (block === undefined) return { kind: 'var', space: 'x', index: index.get(v.index)! };
    return e.parts > 1 ? { kind: 'var', space: 'acc', index: block } : inner;
  });
  const attrs = { ...(m.op === 'norm_matmul' ? { kind: a.kind, eps: a.eps } : {}), bias: a.bias as boolean, parts: e.parts > 1 ? e.parts : (a.parts as number), epilogue: formatProgram(program) };
  return newNode(m.op === 'matmul' ? 'matmul_ep' : m.op, [...fixed, ...extras], attrs, [t.root.outputs[0].name]);
}

export function fuseElementwise(g: Graph, ctx: Pick<PassContext, 'stat'>): boolean {
  const uses = new Uses(g);
  // A fusable node joins the tree of its only reader when that reader is fusable too.
  const absorbed = new Map<Node, Node>();
  for (const n of g.nodes) {
    if (!fusable(n)) continue;
    const users = uses.of(n.outputs[0]);
    if (!uses.isRoot(n.outputs[0]) && users.length === 1 && fusable(users[0]) && readsOnce(users[0], n.outputs[0])) absorbed.set(n, users[0]);
  }
  const replacements = new Map<Node, Node>();
  const gone = new Set<Node>();
  for (const root of g.nodes) {
    if (!fusable(root) || absorbed.has(root)) continue;
    const t = buildTree(root, absorbed);
    const e = findEpilogue(t, uses);
    let fused: Node | undefined;
    if (e) {
      fused = epilogueNode(t, e);
      for (const n of e.absorbed) gone.add(n);
      ctx.stat('epilogues-fused');
    } else if (t.members.size > 1) {
      fused = newNode('fused_elementwise', t.leaves, { program: formatProgram(t.program) }, [root.outputs[0].name]);
      ctx.stat('chains-fused');
    }
    if (!fused) continue;
    for (const n of t.members) gone.add(n);
    replacements.set(root, fused);
    ctx.stat('ops-fused', t.members.size);
  }
  if (replacements.size === 0) return false;
  // The fused node sits where the tree's root was: every operand is defined by then.
  g.nodes = g.nodes.flatMap((n) => {
    const r = replacements.get(n);
    return r ? [r] : gone.has(n) ? [] : [n];
  });
  for (const [old, r] of replacements) replaceAllUses(g, old.outputs[0], r.outputs[0]);
  return true;
}

registerPass({
  name: 'fuse-elementwise',
  description: 'fold chains of elementwise ops into one program: a matmul epilogue (bias, activation, GLU, residual, softcap, scale) or fused_elementwise',
  run: (g, ctx) => ({ changed: fuseElementwise(g, ctx) }),
});
