#!/usr/bin/env node
import type { Command } from './command.ts';
import { UsageError } from './command.ts';
import { packageVersion } from './version.ts';

/**
 * A command's module is imported only when that command runs: together they pull in the
 * simulator, the Raft checker, the Redis client and the demo's bundler, which doubled the start
 * of every `weftmesh node` (1.0–1.3 s against 0.4–0.5 s for its own module) and slowed 8 nodes
 * started at once on 2 cores while they formed.
 */
const commands: ReadonlyArray<{ name: string; summary: string; load: () => Promise<Command> }> = [
  {
    name: 'demo',
    summary: 'signaling server + live browser demo + a few local nodes (what npm start runs)',
    load: async () => (await import('./commands/demo.ts')).demoCommand,
  },
  {
    name: 'sim',
    summary: 'run a deterministic cluster simulation and report detection, accuracy and traffic',
    load: async () => (await import('./commands/sim.ts')).simCommand,
  },
  {
    name: 'signal',
    summary: 'run the signaling server',
    load: async () => (await import('./commands/signal.ts')).signalCommand,
  },
  {
    name: 'node',
    summary: 'run a headless node that joins a cluster and prints what changes in it',
    load: async () => (await import('./commands/node.ts')).nodeCommand,
  },
];

function help(): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  return [
    'weftmesh: browser, edge and Node peers forming one cluster.',
    '',
    'Usage: weftmesh <command> [flags]     (weftmesh <command> --help for its flags)',
    '',
    'Commands:',
    ...commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    'Flags:',
    '  -h, --help     this help',
    '  -v, --version  print the version',
  ].join('\n');
}

async function main(argv: string[]): Promise<number> {
  const [first, ...rest] = argv;
  if (first === undefined || first === '-h' || first === '--help' || first === 'help') {
    process.stdout.write(`${help()}\n`);
    return first === undefined ? 2 : 0;
  }
  if (first === '-v' || first === '--version') {
    process.stdout.write(`${packageVersion()}\n`);
    return 0;
  }
  const entry = commands.find((c) => c.name === first);
  if (!entry) {
    process.stderr.write(`weftmesh: unknown command "${first}"\n\n${help()}\n`);
    return 2;
  }
  const command = await entry.load();
  if (rest.includes('-h') || rest.includes('--help')) {
    process.stdout.write(`${command.usage}\n`);
    return 0;
  }
  try {
    return await command.run(rest);
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`weftmesh ${command.name}: ${e.message}\n\n${command.usage}\n`);
      return 2;
    }
    process.stderr.write(
      `weftmesh ${command.name}: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`,
    );
    return 1;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e) => {
    process.stderr.write(`${String(e)}\n`);
    process.exitCode = 1;
  },
);
