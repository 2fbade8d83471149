import { startSignalingServer } from '../../signaling/node.ts';
import { DEFAULT_SIGNALING_LIMITS } from '../../signaling/server.ts';
import { type Command, intFlag, parseFlags, stringFlag, UsageError } from '../command.ts';
import { onShutdown } from '../shutdown.ts';

const usage = `Usage: weftmesh signal [--host 127.0.0.1] [--port 8787] [--static DIR]
                       [--max-per-ip N] [--ip-header NAME]
                       [--redis redis://HOST:PORT[/DB]] [--redis-prefix NAME]
                       [--instance-ttl MS]

Runs the signaling server: nodes of a cluster meet in its room, prove their keys, and
exchange WebRTC offers through it. GET /health reports its state. Stops on Ctrl-C.
With --redis, any number of instances using the same Redis serve the same rooms (give
clients several --signal URLs, or put the instances behind a load balancer).

  --host H            interface to listen on (default 127.0.0.1)
  --port N            port (default 8787; 0 picks a free one)
  --static DIR        also serve the files of DIR over HTTP
  --max-per-ip N      connections at once from one address, an IPv6 /64 counting as
                      one (default ${DEFAULT_SIGNALING_LIMITS.maxConnectionsPerSource})
  --ip-header NAME    behind a reverse proxy only: take the client's address from this
                      header (e.g. x-forwarded-for; its last entry), which the proxy
                      must set — otherwise clients could pick their own
  --redis URL         share rooms with the other instances on this Redis (a single
                      primary); a Redis outage is logged to stderr and shown in
                      /health ("degraded"), signaling on this instance goes on
  --redis-prefix NAME prefix of its keys and channels (default weftmesh): separate
                      deployments sharing one Redis database
  --instance-ttl MS   with --redis: an instance silent this long is dead, and the
                      peers it held vanish from every room's listing within
                      MS + MS/3 (default 6000; it renews every MS/3)`;

export const signalCommand: Command = {
  name: 'signal',
  usage,
  async run(argv) {
    const { values } = parseFlags(argv, {
      host: { type: 'string' },
      port: { type: 'string' },
      static: { type: 'string' },
      'max-per-ip': { type: 'string' },
      'ip-header': { type: 'string' },
      redis: { type: 'string' },
      'redis-prefix': { type: 'string' },
      'instance-ttl': { type: 'string' },
    });
    const host = stringFlag(values.host, 'host', '127.0.0.1');
    const port = intFlag(values.port, 'port', 8787, 0, 65535);
    const staticDir = values.static === undefined ? undefined : stringFlag(values.static, 'static', '');
    const maxConnectionsPerSource = intFlag(
      values['max-per-ip'],
      'max-per-ip',
      DEFAULT_SIGNALING_LIMITS.maxConnectionsPerSource,
      1,
      1_000_000,
    );
    const sourceHeader =
      values['ip-header'] === undefined ? undefined : stringFlag(values['ip-header'], 'ip-header', '');
    const redisUrl = values.redis === undefined ? undefined : stringFlag(values.redis, 'redis', '');
    if (redisUrl !== undefined && !/^rediss?:\/\/[^\s]+$/.test(redisUrl))
      throw new UsageError('--redis must be a redis:// or rediss:// URL');
    const prefix = stringFlag(values['redis-prefix'], 'redis-prefix', 'weftmesh');
    if (!/^[A-Za-z0-9._-]{1,64}$/.test(prefix))
      throw new UsageError('--redis-prefix: 1..64 of [A-Za-z0-9._-]');
    const instanceTtlMs = intFlag(values['instance-ttl'], 'instance-ttl', 6_000, 300, 600_000);
    const log = (line: string) => process.stderr.write(`${new Date().toISOString()} ${line}\n`);
    const running = await startSignalingServer({
      host,
      port,
      limits: { maxConnectionsPerSource },
      ...(staticDir ? { staticDir } : {}),
      ...(sourceHeader ? { sourceHeader } : {}),
      ...(redisUrl
        ? { redis: { url: redisUrl, prefix, instanceTtlMs, heartbeatMs: Math.floor(instanceTtlMs / 3) }, log }
        : {}),
    });
    process.stdout.write(
      `weftmesh signaling server on ${running.url} (health: http://${running.url.slice(5)}/health)` +
        (redisUrl ? `, sharing rooms through ${redisUrl.replace(/\/\/[^@/]*@/, '//***@')}` : '') +
        '\n',
    );
    onShutdown(async () => {
      await running.close();
      return 0;
    });
    return new Promise<number>(() => {});
  },
};
