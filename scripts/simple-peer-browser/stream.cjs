// readable-stream's Duplex as far as simple-peer and weftmesh use it (on, once,
// removeListener, emit, push, end), in a browser: a small event emitter whose
// push() hands received chunks to 'data' listeners. Chunks pushed before the first 'data'
// listener are held and delivered (in order, on a microtask) once one is attached, as a
// paused Node stream does: data can arrive before simple-peer emits 'connect'. Unlike a
// Node stream, what is held is bounded: a peer that sends more before then is destroyed.
'use strict';

const HELD_LIMIT = 4 << 20;

class EventEmitter {
  #listeners = new Map();

  on(type, fn) {
    const list = this.#listeners.get(type);
    if (list) list.push(fn);
    else this.#listeners.set(type, [fn]);
    return this;
  }

  once(type, fn) {
    const wrapper = (...args) => {
      this.removeListener(type, wrapper);
      fn.apply(this, args);
    };
    wrapper.listener = fn;
    return this.on(type, wrapper);
  }

  removeListener(type, fn) {
    const list = this.#listeners.get(type);
    const i = list ? list.findIndex((f) => f === fn || f.listener === fn) : -1;
    if (i >= 0) list.splice(i, 1);
    return this;
  }

  /** Like Node's: an 'error' nobody listens for is thrown, never dropped. */
  emit(type, ...args) {
    const list = this.#listeners.get(type);
    if (!list || list.length === 0) {
      if (type === 'error') throw args[0];
      return false;
    }
    for (const fn of [...list]) fn.apply(this, args);
    return true;
  }
}

class Duplex extends EventEmitter {
  #held = [];
  #heldBytes = 0;
  #flowing = false;

  constructor() {
    super();
    this._readableState = { ended: false };
    this._writableState = { finished: false };
  }

  on(type, fn) {
    super.on(type, fn);
    if (type === 'data' && !this.#flowing) {
      this.#flowing = true;
      queueMicrotask(() => {
        this.#heldBytes = 0;
        for (const chunk of this.#held.splice(0)) this.emit('data', chunk);
      });
    }
    return this;
  }

  push(chunk) {
    if (chunk === null) {
      this._readableState.ended = true;
      this.emit('end');
      return false;
    }
    if (this.#flowing && this.#held.length === 0) {
      this.emit('data', chunk);
      return true;
    }
    if (this.#heldBytes > HELD_LIMIT) return false; // being destroyed
    this.#held.push(chunk);
    this.#heldBytes += chunk.byteLength ?? chunk.length;
    if (this.#heldBytes > HELD_LIMIT) this.destroy(new Error('too much data before the first data listener'));
    return true;
  }

  end() {
    if (this._writableState.finished) return;
    this._writableState.finished = true;
    queueMicrotask(() => this.emit('finish'));
  }
}

module.exports = { Duplex };
