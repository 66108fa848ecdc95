// The error a call must throw, for tests that then check its code, offset or problems.
/** Calls fn and returns what it threw, which must be a `type`; any other error is rethrown. */
export function thrown<E extends Error>(type: abstract new (...args: never[]) => E, fn: () => unknown): E {
  try {
    fn();
  } catch (e) {
    if (e instanceof type) return e;
    throw e;
  }
  throw new Error(`expected a ${type.name}`);
}
