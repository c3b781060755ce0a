/** Starts the gateway on Node. */

import { nodeRuntime, nodeServe } from "../runtime/node.ts";
import { startGateway } from "../server/start.ts";

await startGateway({ runtime: nodeRuntime, serve: nodeServe });
