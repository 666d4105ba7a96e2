import { CONTAINER_LISTS, type Container, type ContainerList, type Pod } from '../pod/model.js';
import type { ContainerRef } from './types.js';

/**
 * Walks initContainers (restartable sidecars included), containers and ephemeralContainers in that
 * order, which is also the order of audit records. `include` narrows the walk, for example to the
 * ephemeral containers an UPDATE adds.
 */
export function visitContainers(
  pod: Pod,
  include: (list: ContainerList, container: Container) => boolean = () => true,
): ContainerRef[] {
  const refs: ContainerRef[] = [];
  for (const list of CONTAINER_LISTS) {
    const containers: Container[] = pod.spec?.[list] ?? [];
    containers.forEach((container, index) => {
      if (!include(list, container)) return;
      refs.push({ list, index, container, pointer: `/spec/${list}/${index}`, name: container.name });
    });
  }
  return refs;
}
