/**
 * SARIF 2.1.0 (OASIS): one rule per control and per Pod Security "restricted" check found, a result
 * per change (level warning: the manifest is not hardened there) and per residual violation (level
 * error: hardening deliberately left it), located by file and line. GitHub code scanning reads it.
 */
import path from 'node:path';
import { CONTROL_IDS } from '../../engine/index.js';
import type { FileResult } from '../harden-file.js';
import type { Mode } from '../../engine/index.js';
import { CONTROL_DESCRIPTIONS, HELP_URI } from './controls.js';

const PSS_URI = 'https://kubernetes.io/docs/concepts/security/pod-security-standards/#restricted';

/** A relative URI for a file name, with `/` separators; `stdin` for standard input. */
function uriOf(file: string, cwd: string): string {
  if (file === '-') return 'stdin';
  const relative = path.isAbsolute(file) ? path.relative(cwd, file) : file;
  return relative.split(path.sep).map(encodeURIComponent).join('/');
}

export function sarifReport(files: readonly FileResult[], mode: Mode, version: string, cwd: string): string {
  const checks = [
    ...new Set(files.flatMap((f) => f.workloads.flatMap((w) => w.violations.map((v) => v.check)))),
  ].sort();
  const rules = [
    ...CONTROL_IDS.map((id) => ({
      id,
      name: id,
      shortDescription: { text: `pod-hardener control ${id}` },
      fullDescription: { text: CONTROL_DESCRIPTIONS[id] },
      helpUri: HELP_URI,
      defaultConfiguration: { level: 'warning' },
    })),
    ...checks.map((check) => ({
      id: `pod-security-restricted/${check}`,
      name: check,
      shortDescription: { text: `Pod Security "restricted": ${check}` },
      fullDescription: {
        text: `The pod still fails the Pod Security Standards "restricted" check ${check} after hardening: an explicit value or an opt-out pod-hardener leaves as it is.`,
      },
      helpUri: PSS_URI,
      defaultConfiguration: { level: 'error' },
    })),
  ];
  const ruleIndex = new Map(rules.map((rule, index) => [rule.id, index]));
  const verb = mode === 'enforce' ? 'sets' : 'would set';
  const results = files.flatMap((file) =>
    file.workloads.flatMap((w) => {
      const location = (line: number) => [
        {
          physicalLocation: {
            artifactLocation: { uri: uriOf(w.file, cwd) },
            region: { startLine: line },
          },
          logicalLocations: [
            { name: w.name, fullyQualifiedName: `${w.kind}/${w.namespace}/${w.name}`, kind: 'object' },
          ],
        },
      ];
      return [
        ...w.changes.map((c) => ({
          ruleId: c.control,
          ruleIndex: ruleIndex.get(c.control) ?? 0,
          level: 'warning',
          message: {
            text: `${w.kind} ${w.namespace}/${w.name}: pod-hardener ${verb} ${c.field} = ${JSON.stringify(c.value)}`,
          },
          locations: location(c.line),
          properties: { field: c.field, target: c.target, document: w.document },
        })),
        ...w.violations.map((v) => {
          const id = `pod-security-restricted/${v.check}`;
          return {
            ruleId: id,
            ruleIndex: ruleIndex.get(id) ?? 0,
            level: 'error',
            message: {
              text: `${w.kind} ${w.namespace}/${w.name}: ${v.target}: ${v.detail} (Pod Security "restricted" ${v.check}, left after hardening)`,
            },
            locations: location(v.line),
            properties: { target: v.target, document: w.document },
          };
        }),
      ];
    }),
  );
  const sarif = {
    $schema: 'https://json.schemastore.org/sarif-2.1.0.json',
    version: '2.1.0',
    runs: [
      {
        tool: {
          driver: {
            name: 'pod-hardener',
            version,
            informationUri: 'https://github.com/pod-hardener/pod-hardener',
            rules,
          },
        },
        results,
      },
    ],
  };
  return `${JSON.stringify(sarif, null, 2)}\n`;
}
