/** Starts the gateway on Bun. */

import { bunRuntime, bunServe } from "../runtime/bun.ts";
import { startGateway } from "../server/start.ts";

await startGateway({ runtime: bunRuntime, serve: bunServe });
