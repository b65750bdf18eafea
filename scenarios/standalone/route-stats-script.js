'use strict';
// route-stats.js as a user writes a leak test: one self-contained script, its own fast
// loop (no I/O), `iteration=N` lines, and it ends by itself after N requests
// (`node route-stats-script.js [N]`, default 20000). The leaked samples are held only by
// module-scope variables, so they are garbage once the loop is done: a snapshot at the
// workload's exit no longer holds them.

const N = Number(process.argv[2] || 20000);
const ROUTES = ['login', 'logout', 'search', 'checkout', 'profile', 'cart'];
const stats = {}; // route -> [{ ms, at, ok }]; BUG: never trimmed

function handle(i) {
  const rows = [];
  for (let k = 0; k < 40; k++) rows.push({ k, v: `row-${k}` });
  const ms = JSON.stringify(rows).length % 97;
  const route = ROUTES[i % ROUTES.length];
  (stats[route] || (stats[route] = [])).push({ ms, at: Date.now(), ok: ms < 50 });
}

async function main() {
  for (let i = 1; i <= N; i++) {
    handle(i);
    if (i % 50 === 0) {
      console.log(`iteration=${i}`);
      await new Promise((resolve) => setImmediate(resolve));
    }
  }
}

main();
