// The signaling server on Deno sharing rooms through Redis. Prints {"url": …} once listening,
// and a {"log": …} line per state change. Usage: deno run --allow-net --allow-env --allow-read
// test/deno/programs/signal-server-redis.ts redis://HOST:PORT PREFIX
import { serveSignalingDeno } from '../../../signaling/deno.ts';

const [url = 'redis://127.0.0.1:6379', prefix = 'weftmesh'] = Deno.args;
const running = await serveSignalingDeno({
  port: 0,
  redis: { url, prefix, heartbeatMs: 200, instanceTtlMs: 600 },
  log: (line) => console.log(JSON.stringify({ log: line })),
});
console.log(JSON.stringify({ url: running.url }));
