import { startSignalingServer } from '../../signaling/node.ts';
import { type Command, intFlag, parseFlags, stringFlag } from '../command.ts';
import { onShutdown } from '../shutdown.ts';

const usage = `Usage: weftmesh signal [--host 127.0.0.1] [--port 8787] [--static DIR]

Runs the signaling server: nodes of a cluster meet in its room, prove their keys, and
exchange WebRTC offers through it. GET /health reports its state. Stops on Ctrl-C.

  --host H      interface to listen on (default 127.0.0.1)
  --port N      port (default 8787; 0 picks a free one)
  --static DIR  also serve the files of DIR over HTTP`;

export const signalCommand: Command = {
  name: 'signal',
  summary: 'run the signaling server',
  usage,
  async run(argv) {
    const { values } = parseFlags(argv, {
      host: { type: 'string' },
      port: { type: 'string' },
      static: { type: 'string' },
    });
    const host = stringFlag(values.host, 'host', '127.0.0.1');
    const port = intFlag(values.port, 'port', 8787, 0, 65535);
    const staticDir = values.static === undefined ? undefined : stringFlag(values.static, 'static', '');
    const running = await startSignalingServer({ host, port, ...(staticDir ? { staticDir } : {}) });
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
