// The platform's queueMicrotask (the package falls back to Node's `global` in workers).
'use strict';

module.exports = (fn) => queueMicrotask(fn);
