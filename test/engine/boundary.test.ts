/**
 * The engine stands alone: compiled from its entry point alone, it emits nothing outside src/engine/,
 * and loaded in a fresh Node process it pulls in none of the webhook's I/O packages. Its layers point
 * one way. eslint.config.js holds the same line at lint time; this test holds it for what actually runs.
 */
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import ts from 'typescript';
import { recordingImport } from '../support/module-recording.js';

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const ENGINE_DIR = path.join(REPO_ROOT, 'src/engine');
// Under node_modules, so the compiled engine resolves its packages the way the real build does.
const OUT_DIR = path.join(REPO_ROOT, 'node_modules/.cache/pod-hardener-engine-boundary');

/** What the webhook and CLI use for I/O; the engine must load none of it. */
const FORBIDDEN = [
  /^node:fs(\/|$)/,
  /^node:net$/,
  /\/node_modules\/express\//,
  /\/node_modules\/winston\//,
  /\/node_modules\/prom-client\//,
  /\/node_modules\/@kubernetes\/client-node\//,
];

/** Layers from the top; a module may import only from its own layer or those after it. */
const LAYERS = ['review', 'audit', 'harden', 'resolve', 'pod-security', 'record', 'controls', 'pod'];

const execFileAsync = promisify(execFile);

function engineFiles(dir = ENGINE_DIR): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return engineFiles(full);
    return entry.name.endsWith('.ts') ? [full] : [];
  });
}

function layerOf(file: string): number | undefined {
  const folder = path.relative(ENGINE_DIR, file).split(path.sep)[0] ?? '';
  const index = LAYERS.indexOf(folder);
  return index < 0 ? undefined : index;
}

function relativeImports(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const pattern = /\bfrom\s+'(\.[^']+)'|\bimport\s*\(?\s*'(\.[^']+)'/g;
  return [...text.matchAll(pattern)].map((match) => match[1] ?? match[2] ?? '');
}

/** Compiles src/engine/index.ts and whatever it reaches; returns the emitted .js files. */
function compileEngineAlone(): string[] {
  const config = ts.readConfigFile(path.join(REPO_ROOT, 'tsconfig.build.json'), (file) =>
    ts.sys.readFile(file),
  );
  const parsed = ts.parseJsonConfigFileContent(config.config, ts.sys, REPO_ROOT);
  const options: ts.CompilerOptions = {
    ...parsed.options,
    outDir: OUT_DIR,
    rootDir: path.join(REPO_ROOT, 'src'),
    sourceMap: false,
    declaration: false,
  };
  rmSync(OUT_DIR, { recursive: true, force: true });
  const program = ts.createProgram([path.join(ENGINE_DIR, 'index.ts')], options);
  const emitted: string[] = [];
  const result = program.emit(undefined, (fileName, text) => {
    mkdirSync(path.dirname(fileName), { recursive: true });
    writeFileSync(fileName, text);
    emitted.push(fileName);
  });
  const errors = ts
    .getPreEmitDiagnostics(program)
    .concat(result.diagnostics)
    .map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
  expect(errors, 'the engine compiles on its own').to.deep.equal([]);
  return emitted;
}

async function urlsLoadedBy(entry: string): Promise<string[]> {
  const log = path.join(OUT_DIR, 'loaded.txt');
  await execFileAsync(
    process.execPath,
    [
      '--import',
      recordingImport(OUT_DIR, log),
      '--input-type=module',
      '-e',
      `const engine = await import(${JSON.stringify(pathToFileURL(entry).href)});
       if (typeof engine.reviewAdmission !== 'function') throw new Error('no reviewAdmission');`,
    ],
    { cwd: REPO_ROOT },
  );
  return readFileSync(log, 'utf8').split('\n').filter(Boolean);
}

describe('engine boundary', () => {
  it('layers point one way: review → audit → harden → resolve → pod-security → record → controls → pod', () => {
    const violations: string[] = [];
    for (const file of engineFiles()) {
      const from = layerOf(file);
      for (const specifier of relativeImports(file)) {
        const target = path.resolve(path.dirname(file), specifier);
        const relative = path.relative(ENGINE_DIR, target);
        const name = `${path.relative(REPO_ROOT, file)} imports ${specifier}`;
        if (relative.startsWith('..')) violations.push(`${name}: outside the engine`);
        else if (from !== undefined && (layerOf(target) ?? -1) < from)
          violations.push(`${name}: an upper layer`);
      }
    }
    expect(violations).to.deep.equal([]);
  });

  it('every engine module belongs to a layer, apart from the entry point', () => {
    const unplaced = engineFiles()
      .filter((file) => layerOf(file) === undefined)
      .map((file) => path.relative(ENGINE_DIR, file));
    expect(unplaced).to.deep.equal(['index.ts']);
  });

  it('compiles from its entry point alone and loads no I/O package in a fresh process', async function () {
    this.timeout(60_000);
    const emitted = compileEngineAlone();
    const outside = emitted.filter((file) => !file.startsWith(path.join(OUT_DIR, 'engine') + path.sep));
    expect(outside, 'compiled files outside src/engine').to.deep.equal([]);

    const loaded = await urlsLoadedBy(path.join(OUT_DIR, 'engine/index.js'));
    // The hook sees what the engine does load; without that, an empty list would prove nothing.
    expect(loaded.some((url) => url.includes('/node_modules/fast-json-patch/'))).to.equal(true);
    expect(loaded.some((url) => url.endsWith('/engine/controls/registry.js'))).to.equal(true);
    expect(loaded.filter((url) => FORBIDDEN.some((pattern) => pattern.test(url)))).to.deep.equal([]);
    const outsideEngine = loaded.filter(
      (url) =>
        url.startsWith('file:') &&
        url.includes('/pod-hardener-engine-boundary/') &&
        !url.includes('/engine/'),
    );
    expect(outsideEngine.filter((url) => !url.endsWith('record-hooks.mjs'))).to.deep.equal([]);
  });
});
