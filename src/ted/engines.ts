// Where the engine gets its classifier and its proxy intersection: the WebAssembly hot path of
// src/classify (compile, intersectBatch), with the engine named by the gateway's options
// (default: TED_ENGINE, else wasm).
import { compile } from '../classify/index.js';
import { intersectBatch } from '../classify/intersect.js';
import type { Classifier, EngineName } from '../classify/types.js';
import type { Intersection } from '../selector/algebra.js';
import type { Policy, Selector } from '../selector/types.js';

export function classifierFor(policy: Policy, engine?: EngineName): Classifier {
  return compile(policy, engine ? { engine } : {});
}

/** Our entry's proxy against the responder's (mirrored) proxy, through the batch intersection. */
export function intersectOne(ours: Selector, theirs: Selector, engine?: EngineName): Intersection {
  return intersectBatch(ours, [theirs], engine ? { engine } : {})[0]!;
}
