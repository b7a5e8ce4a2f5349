/**
 * Lets the chart library load without env access: it reads
 * `process.env.NODE_ENV` when it loads and while it draws, and Deno would
 * refuse (or prompt) without `--allow-env`. Imported before the library, this
 * makes environment variables whose access is not granted read as unset on
 * `process.env` (granted ones read as before), so reports need no more than
 * `--allow-ffi` (plus `--allow-write` to save them).
 *
 * @module
 */
import process from "node:process";
import { granted } from "../ffi/permissions.ts";

const env = process.env;
const allowed = (key: string | symbol): key is string =>
  typeof key === "string" && granted({ name: "env", variable: key });
if (!granted({ name: "env" })) {
  // an empty target: the proxy's invariant checks never touch the real env
  process.env = new Proxy({} as typeof env, {
    get: (_, key) => allowed(key) ? env[key] : undefined,
    has: (_, key) => allowed(key) && key in env,
    set: (_, key, value) => {
      env[String(key)] = value;
      return true;
    },
    deleteProperty: (_, key) => delete env[String(key)],
    ownKeys: () => [],
  });
}
