/** The `demo` command's options; the demo itself (src/main/demo.ts) loads only when it runs. */
import { Command, InvalidArgumentError } from 'commander';
import { EXIT } from '../cli/exit-codes.js';
import { positiveInt } from '../cli/times.js';

function port(value: string): number {
  if (!/^\d{1,5}$/.test(value.trim()) || Number(value) > 65535) throw new InvalidArgumentError('expected a port from 0 to 65535');
  return Number(value);
}

export function buildDemoCommand(): Command {
  return new Command('demo')
    .description('start a gateway, 1,000 simulated devices and a scheduled rollout; print a summary (npm run demo)')
    .option('--devices <n>', 'simulated devices', positiveInt, 1000)
    .option('--port <port>', 'HTTP port of the gateway (taken: any free one; 0: any)', port, 8080)
    .option('--lead <s>', 'seconds from the job to the scheduled moment (default: devices/40, at least 10)', positiveInt)
    .option('--keep-running', 'keep the gateway running after the summary (default in a terminal)')
    .option('--no-keep-running', 'stop right after the summary')
    .option('--json', 'the summary as JSON (progress as lines on standard error)')
    .action(async (o: { devices: number; port: number; lead?: number; keepRunning?: boolean; json?: boolean }) => {
      const { runDemo } = await import('./demo.js');
      const summary = await runDemo({
        devices: o.devices,
        port: o.port,
        ...(o.lead !== undefined && { leadSeconds: o.lead }),
        keepRunning: o.keepRunning ?? Boolean(process.stdout.isTTY),
        ...(o.json !== undefined && { json: o.json }),
      });
      const ended = summary.completed + summary.failed + summary.missed + summary.expired + summary.cancelled;
      process.exitCode = ended === summary.devices ? EXIT.ok : EXIT.partial;
    });
}
