import type { ResolvedPolicy } from '../resolve/resolve.js';
import type { Container, ContainerList, Pod } from '../pod/model.js';
import type { ControlId } from './ids.js';

/** `pod` for pod-level fields and volumes, otherwise the container's name. */
export type Target = string;

/** One field a control set, for the audit trail. `path` is the JSON pointer of that field in the pod. */
export interface Change {
  readonly control: ControlId;
  readonly target: Target;
  readonly path: string;
  readonly value: unknown;
}

/** Something a control deliberately left alone, and why. */
export interface Skip {
  readonly control: ControlId;
  readonly target: Target;
  readonly reason: string;
}

export interface ContainerRef {
  readonly list: ContainerList;
  readonly index: number;
  /** The container inside the draft: controls change it in place. */
  readonly container: Container;
  /** JSON pointer of the container, such as `/spec/containers/0`. */
  readonly pointer: string;
  readonly name: string;
}

export interface ControlContext {
  readonly policy: ResolvedPolicy;
  /**
   * False for the ephemeral-containers subresource: only the new containers may change, so pod-level
   * fields and volumes are out of reach.
   */
  readonly podLevel: boolean;
  readonly windows: boolean;
  /** In-scope containers this control applies to. */
  readonly targets: readonly ContainerRef[];
  /** In-scope containers that opted out of this control. */
  readonly optedOut: readonly ContainerRef[];
  /**
   * Whether this control may set pod-level defaults. False for the ephemeral-containers subresource,
   * and whenever any container name has opted out of this control, present or not: a pod-level
   * default reaches every container through inheritance, including one another webhook injects
   * later under an opted-out name.
   */
  readonly podDefaults: boolean;
}

export interface ControlResult {
  readonly changes: readonly Change[];
  readonly skipped: readonly Skip[];
}

export interface Control {
  readonly id: ControlId;
  /** Ephemeral containers may carry no resources, so some controls never see them. */
  readonly coversEphemeralContainers: boolean;
  apply(draft: Pod, context: ControlContext): ControlResult;
}
