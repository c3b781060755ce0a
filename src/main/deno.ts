/** Starts the gateway on Deno. */

import { denoRuntime, denoServe } from "../runtime/deno.ts";
import { startGateway } from "../server/start.ts";

await startGateway({ runtime: denoRuntime, serve: denoServe });
