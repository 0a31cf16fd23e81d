#!/usr/bin/env node
// Entry point of the `dprep` command. The sources are TypeScript run through tsx's loader,
// so there is no build step between editing and running.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/cli.ts');
process.exitCode = await main(process.argv.slice(2));
// The command is over: anything still holding the event loop (a worker, a stream an error path
// forgot) must not keep the process, and a run lock with it, alive. The timer is unref'd, so a
// clean exit does not wait for it; it gives pending output a moment before the forced exit.
setTimeout(() => process.exit(), 1000).unref();
