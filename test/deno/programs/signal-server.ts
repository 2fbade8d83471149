// The signaling server on Deno. Prints {"url": …} once listening.
// Usage: deno run --allow-net --allow-env test/deno/programs/signal-server.ts
import { serveSignalingDeno } from '../../../signaling/deno.ts';

const running = await serveSignalingDeno({ port: 0 });
console.log(JSON.stringify({ url: running.url }));
