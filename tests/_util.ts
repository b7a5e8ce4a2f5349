/**
 * Helpers shared by the driver tests.
 *
 * @module
 */
import assert from "node:assert/strict";

/** Assert that `fn` throws an instance of `cls` whose message matches every regex. */
export function throwsWith(
  fn: () => unknown,
  cls: abstract new (...args: never[]) => Error,
  ...patterns: RegExp[]
): Error {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  assert.ok(caught !== undefined, `expected a ${cls.name}, nothing was thrown`);
  assert.ok(
    caught instanceof cls,
    `expected a ${cls.name}, got ${(caught as Error)?.name}: ${
      (caught as Error)?.message
    }`,
  );
  for (const p of patterns) assert.match(caught.message, p);
  return caught;
}
