/** Runs `stop` once on SIGINT or SIGTERM, then exits with its code. */
export function onShutdown(stop: () => Promise<number>): void {
  let stopping = false;
  const handler = () => {
    if (stopping) return;
    stopping = true;
    stop().then(
      (code) => process.exit(code),
      (e) => {
        process.stderr.write(`shutdown failed: ${String(e)}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
}
