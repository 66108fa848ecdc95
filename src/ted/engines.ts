// Where the engine gets its classifier and its intersection from. Until the classifier
// (src/classify/index.ts) lands, a linear Classifier over the reference algebra stands in.
import { TupleBatch } from '../classify/batch.js';
import type { Classifier, EngineName } from '../classify/types.js';
import type { Intersection } from '../selector/algebra.js';
import { firstMatch, intersect } from '../selector/algebra.js';
import type { Policy, Selector } from '../selector/types.js';

export function classifierFor(policy: Policy, _engine?: EngineName): Classifier {
  const entries = policy.entries;
  return {
    engine: 'linear',
    rules: entries.length,
    bytes: 0,
    buildMs: 0,
    classify(batch, results) {
      for (let i = 0; i < batch.count; i++) {
        const t = batch.get(i);
        results[i] = t ? firstMatch(entries, t) : 0;
      }
    },
    classifyOne: (t) => firstMatch(entries, t),
    createBatch: (capacity) => new TupleBatch(capacity),
  };
}

/** Our entry's proxy against the responder's (mirrored) proxy. */
export function intersectOne(ours: Selector, theirs: Selector): Intersection {
  return intersect(ours, theirs);
}
