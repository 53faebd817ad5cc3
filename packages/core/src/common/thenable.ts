/** A promise or any `then`-able a middleware may return (awaited like a promise). */
export const isThenable = (x: unknown): x is PromiseLike<unknown> =>
  typeof (x as { then?: unknown } | null)?.then === 'function';
