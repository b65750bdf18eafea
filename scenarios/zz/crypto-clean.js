'use strict';
const crypto = require('crypto');
const zlib = require('zlib');
const { setTimeout: sleep } = require('timers/promises');
const key = crypto.randomBytes(32);
async function handle(i) {
  await sleep(1);
  const iv = crypto.randomBytes(12);
  const c = crypto.createCipheriv('aes-256-gcm', key, iv);
  const body = JSON.stringify({ i, items: Array.from({ length: 50 }, (_, k) => ({ k, v: 'x'.repeat(20) + k })) });
  const enc = Buffer.concat([c.update(body), c.final()]);
  const tag = c.getAuthTag();
  const d = crypto.createDecipheriv('aes-256-gcm', key, iv); d.setAuthTag(tag);
  const dec = Buffer.concat([d.update(enc), d.final()]).toString();
  const h = crypto.createHash('sha256').update(dec).digest('hex');
  const z = zlib.gzipSync(dec);
  const sig = crypto.createHmac('sha256', key).update(h).digest('base64url');
  return zlib.gunzipSync(z).length + sig.length;
}
module.exports = { step: handle };
