/**
 * Hostile reviews, one case at a time, against the real server: each must be answered within the
 * webhook's timeoutSeconds (5 s) with no 5xx for pod-shaped input (an over-cap pod may be allowed with
 * warnings or denied; a body over the limit is refused with a 4xx), the process must survive it, and a
 * normal review sent every 100 ms while it is being handled must be answered in under a second.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { expect } from 'chai';
import { parse } from 'yaml';
import { HOSTILE_CASES, type HostileCase } from './support/bodies.js';
import { admissionResponse, describeAnswer, post, Prober, type Answer } from './support/client.js';
import { mib, record } from './support/report.js';
import {
  DEPLOYMENT_MEMORY_LIMIT_BYTES,
  DEPLOYMENT_NODE_OPTIONS,
  describeExit,
  notableOutput,
  REPO_ROOT,
  WebhookProcess,
} from './support/server.js';

/** The webhook's timeoutSeconds in the shipped MutatingWebhookConfiguration. */
export const ANSWER_BOUND_MS = 5_000;
/** A normal review sent meanwhile must be answered faster than this. */
export const PROBE_BOUND_MS = 1_000;
/** How long to wait for a hostile answer before calling it missing (longer than the bound, to report it). */
const WAIT_MS = 15_000;

function problemsOf(c: HostileCase, answers: readonly Answer[]): string[] {
  const problems: string[] = [];
  for (const [i, answer] of answers.entries()) {
    const which = answers.length > 1 ? `copy ${i + 1}: ` : '';
    if (c.kind === 'over-limit') {
      // Refused: a 4xx, or the connection closed on the rest of the body after the limit.
      const refused =
        (answer.status !== undefined && answer.status >= 400 && answer.status < 500) ||
        (answer.status === undefined && /ECONNRESET|EPIPE|socket hang up/.test(answer.error ?? ''));
      if (!refused)
        problems.push(`${which}over the limit but not refused with a 4xx: ${describeAnswer(answer)}`);
    } else if (answer.status === undefined) {
      problems.push(`${which}no answer: ${describeAnswer(answer)}`);
    } else if (answer.status >= 500) {
      problems.push(`${which}a ${answer.status} for pod input: ${describeAnswer(answer)}`);
    } else if (answer.status === 200 && typeof admissionResponse(answer)?.allowed !== 'boolean') {
      problems.push(`${which}a 200 that is not an AdmissionReview answer: ${describeAnswer(answer)}`);
    }
    if (answer.status !== undefined && answer.ms > ANSWER_BOUND_MS)
      problems.push(
        `${which}answered after ${Math.round(answer.ms)} ms, over the ${ANSWER_BOUND_MS} ms bound`,
      );
  }
  return problems;
}

describe('abuse: hostile reviews', function () {
  let server: WebhookProcess | undefined;

  before(async function () {
    this.timeout(30_000);
    server = await WebhookProcess.start();
  });

  after(async () => {
    await server?.kill();
  });

  it("runs the server with the Deployment's NODE_OPTIONS", () => {
    const deployment = parse(
      readFileSync(path.join(REPO_ROOT, 'manifests/base/deployment.yaml'), 'utf8'),
    ) as {
      spec: { template: { spec: { containers: { env?: { name: string; value?: string }[] }[] } } };
    };
    const env = deployment.spec.template.spec.containers[0]?.env ?? [];
    expect(env.find((e) => e.name === 'NODE_OPTIONS')?.value).to.equal(DEPLOYMENT_NODE_OPTIONS);
  });

  for (const c of HOSTILE_CASES) {
    it(c.name, async function () {
      this.timeout(90_000);
      // A case that killed (or wedged) the server does not take the following ones with it.
      if (server?.alive === true && (await server.healthz(2_000)) !== 200) await server.kill();
      if (server === undefined || !server.alive) server = await WebhookProcess.start();
      const webhook = server;
      const body = c.body();
      const copies = c.concurrent ?? 1;
      const mark = webhook.outputMark();
      webhook.resetPeakRss();
      // VmHWM is gone with the process, so it is also sampled while the case runs.
      let sampledPeak = 0;
      const sampler = setInterval(() => {
        sampledPeak = Math.max(sampledPeak, webhook.peakRssBytes() ?? 0);
      }, 50);
      const prober = new Prober(webhook.port, webhook.ca);
      let answers: Answer[];
      let probes;
      try {
        await prober.warm();
        const hostile = Promise.all(
          Array.from({ length: copies }, () =>
            post({
              port: webhook.port,
              ca: webhook.ca,
              body,
              timeoutMs: WAIT_MS,
              ...(c.chunked === true ? { chunked: true } : {}),
            }),
          ),
        );
        probes = await prober.during(hostile);
        answers = await hostile;
      } finally {
        prober.close();
        clearInterval(sampler);
      }
      const peak = Math.max(webhook.peakRssBytes() ?? 0, sampledPeak) || undefined;
      // A process running out of memory can collect garbage for seconds, unresponsive, before it dies.
      const health = await webhook.healthz(3_000);
      if (health !== 200 && webhook.alive) await Promise.race([webhook.exited, sleep(3_000)]);

      const problems = problemsOf(c, answers);
      if (!webhook.alive) {
        problems.push(`the server died: ${describeExit(webhook.exit!)}`);
      } else if (health !== 200) {
        problems.push(`GET /healthz afterwards: ${health ?? 'no answer within 3 s'}; the server was killed`);
        await webhook.kill();
      }
      if (probes.maxMs >= PROBE_BOUND_MS)
        problems.push(
          `a normal review sent meanwhile took ${Math.round(probes.maxMs)} ms (bound ${PROBE_BOUND_MS} ms)`,
        );
      if (probes.failures.length > 0)
        problems.push(
          `${probes.failures.length} of ${probes.count} normal reviews sent meanwhile failed, e.g. ${probes.failures[0]!}`,
        );

      const notes =
        peak !== undefined && peak > DEPLOYMENT_MEMORY_LIMIT_BYTES
          ? ` (over the Deployment's ${mib(DEPLOYMENT_MEMORY_LIMIT_BYTES)} memory limit)`
          : '';
      record({
        suite: 'hostile',
        name: `${c.name} [${(body.length / 1024).toFixed(0)} KiB${copies > 1 ? ` x ${copies}` : ''}]`,
        passed: problems.length === 0,
        answer: answers.map(describeAnswer).join(' | ') + notes,
        probes: probes.count,
        probeMaxMs: probes.maxMs,
        ...(peak === undefined ? {} : { peakRssBytes: peak }),
        problems,
      });
      if (problems.length > 0) {
        throw new Error(
          `${problems.join('\n')}\n--- the server's output during the case ---\n${notableOutput(
            webhook.outputSince(mark),
          )}`,
        );
      }
    });
  }
});
