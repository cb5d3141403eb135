// promptwitness trace hook for Node.js: report every read of process.env.
//
// Loaded with NODE_OPTIONS="--require <trace dir>/preload.cjs" in a traced run only
// (discover.trace). process.env becomes a Proxy of itself; each get / has / key
// listing is reported by a system call the tracer (strace, outside the sandbox)
// records: fs.accessSync() of a path under the trace directory that does not exist,
//     <trace dir>/m/env/<how>/<0|1|->/<name in hex>
// Reads made by node:child_process to copy the environment for a child, and the
// per-key lookups of a listing, are reported as "internal" (not recorded; the child's
// own reads are). Nothing else changes: values, writes and deletes go to the real
// process.env.
'use strict';
(function pwTraceHook() {
  const DIR = __dirname + '/m/';
  const fs = require('fs');
  const access = fs.accessSync;
  let busy = false;
  function report(what) {
    if (busy) return;
    busy = true;
    try { access(DIR + what); } catch (e) { /* absent by design */ } finally { busy = false; }
  }
  function hex(key) { return Buffer.from(key, 'utf8').toString('hex') || '-'; }
  function fromChildProcess(trap) {
    const holder = {};
    const limit = Error.stackTraceLimit;
    const prepare = Error.prepareStackTrace;
    try {
      Error.stackTraceLimit = 8;
      Error.prepareStackTrace = undefined;
      Error.captureStackTrace(holder, trap);
      const stack = holder.stack;
      return typeof stack === 'string' && /\(node:(internal\/)?child_process[:)]/.test(stack);
    } catch (e) {
      return false;
    } finally {
      Error.stackTraceLimit = limit;
      Error.prepareStackTrace = prepare;
    }
  }
  report('hello/node');
  const real = process.env;
  // Keys just listed by ownKeys: the descriptor lookups that follow (Object.keys checks
  // each key's enumerability) are part of the listing, not reads of their own.
  let listing = null;
  // A read that is not the program's own (child_process copying the environment, a
  // listing's lookups) is still reported, as "internal": the tracer then knows that
  // the runtime's getenv calls around it are not reads either, and records none.
  function read(how, trap, key, present) {
    if (typeof key !== 'string' || busy) return;
    let own = true;
    if (listing !== null && listing.has(key) && how === 'process.env.has') {
      listing.delete(key);
      own = false;
    } else if (fromChildProcess(trap)) {
      own = false;
    }
    report('env/' + (own ? how : 'process.env.internal') + '/' + (present ? '1' : '0') +
           '/' + hex(key));
  }
  const handler = {
    get(target, key) {
      const value = Reflect.get(target, key);
      read('process.env', handler.get, key, value !== undefined);
      return value;
    },
    has(target, key) {
      const found = Reflect.has(target, key);
      read('process.env.has', handler.has, key, found);
      return found;
    },
    getOwnPropertyDescriptor(target, key) {
      const desc = Reflect.getOwnPropertyDescriptor(target, key);
      read('process.env.has', handler.getOwnPropertyDescriptor, key, desc !== undefined);
      return desc;
    },
    ownKeys(target) {
      const keys = Reflect.ownKeys(target);
      if (!busy) {
        const own = !fromChildProcess(handler.ownKeys);
        report('env/process.env.' + (own ? 'keys' : 'internal') + '/-/2a');
        listing = new Set(keys.filter((k) => typeof k === 'string'));
        // the end of the listing: until then, the runtime's getenv calls (V8 checks
        // each listed key against the target) are the listing's
        queueMicrotask(() => { listing = null; report('env/process.env.internal/0/-'); });
      }
      return keys;
    },
  };
  try {
    process.env = new Proxy(real, handler);
  } catch (e) {
    report('hello/node-unhooked');
  }
})();
