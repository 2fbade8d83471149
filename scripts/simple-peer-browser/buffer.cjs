// simple-peer wraps each received ArrayBuffer with Buffer.from(); a Uint8Array view serves.
'use strict';

module.exports = { Buffer: { from: (arrayBuffer) => new Uint8Array(arrayBuffer) } };
