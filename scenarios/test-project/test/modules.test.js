'use strict';
// Loads 300 small modules through the runner's own require (its module registry keeps
// them): module-graph growth, not a leak of data. They are generated into a temporary
// directory, which is removed afterwards.
const assert = require('node:assert');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { describe, it } = require('../lib/harness');

const COUNT = 300;

describe('plugin loader', () => {
  it(`loads ${COUNT} plugins`, () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'leaktrail-plugins-'));
    try {
      let total = 0;
      for (let i = 0; i < COUNT; i++) {
        const file = path.join(dir, `plugin-${i}.js`);
        const fns = Array.from({ length: 20 }, (_, k) =>
          `exports.f${k} = function f${k}(x) { return x * ${i} + ${k} + ${JSON.stringify('plugin ' + i + ' fn ' + k)}.length; };`);
        fs.writeFileSync(file, `'use strict';\nexports.id = ${i};\n${fns.join('\n')}\n`);
        const plugin = require(file);
        total += plugin.f3(1) > 0 ? 1 : 0;
      }
      assert.strictEqual(total, COUNT);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
