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
  /** The image profile (configuration `imageProfiles`) whose value this is; absent for defaults. */
  readonly profile?: string;
}

/** Something a control deliberately left alone, and why. */
export interface Skip {
  readonly control: ControlId;
  readonly target: Target;
  readonly reason: string;
  /**
   * The image profile that made the control leave it. Such a skip is written to the changes record
   * too, so the record names every profile that changed what the webhook did.
   */
  readonly profile?: string;
  /**
   * A default left out because it would have stopped the container from starting: also an admission
   * warning.
   */
  readonly keepsStartable?: boolean;
}

/** A value with the image profile it came from, when it did. */
export interface FromProfile<T> {
  readonly value: T;
  readonly profile?: string;
}

/** A value an image profile decided, with the profile's name. */
export interface ProfileValue<T> {
  readonly value: T;
  readonly profile: string;
}

/**
 * What a container's image profile says about its user: a UID and GID (each from the profile, or the
 * default when the profile names none), or that the image must run as root.
 */
export type ContainerUser =
  | {
      readonly runAsRoot: false;
      readonly runAsUser: FromProfile<number>;
      readonly runAsGroup: FromProfile<number>;
    }
  | { readonly runAsRoot: true; readonly profile: string };

/** Resource minimums an image profile declares for a container; a default below one is left out. */
export interface ResourceMinimums {
  readonly profile: string;
  readonly requests: { readonly cpu?: string; readonly memory?: string };
  readonly limits: { readonly cpu?: string; readonly memory?: string };
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

/** A default quantity, or null when the operator disabled that default. */
export type DefaultQuantity = string | null;

export interface ResourceDefaults {
  readonly requests: { readonly cpu: DefaultQuantity; readonly memory: DefaultQuantity };
  readonly limits: { readonly cpu: DefaultQuantity; readonly memory: DefaultQuantity };
}

/**
 * The values controls read, resolved once per review from the configuration and the pod's
 * annotations. Each control's `apply` names the part it reads, and sees nothing else.
 */
export interface ControlInputs {
  readonly runAsUser: number;
  readonly runAsGroup: number;
  readonly fsGroup: number;
  /** `/tmp` first, then the pod's writable-paths, normalised and without duplicates. */
  readonly writablePaths: readonly string[];
  readonly writableVolumeSizeLimit: string;
  readonly resources: ResourceDefaults;
  // The maps below hold, per container, by JSON pointer (`ContainerRef.pointer`), what its image
  // profile decided; a container without a profile has no entry and gets the defaults above.
  /** The user of containers whose profile (or a run-as-user annotation over it) decides it. */
  readonly users: ReadonlyMap<string, ContainerUser>;
  /** Writable paths a profile adds to `writablePaths` for one container. */
  readonly profileWritablePaths: ReadonlyMap<string, ProfileValue<readonly string[]>>;
  /** Capabilities added back after the control's own `drop: [ALL]`, when the container sets no `add`. */
  readonly keepCapabilities: ReadonlyMap<string, ProfileValue<readonly string[]>>;
  readonly resourceMinimums: ReadonlyMap<string, ResourceMinimums>;
}

/** Where a control may write in this pass; built by harden/context.ts for every control alike. */
export interface ControlScope {
  /**
   * False for the ephemeral-containers subresource: only the new containers may change, so pod-level
   * fields and volumes are out of reach.
   */
  readonly podLevel: boolean;
  readonly windows: boolean;
  /** In-scope containers this control applies to (those that opted out are not among them). */
  readonly targets: readonly ContainerRef[];
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

/**
 * One hardening rule. It changes the draft only through a DraftRecorder, and only for `scope.targets`;
 * opt-outs, Windows pods (for `linuxOnly` controls) and the ephemeral scope are handled before it runs.
 */
export interface Control {
  readonly id: ControlId;
  /** Ephemeral containers may carry no resources, so some controls never see them. */
  readonly coversEphemeralContainers: boolean;
  /**
   * For a control whose every field the API forbids on a Windows pod: why, as in "the API forbids
   * capabilities". On a Windows pod such a control does not run and each target records this reason.
   */
  readonly linuxOnly?: string;
  apply(draft: Pod, scope: ControlScope, inputs: ControlInputs): ControlResult;
}
