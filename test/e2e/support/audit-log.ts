/**
 * The API server's audit log (Metadata level for pods, written in blocking mode, so an event is on
 * disk before the request that caused it returns).
 */
import { readFileSync } from 'node:fs';
import { e2e } from './context.js';

export interface AuditEvent {
  readonly verb: string;
  readonly stage: string;
  readonly objectRef?: { resource?: string; namespace?: string; name?: string; subresource?: string };
  readonly annotations?: Record<string, string>;
}

export function auditEvents(filter: (event: AuditEvent) => boolean): AuditEvent[] {
  return readFileSync(e2e().controlPlane.auditLog, 'utf8')
    .split('\n')
    .filter((line) => line.length > 0)
    .map((line) => JSON.parse(line) as AuditEvent)
    .filter(filter);
}

/** The completed `create` event of one pod. */
export function auditEventsOfPodCreation(namespace: string, name: string): AuditEvent[] {
  return auditEvents(
    (event) =>
      event.verb === 'create' &&
      event.stage === 'ResponseComplete' &&
      event.objectRef?.resource === 'pods' &&
      event.objectRef.subresource === undefined &&
      event.objectRef.namespace === namespace &&
      event.objectRef.name === name,
  );
}
