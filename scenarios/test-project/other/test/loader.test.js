'use strict';
// Clean look-alike: loads real libraries from node_modules (a few hundred modules, once);
// their code stays loaded, which is not a leak of this file's tests.
const assert = require('node:assert');
const { describe, it } = require('../lib/harness');

describe('loader', () => {
  it('loads libraries', () => {
    for (const name of ['yargs', 'js-yaml', 'semver', 'glob', 'chalk', 'diff', 'minimatch', 'picomatch', 'micromatch', 'postcss', 'source-map-js', 'argparse']) {
      try {
        assert.ok(require(name));
      } catch (e) {
        if (e.code !== 'ERR_REQUIRE_ESM' && e.code !== 'MODULE_NOT_FOUND') throw e;
      }
    }
  });
  it('parses yaml', () => {
    const yaml = require('js-yaml');
    assert.deepStrictEqual(yaml.load('a: 1'), { a: 1 });
  });
});
