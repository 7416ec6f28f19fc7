// Loaded with `node --require ./lazy.cjs` before the engine. Three modules
// that aws-local-stepfunctions requires at load time serve only what this
// shim never asks of it: the AWS SDK's Lambda client and credential
// providers (it calls Lambda only for a Task without a local handler, and
// shim.mjs gives every Task one) and asl-validator (only for a definition
// not validated before: see the validation cache in shim.mjs's loadMachine). Loading them
// was about 0.3 s of the ~0.5 s of CPU each shim start cost, and the
// local stack's tests start one shim per stack. Each is replaced by a
// stand-in that loads the real module on its first use — a property read
// or a call — so behaviour is unchanged when one is used.
'use strict';
const Module = require('node:module');

const LAZY = new Set(['@aws-sdk/client-lambda', '@aws-sdk/credential-providers', 'asl-validator']);
const load = Module._load;

Module._load = function lazyLoad(request, parent, isMain) {
  if (!LAZY.has(request)) return load.call(this, request, parent, isMain);
  let real;
  const get = () => (real ??= load.call(this, request, parent, isMain));
  // An arrow function as the target: callable (asl-validator exports a
  // function) with no non-configurable own properties to trip a Proxy
  // invariant.
  return new Proxy(() => {}, {
    get: (_, key) => Reflect.get(get(), key),
    has: (_, key) => Reflect.has(get(), key),
    apply: (_, thisArg, args) => Reflect.apply(get(), thisArg, args),
  });
};
