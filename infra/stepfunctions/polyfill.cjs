// aws-local-stepfunctions 3.x calls Promise.withResolvers (Node >= 22).
// Node 20 lacks it; load this with `node --require ./polyfill.cjs`.
if (typeof Promise.withResolvers !== 'function') {
  Promise.withResolvers = function withResolvers() {
    let resolve, reject;
    const promise = new this((res, rej) => {
      resolve = res;
      reject = rej;
    });
    return { promise, resolve, reject };
  };
}
