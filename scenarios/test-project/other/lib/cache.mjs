// An ES module cache of rendered pages keyed by id that is never evicted: the leak of
// cache.test.mjs. It is held by a timer that is never cleared, so it outlives the module
// graph of one test file in any runner.
const pages = new Map();
const sweep = setInterval(() => pages.size, 60000);
sweep.unref();
globalThis.__otherSuitePageCache ??= [];
globalThis.__otherSuitePageCache.push(pages);

export function render(id) {
  // Every row its own string (one repeated string would be shared by every page).
  const rows = [];
  for (let i = 0; i < 400; i++) rows.push(`<p>${id} row ${i}</p>`);
  const html = `<main id="${id}">${rows.join('')}</main>`;
  pages.set(id, { id, html, rendered: Date.now() });
  return html.length;
}

export const size = () => pages.size;
