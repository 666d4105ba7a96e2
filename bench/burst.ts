/**
 * Burst cells: a standing burst of large reviews against the webhook run with the Deployment's exact
 * NODE_OPTIONS, many connections each sending the next review as soon as the previous one is answered.
 * Back-pressure must turn the excess away (429 or 503, counted as refusals, not errors) and the process
 * must stay alive and under its memory target. RSS is sampled as well as read from VmHWM, so a crash
 * still leaves a figure.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parse } from 'yaml';
import type { AdmissionReview } from '../src/engine/review/envelope.js';
import { DEFAULT_MAX_BODY_BYTES } from '../src/config/index.js';
import {
  deploymentPod,
  controllerCreateReview,
  MIB,
  near1MiBReview,
  NEAR_1MIB_TARGET_BYTES,
} from './corpus.js';
import { runLoad, type LoadResult } from './load.js';
import { processStats, ServerProcess, type TlsFiles } from './servers.js';

export const BURST_IDS = ['burst-1mib', 'burst-limit'] as const;
export type BurstId = (typeof BURST_IDS)[number];

export interface BurstSpec {
  readonly id: BurstId;
  readonly description: string;
  readonly connections: number;
  readonly review: AdmissionReview;
}

/** Just under the 3 MiB body limit, as in issue 14: 2.9 MiB. */
export const NEAR_LIMIT_BYTES = DEFAULT_MAX_BODY_BYTES - 100 * 1024;

export function burstSpecs(): BurstSpec[] {
  return [
    {
      id: 'burst-1mib',
      description: '50 connections, ~1 MiB pods',
      connections: 50,
      review: near1MiBReview(NEAR_1MIB_TARGET_BYTES),
    },
    {
      id: 'burst-limit',
      description: '100 connections, pods just under the 3 MiB body limit',
      connections: 100,
      review: near1MiBReview(NEAR_LIMIT_BYTES),
    },
  ];
}

export interface BurstCell {
  readonly id: BurstId;
  readonly description: string;
  readonly connections: number;
  readonly requestBytes: number;
  readonly load: LoadResult;
  /** VmRSS a second after start, before any request. */
  readonly idleRssMiB: number | undefined;
  /** The larger of VmHWM at the end and the highest VmRSS sampled every 50 ms. */
  readonly peakRssMiB: number | undefined;
  /** Still running after the burst (not killed by the heap limit or the kernel). */
  readonly survived: boolean;
  readonly serverCpuMicrosPerServed: number | undefined;
  readonly serverOutputTail?: string;
}

/** The Deployment's NODE_OPTIONS, split into node arguments (the bench runs the servers with them). */
export function deploymentNodeOptions(repoRoot: string): string[] {
  const deployment = parse(readFileSync(path.join(repoRoot, 'manifests/base/deployment.yaml'), 'utf8')) as {
    spec?: { template?: { spec?: { containers?: { env?: { name: string; value?: string }[] }[] } } };
  };
  const env = deployment.spec?.template?.spec?.containers?.[0]?.env ?? [];
  const value = env.find((e) => e.name === 'NODE_OPTIONS')?.value ?? '';
  return value.split(/\s+/).filter((o) => o !== '');
}

/** VmRSS of a server a second after it became healthy: what it holds before the first request. */
export async function idleRss(server: ServerProcess): Promise<number | undefined> {
  await sleep(1_000);
  const { rssBytes } = server.stats();
  return rssBytes === undefined ? undefined : rssBytes / MIB;
}

export interface BurstOptions {
  readonly repoRoot: string;
  readonly tls: TlsFiles;
  readonly nodeArgs: readonly string[];
  readonly cpu?: number;
  readonly durationSeconds: number;
  readonly timeoutSeconds: number;
  readonly runNumber: number;
}

export async function runBurstCell(spec: BurstSpec, options: BurstOptions): Promise<BurstCell> {
  const server = await ServerProcess.start(
    options.repoRoot,
    {
      kind: 'webhook',
      logLevel: 'warn',
      nodeArgs: options.nodeArgs,
      ...(options.cpu === undefined ? {} : { cpu: options.cpu }),
    },
    options.tls,
  );
  try {
    const idle = await idleRss(server);
    // A second of typical reviews, so the burst meets a warmed-up server as in production.
    await runLoad({
      url: server.url,
      review: controllerCreateReview(deploymentPod(3)),
      expectPatch: true,
      connections: 2,
      pipelining: 1,
      durationSeconds: 1,
      timeoutSeconds: options.timeoutSeconds,
      runNumber: options.runNumber,
    });
    const pid = server.pid;
    let sampled = 0;
    const sampler = setInterval(() => {
      sampled = Math.max(sampled, processStats(pid).rssBytes ?? 0);
    }, 50);
    const before = server.stats();
    let load: LoadResult;
    try {
      load = await runLoad({
        url: server.url,
        review: spec.review,
        expectPatch: true,
        connections: spec.connections,
        pipelining: 1,
        durationSeconds: options.durationSeconds,
        timeoutSeconds: options.timeoutSeconds,
        runNumber: options.runNumber + 1,
      });
    } finally {
      clearInterval(sampler);
    }
    const after = server.stats();
    // A process that just died may not have reported its exit yet, but its /proc entry is gone.
    const alive =
      server.child.exitCode === null && server.child.signalCode === null && after.rssBytes !== undefined;
    const peak = Math.max(after.peakRssBytes ?? 0, sampled);
    return {
      id: spec.id,
      description: spec.description,
      connections: spec.connections,
      requestBytes: Buffer.byteLength(JSON.stringify(spec.review)),
      load,
      idleRssMiB: idle,
      peakRssMiB: peak === 0 ? undefined : peak / MIB,
      survived: alive,
      serverCpuMicrosPerServed:
        before.cpuSeconds === undefined || after.cpuSeconds === undefined || load.served === 0
          ? undefined
          : ((after.cpuSeconds - before.cpuSeconds) * 1e6) / load.served,
      ...(alive ? {} : { serverOutputTail: server.outputTail }),
    };
  } finally {
    await server.stop();
  }
}
