/**
 * The package as a user gets it: `npm pack` of the built package, installed with npm into a
 * throwaway project. Runs without a registry (inside the loopback-only namespace): the
 * project's lockfile is written from this repository's, so `npm ci --offline` takes every
 * dependency from the npm cache that `npm ci` filled here. (npm 11's `npm install <tarball>`
 * asks the registry for full package documents, which that cache does not hold.)
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { promisify } from 'node:util';
import ts from 'typescript';

const run = promisify(execFile);
export const ROOT = new URL('../..', import.meta.url).pathname;
/** Tools a consumer would install, taken from this package's devDependencies. */
export const BIN = join(ROOT, 'node_modules/.bin');

interface LockEntry {
  version?: string;
  dev?: boolean;
  dependencies?: Record<string, string>;
  [k: string]: unknown;
}
type Packages = Record<string, LockEntry>;

export interface Packed {
  /** A temporary directory holding the tarball; consumer projects go inside it. */
  dir: string;
  tarball: string;
  files: string[];
  cleanup(): Promise<void>;
}

/** Packs the built package (run `npm run build` first) into a new temporary directory. */
export async function packWeftmesh(): Promise<Packed> {
  const dir = await mkdtemp(join(tmpdir(), 'weftmesh-packed-'));
  const { stdout } = await run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', dir], {
    cwd: ROOT,
    maxBuffer: 16 << 20,
  });
  const [info] = JSON.parse(stdout) as Array<{ filename: string; files: Array<{ path: string }> }>;
  return {
    dir,
    tarball: join(dir, basename(info!.filename)),
    files: info!.files.map((f) => f.path),
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
}

/** Lockfile entries of `names` and everything they depend on (this repository's versions). */
function closure(repo: Packages, names: string[]): Packages {
  const out: Packages = {};
  const todo = [...names];
  for (let name = todo.pop(); name !== undefined; name = todo.pop()) {
    const key = `node_modules/${name}`;
    const entry = repo[key];
    if (!entry || out[key]) continue;
    const { dev: _dev, ...rest } = entry;
    out[key] = rest;
    todo.push(...Object.keys(entry.dependencies ?? {}));
  }
  return out;
}

/**
 * Creates the project `name` inside `packed.dir` with weftmesh (from the tarball) and `extra`
 * packages (names of this repository's devDependencies, e.g. typescript types) installed;
 * `optional`: with weftmesh's optional dependencies (@roamhq/wrtc, for WebRTC on Node).
 */
export async function installConsumer(
  packed: Packed,
  name: string,
  files: Record<string, string>,
  extra: string[] = [],
  { optional = false }: { optional?: boolean } = {},
): Promise<string> {
  const app = join(packed.dir, name);
  const repoLock = JSON.parse(await readFile(join(ROOT, 'package-lock.json'), 'utf8')) as {
    packages: Packages;
  };
  const repo = repoLock.packages;
  const pkg = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as LockEntry & {
    optionalDependencies?: Record<string, string>;
    overrides?: Record<string, string>;
  };
  const tarball = `file:../${basename(packed.tarball)}`;
  const integrity = `sha512-${createHash('sha512')
    .update(await readFile(packed.tarball))
    .digest('base64')}`;
  const extraVersions = Object.fromEntries(extra.map((n) => [n, repo[`node_modules/${n}`]!.version!]));
  const dependencies = { weftmesh: tarball, ...extraVersions };
  // Everything weftmesh needs at run time is the repository's non-dev closure.
  const runtime = Object.fromEntries(
    Object.entries(repo).filter(([k, v]) => k !== '' && !v.dev && k.startsWith('node_modules/')),
  );
  const lock = {
    name,
    lockfileVersion: 3,
    requires: true,
    packages: {
      '': { name, dependencies },
      'node_modules/weftmesh': {
        version: pkg.version,
        resolved: tarball,
        integrity,
        dependencies: pkg.dependencies,
        optionalDependencies: pkg.optionalDependencies,
        bin: pkg.bin,
      },
      ...runtime,
      ...closure(repo, extra),
    },
  };
  await run('mkdir', ['-p', app]);
  // This package's overrides (cbor-extract pinned to the version whose binaries the cache
  // holds) apply to it alone; the project repeats them so the lockfile's tree is valid.
  const project = { name, private: true, type: 'module', dependencies, overrides: pkg.overrides };
  await writeFile(join(app, 'package.json'), `${JSON.stringify(project, null, 2)}\n`);
  await writeFile(join(app, 'package-lock.json'), `${JSON.stringify(lock, null, 2)}\n`);
  for (const [file, text] of Object.entries(files)) {
    await run('mkdir', ['-p', join(app, file, '..')]);
    await writeFile(join(app, file), text);
  }
  await run(
    'npm',
    [
      'ci',
      '--offline',
      '--ignore-scripts',
      ...(optional ? [] : ['--omit=optional']),
      '--no-audit',
      '--no-fund',
      '--loglevel=error',
    ],
    { cwd: app, maxBuffer: 16 << 20 },
  );
  return app;
}

/** Runs a command in `cwd`; resolves with its output, rejects with it (exit code ≠ 0). */
export async function sh(
  cwd: string,
  cmd: string,
  args: string[],
  env: NodeJS.ProcessEnv = {},
): Promise<{ stdout: string; stderr: string }> {
  try {
    return await run(cmd, args, { cwd, env: { ...process.env, ...env }, maxBuffer: 16 << 20 });
  } catch (e) {
    const err = e as Error & { stdout?: string; stderr?: string };
    throw new Error(
      `${cmd} ${args.join(' ')} failed in ${cwd}:\n${err.stdout ?? ''}\n${err.stderr ?? err.message}`,
    );
  }
}

/** A TypeScript project in a consumer: its compiler options and root files. */
export interface Project {
  compilerOptions: Record<string, unknown>;
  files: string[];
}

/**
 * Type-checks each project (written to `<dir>/tsconfig.<name>.json`) in one TypeScript build,
 * as `tsc -b` would: one compiler start and shared parsing instead of one `tsc -p` per
 * project. Resolves with each project's diagnostics, formatted as tsc prints them ('' when
 * it type-checks); throws if a project was not checked.
 */
export async function typecheck(
  dir: string,
  projects: Record<string, Project>,
): Promise<Record<string, string>> {
  const configs = new Map<string, string>();
  for (const [name, project] of Object.entries(projects)) {
    const config = join(dir, `tsconfig.${name}.json`);
    await writeFile(config, JSON.stringify(project));
    configs.set(config, name);
  }
  const out: Record<string, string> = {};
  let current: string | undefined;
  const formatHost: ts.FormatDiagnosticsHost = {
    getCanonicalFileName: (f) => f,
    getCurrentDirectory: () => dir,
    getNewLine: () => '\n',
  };
  const report = (d: ts.Diagnostic) => {
    if (current === undefined)
      throw new Error(
        `diagnostic outside a project: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`,
      );
    out[current] += ts.formatDiagnostic(d, formatHost);
  };
  const host = ts.createSolutionBuilderHost(ts.sys, undefined, report, () => {});
  const builder = ts.createSolutionBuilder(host, [...configs.keys()], {});
  for (let p = builder.getNextInvalidatedProject(); p; p = builder.getNextInvalidatedProject()) {
    current = configs.get(p.project);
    if (current === undefined) throw new Error(`unexpected project ${p.project}`);
    out[current] = '';
    p.done();
  }
  const unchecked = [...configs.values()].filter((name) => out[name] === undefined);
  if (unchecked.length > 0) throw new Error(`not type-checked: ${unchecked.join(', ')}`);
  return out;
}
