/**
 * Headless Chromium for tests, driven over the DevTools protocol on a pipe (--remote-debugging-pipe:
 * JSON messages ending in NUL on fds 3 and 4), so no port is opened and nothing is fetched: the
 * browser starts with networking features off and an empty profile that is removed afterwards.
 * Every wait is bounded; on a timeout the browser's whole process group is killed.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';

/** Debian's chromium, or $DPREP_CHROMIUM; undefined when none answers `--version` within 20 s. */
export function findChromium(): string | undefined {
  for (const bin of [process.env.DPREP_CHROMIUM, '/usr/bin/chromium', 'chromium', 'chromium-browser'].filter(Boolean) as string[]) {
    if (bin.includes('/') && !existsSync(bin)) continue;
    const r = spawnSync(bin, ['--version'], { encoding: 'utf8', timeout: 20_000 });
    if (r.status === 0 && /chrom/i.test(r.stdout)) return bin;
  }
  return undefined;
}

/** The flags from the issue: no sandbox (CI runs as root), no GPU, nothing that talks to the network. */
export const CHROMIUM_FLAGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--hide-scrollbars', '--mute-audio', '--disable-extensions',
];

export interface Page {
  /** Evaluates `expression` in the page and returns its value (JSON-serializable); page exceptions reject. */
  evaluate<T>(expression: string): Promise<T>;
  /** Closes the browser (killing it if it does not exit in 10 s) and removes its profile. */
  close(): Promise<void>;
}

/**
 * Opens `url` in a fresh headless Chromium and waits for its load event.
 * @example const page = await openPage(chromium, pathToFileURL('report.html').href); await page.evaluate('document.title');
 */
export async function openPage(chromium: string, url: string, { width = 1200, height = 900, timeoutMs = 60_000 } = {}): Promise<Page> {
  const profile = mkdtempSync(join(tmpdir(), 'dprep-chromium-'));
  const child = spawn(chromium, [...CHROMIUM_FLAGS, `--window-size=${width},${height}`, `--user-data-dir=${profile}`, '--remote-debugging-pipe', 'about:blank'], {
    stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe'],
    detached: true, // its own process group: renderers and zygotes are killed with it
  });
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr = (stderr + d).slice(-4000)));
  const cdp = new Cdp(child.stdio[3] as Writable, child.stdio[4] as Readable, () => `chromium stderr: ${stderr}`);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.once('exit', (code, signal) => cdp.failAll(new Error(`chromium exited (${code ?? signal}); ${stderr}`)));
  const close = async () => {
    await cdp.send('Browser.close', {}, undefined, 5_000).catch(() => {});
    const done = await Promise.race([exited.then(() => true), sleep(10_000).then(() => false)]);
    if (!done) killGroup(child);
    rmSync(profile, { recursive: true, force: true });
  };
  try {
    const { targetId } = await cdp.send<{ targetId: string }>('Target.createTarget', { url: 'about:blank' }, undefined, timeoutMs);
    const { sessionId } = await cdp.send<{ sessionId: string }>('Target.attachToTarget', { targetId, flatten: true }, undefined, timeoutMs);
    const evaluate = async <T>(expression: string): Promise<T> => {
      const r = await cdp.send<{ result: { value: T }; exceptionDetails?: { text: string; exception?: { description?: string } } }>(
        'Runtime.evaluate', { expression, returnByValue: true, awaitPromise: true }, sessionId, timeoutMs,
      );
      if (r.exceptionDetails) throw new Error(`page: ${r.exceptionDetails.exception?.description ?? r.exceptionDetails.text}`);
      return r.result.value;
    };
    await cdp.send('Page.enable', {}, sessionId, timeoutMs);
    const loaded = cdp.waitFor('Page.loadEventFired', sessionId, timeoutMs);
    await cdp.send('Page.navigate', { url }, sessionId, timeoutMs);
    await loaded;
    return { evaluate, close };
  } catch (err) {
    await close();
    throw err;
  }
}

function killGroup(child: ChildProcess): void {
  try {
    if (child.pid) process.kill(-child.pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms).unref());

/** The DevTools protocol over the pipe: numbered requests, their responses, and events. */
class Cdp {
  private nextId = 1;
  private buffer = '';
  private readonly pending = new Map<number, { resolve: (v: any) => void; reject: (e: Error) => void }>();
  private readonly listeners: { method: string; sessionId?: string; resolve: () => void }[] = [];

  constructor(
    private readonly input: Writable,
    output: Readable,
    private readonly context: () => string,
  ) {
    output.setEncoding('utf8');
    output.on('data', (chunk: string) => {
      this.buffer += chunk;
      let end;
      while ((end = this.buffer.indexOf('\0')) >= 0) {
        const message = JSON.parse(this.buffer.slice(0, end));
        this.buffer = this.buffer.slice(end + 1);
        this.dispatch(message);
      }
    });
  }

  send<T = unknown>(method: string, params: object, sessionId: string | undefined, timeoutMs: number): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`chromium: no answer to ${method} in ${timeoutMs} ms; ${this.context()}`));
      }, timeoutMs);
      this.pending.set(id, {
        resolve: (v) => (clearTimeout(timer), resolve(v)),
        reject: (e) => (clearTimeout(timer), reject(e)),
      });
      this.input.write(JSON.stringify({ id, method, params, ...(sessionId ? { sessionId } : {}) }) + '\0');
    });
  }

  waitFor(method: string, sessionId: string | undefined, timeoutMs: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`chromium: no ${method} in ${timeoutMs} ms; ${this.context()}`)), timeoutMs);
      this.listeners.push({ method, sessionId, resolve: () => (clearTimeout(timer), resolve()) });
    });
  }

  failAll(err: Error): void {
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
  }

  private dispatch(message: { id?: number; method?: string; sessionId?: string; result?: unknown; error?: { message: string } }): void {
    if (message.id !== undefined) {
      const p = this.pending.get(message.id);
      this.pending.delete(message.id);
      if (message.error) p?.reject(new Error(`chromium: ${message.error.message}`));
      else p?.resolve(message.result);
      return;
    }
    for (let i = this.listeners.length - 1; i >= 0; i--) {
      const l = this.listeners[i];
      if (l.method === message.method && l.sessionId === message.sessionId) {
        this.listeners.splice(i, 1);
        l.resolve();
      }
    }
  }
}
