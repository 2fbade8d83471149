import { startSignalingServer } from '../../signaling/node.ts';
import { DEFAULT_SIGNALING_LIMITS } from '../../signaling/server.ts';
import { type Command, intFlag, parseFlags, stringFlag } from '../command.ts';
import { onShutdown } from '../shutdown.ts';

const usage = `Usage: weftmesh signal [--host 127.0.0.1] [--port 8787] [--static DIR]
                       [--max-per-ip N] [--ip-header NAME]

Runs the signaling server: nodes of a cluster meet in its room, prove their keys, and
exchange WebRTC offers through it. GET /health reports its state. Stops on Ctrl-C.

  --host H            interface to listen on (default 127.0.0.1)
  --port N            port (default 8787; 0 picks a free one)
  --static DIR        also serve the files of DIR over HTTP
  --max-per-ip N      connections at once from one address, an IPv6 /64 counting as
                      one (default ${DEFAULT_SIGNALING_LIMITS.maxConnectionsPerSource})
  --ip-header NAME    behind a reverse proxy only: take the client's address from this
                      header (e.g. x-forwarded-for; its last entry), which the proxy
                      must set — otherwise clients could pick their own`;

export const signalCommand: Command = {
  name: 'signal',
  summary: 'run the signaling server',
  usage,
  async run(argv) {
    const { values } = parseFlags(argv, {
      host: { type: 'string' },
      port: { type: 'string' },
      static: { type: 'string' },
      'max-per-ip': { type: 'string' },
      'ip-header': { type: 'string' },
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
    const running = await startSignalingServer({
      host,
      port,
      limits: { maxConnectionsPerSource },
      ...(staticDir ? { staticDir } : {}),
      ...(sourceHeader ? { sourceHeader } : {}),
    });
    process.stdout.write(
      `weftmesh signaling server on ${running.url} (health: http://${running.url.slice(5)}/health)\n`,
    );
    onShutdown(async () => {
      await running.close();
      return 0;
    });
    return new Promise<number>(() => {});
  },
};
