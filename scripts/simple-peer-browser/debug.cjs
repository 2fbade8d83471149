// simple-peer's debug('simple-peer') logger: silent (weftmesh reports through its own events).
'use strict';

module.exports = () => () => {};
