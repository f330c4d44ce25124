// Applying a pass pipeline to model graphs (the API's and the CLI's `--passes`).
import type { Graph } from '../ir/graph.js';
import { runPipeline } from '../passes/pass-manager.js';
import '../passes/index.js';
import './lora.js'; // installs the adapter reader lora-merge asks for

/** A graph transform that runs `pipeline` ('none' leaves graphs as built). */
export function pipelineTransform(pipeline: string | undefined, target?: string): ((g: Graph) => Graph) | undefined {
  if (!pipeline || pipeline === 'none') return undefined;
  return (g) => runPipeline(g, pipeline, { target }).graph;
}
