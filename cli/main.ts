#!/usr/bin/env node
import type { Command } from './command.ts';
import { UsageError } from './command.ts';
import { demoCommand } from './commands/demo.ts';
import { nodeCommand } from './commands/node.ts';
import { signalCommand } from './commands/signal.ts';
import { simCommand } from './commands/sim.ts';
import { packageVersion } from './version.ts';

const commands: Command[] = [demoCommand, simCommand, signalCommand, nodeCommand];

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
  const command = commands.find((c) => c.name === first);
  if (!command) {
    process.stderr.write(`weftmesh: unknown command "${first}"\n\n${help()}\n`);
    return 2;
  }
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
