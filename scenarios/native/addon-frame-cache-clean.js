'use strict';
// Thumbnail service whose native decoder addon frees each frame (no leak).
//
// The same service as addon-frame-cache-leak.js, decoding a 64 KiB frame a request
// through the addon, which frees it once the thumbnail is written: resident memory
// churns by a frame and stays flat.

const { decode } = require('./frame_cache.node');
const { setTimeout: sleep } = require('timers/promises');

const FRAME_BYTES = 64 * 1024;

async function step(i) {
  const checksum = decode(i, FRAME_BYTES, false);
  await sleep(1); // write the thumbnail out
  return checksum;
}

module.exports = { step };
