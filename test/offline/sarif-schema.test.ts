/**
 * `harden --report sarif` validates against the SARIF 2.1.0 JSON schema (test/offline/schemas/, from
 * SchemaStore, see the README there), with ajv (draft-07) and its formats (uri, uri-reference,
 * date-time). Broken documents are refused, so the validator is known to judge.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { Ajv, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { parseHardenArguments, runHarden } from '../../src/cli/harden.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const FIXTURES = path.join(here, 'fixtures');
const SCHEMA = path.join(here, 'schemas', 'sarif-schema-2.1.0.json');

// ajv-formats is CommonJS: under NodeNext its default export is the module object.
const addFormats = addFormatsModule as unknown as typeof addFormatsModule.default;

function validator(): ValidateFunction {
  // strict: false turns off ajv's lint of schema authoring (it objects to `required` inside `anyOf`
  // branches that name properties defined beside them), not validation.
  const ajv = new Ajv({ allErrors: true, strict: false });
  addFormats(ajv);
  return ajv.compile(JSON.parse(readFileSync(SCHEMA, 'utf8')) as object);
}

async function sarifOf(paths: string[]): Promise<unknown> {
  const parsed = parseHardenArguments(['--report', 'sarif', ...paths]);
  if (parsed.kind !== 'harden') throw new Error(JSON.stringify(parsed));
  let stdout = '';
  const code = await runHarden(parsed.invocation, {
    stdout: (text) => (stdout += text),
    stderr: () => undefined,
    readStdin: () => Promise.resolve(''),
    cwd: FIXTURES,
  });
  expect(code).to.equal(0);
  return JSON.parse(stdout) as unknown;
}

function errorsOf(validate: ValidateFunction): string {
  return (validate.errors ?? []).map((e) => `${e.instancePath} ${e.message ?? ''}`).join('\n');
}

describe('harden --report sarif against the SARIF 2.1.0 schema', () => {
  const validate = validator();

  it('validates for a directory with changes and residual violations', async () => {
    const sarif = (await sarifOf(['app'])) as {
      runs: { results: { level: string }[] }[];
    };
    const levels = new Set(sarif.runs[0]!.results.map((r) => r.level));
    expect([...levels], 'changes (warning) and residual violations (error)').to.include.members([
      'warning',
      'error',
    ]);
    expect(validate(sarif), errorsOf(validate)).to.equal(true);
  });

  it('validates with every rule and no result, as for a hardened tree', async () => {
    const sarif = (await sarifOf(['commented.yaml'])) as { runs: { results: unknown[] }[] };
    const again = structuredClone(sarif);
    again.runs[0]!.results = [];
    expect(validate(again), errorsOf(validate)).to.equal(true);
  });

  it('refuses broken documents: the schema is in force', async () => {
    const sarif = (await sarifOf(['app'])) as {
      version: string;
      runs: {
        tool: { driver: Record<string, unknown> };
        results: Record<string, unknown>[];
      }[];
    };
    const cases: [string, (doc: typeof sarif) => void][] = [
      ['a version other than 2.1.0', (doc) => (doc.version = '2.2.0')],
      ['a result level SARIF does not know', (doc) => (doc.runs[0]!.results[0]!.level = 'critical')],
      [
        'a line number below 1',
        (doc) => {
          const locations = doc.runs[0]!.results[0]!.locations as {
            physicalLocation: { region: { startLine: number } };
          }[];
          locations[0]!.physicalLocation.region.startLine = 0;
        },
      ],
      ['a result without a message', (doc) => delete doc.runs[0]!.results[0]!.message],
      ['a driver without a name', (doc) => delete doc.runs[0]!.tool.driver.name],
      ['a property SARIF does not define', (doc) => (doc.runs[0]!.results[0]!.severity = 'high')],
      [
        'an informationUri that is not a URI',
        (doc) => (doc.runs[0]!.tool.driver.informationUri = 'not a uri'),
      ],
    ];
    for (const [what, breakIt] of cases) {
      const broken = structuredClone(sarif);
      breakIt(broken);
      expect(validate(broken), what).to.equal(false);
    }
  });
});
