// simple-peer's randombytes(n).toString('hex') (peer and channel names), from WebCrypto.
'use strict';

module.exports = function randomBytes(n) {
  const bytes = crypto.getRandomValues(new Uint8Array(n));
  return { toString: () => Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('') };
};
