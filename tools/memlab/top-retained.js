#!/usr/bin/env node
// Print the top-N heap nodes by memlab-computed retained size as JSON.
// Usage: node tools/memlab/top-retained.js <file.heapsnapshot> [N=30]
// Uses memlab from tools/memlab/node_modules (npm ci there; override with MEMLAB_NODE_MODULES).
'use strict';
const path = require('path');
const NM = process.env.MEMLAB_NODE_MODULES || path.join(__dirname, 'node_modules');
const core = require(path.join(NM, '@memlab/core'));
const heapAnalysis = require(path.join(NM, '@memlab/heap-analysis'));

const file = process.argv[2];
const topN = parseInt(process.argv[3] || '30', 10);
if (!file) {
  process.stderr.write('usage: node memlab-top-retained.js <file.heapsnapshot> [N]\n');
  process.exit(2);
}
// keep memlab's progress output off stdout so stdout is pure JSON
core.config.muteConsole = true;

// Synthetic root / "(GC roots)" / "(Strong roots)"-style sub-roots are excluded.
// V8 gives the root id 1 and (GC roots) id 3; all sub-roots have type "synthetic".
function isSyntheticRootLike(node) {
  if (node.nodeIndex === 0) return true;         // the snapshot root ("")
  if (node.type === 'synthetic') return true;    // (GC roots), (Strong roots), ...
  return core.utils.isRootNode(node) && node.type !== 'native'; // id 0/1, (GC roots)
}

(async () => {
  const t0 = process.hrtime.bigint();
  // getFullHeapFromFile = parse + preparePathFinder (shortest paths, dominators,
  // retained sizes via TraceFinder.calculateAllNodesRetainedSizes)
  const heap = await heapAnalysis.getFullHeapFromFile(path.resolve(file));
  const t1 = process.hrtime.bigint();

  // keep a small sorted array of the best candidates (O(n * N))
  const top = [];
  heap.nodes.forEach(node => {
    if (isSyntheticRootLike(node)) return;
    const rs = node.retainedSize;
    if (top.length === topN && rs <= top[top.length - 1].retained_size) return;
    const rec = {
      id: node.id,
      name: node.name,
      type: node.type,
      self_size: node.self_size,
      retained_size: rs,
    };
    let i = top.length;
    while (i > 0 && top[i - 1].retained_size < rs) i--;
    top.splice(i, 0, rec);
    if (top.length > topN) top.pop();
  });
  const t2 = process.hrtime.bigint();
  process.stdout.write(JSON.stringify(top, null, 1) + '\n');
  if (process.env.MEMLAB_TIMING) {
    process.stderr.write(
      `load+analyse ${(Number(t1 - t0) / 1e6).toFixed(0)} ms, ` +
        `rank ${(Number(t2 - t1) / 1e6).toFixed(0)} ms, nodes ${heap.nodes.length}\n`,
    );
  }
})().catch(e => {
  process.stderr.write(String((e && e.stack) || e) + '\n');
  process.exit(1);
});
