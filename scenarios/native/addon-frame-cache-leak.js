'use strict';
// Thumbnail service whose native decoder addon caches every frame it decodes (leaks).
//
// Each request decodes a 64 KiB frame through the addon (frame_cache.c, built next to
// this file as frame_cache.node), which files it in a native cache nothing evicts. The
// JavaScript heap and V8's external memory stay flat: only the process's resident
// (anonymous) memory grows, 64 KiB a request. leaktrail must call it a leak of native
// memory, not "no leak".

const { decode } = require('./frame_cache.node');
const { setTimeout: sleep } = require('timers/promises');

const FRAME_BYTES = 64 * 1024;

async function step(i) {
  const checksum = decode(i, FRAME_BYTES, true); // BUG: the addon keeps every frame
  await sleep(1); // write the thumbnail out
  return checksum;
}

module.exports = { step };
