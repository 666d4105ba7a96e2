/**
 * `pod-hardener harden`: the webhook's hardening applied to manifests on disk or stdin. Loads none of
 * express, winston, prom-client or the Kubernetes client (test/cli/harden-imports.test.ts).
 */
import { randomBytes } from 'node:crypto';
import { chmod, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Mode } from '../engine/index.js';
import { hardenFile, type FileResult } from '../offline/harden-file.js';
import { InputError } from '../offline/input-error.js';
import { jsonReport } from '../offline/reports/json.js';
import { policyReports } from '../offline/reports/policy-report.js';
import { sarifReport } from '../offline/reports/sarif.js';
import { textReport } from '../offline/reports/text.js';
import { unifiedDiff } from '../offline/text-diff.js';
import { engineSettingsFrom } from './config-file.js';
import { packageVersion } from './version.js';
import type { HardenInvocation, ReportFormat } from './harden-args.js';

export { HARDEN_USAGE, parseHardenArguments, type HardenInvocation } from './harden-args.js';

export interface HardenIo {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  readonly readStdin: () => Promise<string>;
  readonly cwd: string;
}

const EXIT_CHANGES = 1;
const EXIT_BAD_INPUT = 2;

interface InputFile {
  readonly name: string;
  readonly text: string;
  readonly json: boolean;
}

const MANIFEST = /\.(ya?ml|json)$/i;

async function listDirectory(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const files: string[] = [];
  for (const entry of entries) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      if (!entry.name.startsWith('.')) files.push(...(await listDirectory(full)));
    } else if (entry.isFile() && MANIFEST.test(entry.name)) {
      files.push(full);
    }
  }
  return files;
}

async function readInputs(paths: readonly string[], io: HardenIo): Promise<InputFile[]> {
  const files: InputFile[] = [];
  for (const given of paths) {
    if (given === '-') {
      const text = await io.readStdin();
      files.push({ name: '-', text, json: /^\s*[{[]/.test(text) && !/^\s*\[[^\]]*\]\s*:/.test(text) });
      continue;
    }
    const full = path.resolve(io.cwd, given);
    let info;
    try {
      info = await stat(full);
    } catch (err) {
      throw new InputError(given, undefined, describeFsError(err));
    }
    const names = info.isDirectory()
      ? (await listDirectory(full)).map((f) => path.join(given, path.relative(full, f)))
      : [given];
    for (const name of names) {
      try {
        const text = await readFile(path.resolve(io.cwd, name), 'utf8');
        files.push({ name, text, json: /\.json$/i.test(name) });
      } catch (err) {
        throw new InputError(name, undefined, describeFsError(err));
      }
    }
  }
  return files;
}

function describeFsError(err: unknown): string {
  if (err instanceof Error && 'code' in err) {
    switch (err.code) {
      case 'ENOENT':
        return 'no such file or directory';
      case 'EACCES':
        return 'permission denied';
      case 'EISDIR':
        return 'is a directory';
    }
  }
  return err instanceof Error ? err.message : String(err);
}

/** Writes through a temporary file in the same directory and a rename, keeping the file's mode. */
async function writeAtomically(file: string, text: string): Promise<void> {
  const { mode } = await stat(file);
  const temporary = path.join(
    path.dirname(file),
    `.${path.basename(file)}.pod-hardener-${randomBytes(6).toString('hex')}.tmp`,
  );
  try {
    await writeFile(temporary, text, { flag: 'wx', mode });
    await chmod(temporary, mode);
    await rename(temporary, file);
  } catch (err) {
    await rm(temporary, { force: true });
    throw err;
  }
}

function report(
  format: ReportFormat,
  files: readonly FileResult[],
  mode: Mode,
  cwd: string,
  looking: boolean,
): string {
  switch (format) {
    case 'text':
      return textReport(files, mode, looking);
    case 'json':
      return jsonReport(files, mode, packageVersion());
    case 'sarif':
      return sarifReport(files, mode, packageVersion(), cwd);
    case 'policyreport':
      return policyReports(files, mode, new Date());
  }
}

/** Joins files into one YAML stream: each starts on a new line after a `---` unless it has one. */
function joinStream(texts: readonly string[]): string {
  let out = '';
  for (const text of texts) {
    if (out !== '') {
      if (!out.endsWith('\n')) out += '\n';
      if (!/^(\s*#[^\n]*\n|\s*\n)*---/.test(text)) out += '---\n';
    }
    out += text;
  }
  return out;
}

export async function runHarden(invocation: HardenInvocation, io: HardenIo): Promise<number> {
  let results: FileResult[];
  try {
    const settings = await engineSettingsFrom(invocation.config, io.cwd);
    const inputs = await readInputs(invocation.paths, io);
    results = [];
    // Every file is hardened before any is written: bad input anywhere writes nothing.
    for (const input of inputs) {
      results.push(
        await hardenFile(input.name, input.text, input.json, {
          settings,
          mode: invocation.mode,
          defaultNamespace: invocation.namespace,
        }),
      );
    }
  } catch (err) {
    if (err instanceof InputError) {
      io.stderr(`pod-hardener: ${err.message}\n`);
      return EXIT_BAD_INPUT;
    }
    throw err;
  }

  const enforce = invocation.mode === 'enforce';
  const outputOf = (r: FileResult): string => (enforce ? r.output : r.original);
  const reportText =
    invocation.report === undefined
      ? undefined
      : report(
          invocation.report,
          results,
          invocation.mode,
          io.cwd,
          invocation.check || invocation.diff || (!invocation.inPlace && invocation.reportFile === undefined),
        );
  if (reportText !== undefined && invocation.reportFile !== undefined) {
    await writeFile(path.resolve(io.cwd, invocation.reportFile), reportText);
  }
  const reportOnStdout = reportText !== undefined && invocation.reportFile === undefined;

  if (invocation.inPlace && enforce) {
    for (const r of results) {
      if (r.output !== r.original) await writeAtomically(path.resolve(io.cwd, r.name), r.output);
    }
  }
  if (invocation.diff) {
    for (const r of results) {
      const name = r.name === '-' ? 'stdin' : r.name;
      io.stdout(unifiedDiff(r.original, outputOf(r), `a/${name}`, `b/${name}`));
    }
  }
  const changes = results.reduce((n, r) => n + r.workloads.reduce((m, w) => m + w.changes.length, 0), 0);
  const denied = results.some((r) => r.workloads.some((w) => w.outcome === 'denied'));
  if (invocation.check && !reportOnStdout) {
    if (changes > 0 || denied) io.stdout(textReport(results, invocation.mode, true));
  }
  if (reportOnStdout) io.stdout(reportText);
  else if (!invocation.inPlace && !invocation.check && !invocation.diff) {
    io.stdout(joinStream(results.map(outputOf)));
  }
  if (invocation.mode === 'warn') {
    for (const r of results)
      for (const w of r.workloads)
        for (const c of w.changes)
          io.stderr(
            `warning: ${w.file}:${c.line}: ${w.kind} ${w.namespace}/${w.name}: would set ${c.field} (${c.control})\n`,
          );
  }
  return invocation.check && (changes > 0 || denied) ? EXIT_CHANGES : 0;
}
