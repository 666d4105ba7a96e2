/**
 * Applies JSON Patch operations to a YAML document through the `yaml` Document API, so that every node
 * the patch does not reach keeps its comments, quoting, anchors and position. New nodes are appended
 * after their siblings, as the patch's order says.
 */
import type { Operation } from 'fast-json-patch';
import { isAlias, isMap, isSeq, type Document, type Node } from 'yaml';
import type { Path } from './workloads.js';

export class EditError extends Error {}

function parsePointer(pointer: string): string[] {
  if (pointer === '') return [];
  return pointer
    .slice(1)
    .split('/')
    .map((part) => part.replaceAll('~1', '/').replaceAll('~0', '~'));
}

/**
 * The collection node at `path`, turning any alias on the way into a copy of what it points at: an
 * edit through an alias would change every other place that uses the anchor.
 */
function collectionAt(doc: Document, path: readonly (string | number)[]): Node {
  let node: unknown = doc.contents;
  for (const [depth, key] of path.entries()) {
    if (!isMap(node) && !isSeq(node)) break;
    let child: unknown = node.get(key, true);
    if (isAlias(child)) {
      child = doc.createNode(child.resolve(doc)?.toJSON());
      node.set(key, child);
    }
    if (child === undefined) throw new EditError(`nothing at ${path.slice(0, depth + 1).join('.')}`);
    node = child;
  }
  if (!isMap(node) && !isSeq(node)) throw new EditError(`${path.join('.')} is not a map or a list`);
  return node;
}

export function applyOperations(doc: Document, base: Path, operations: readonly Operation[]): void {
  for (const op of operations) {
    const segments = parsePointer(op.path);
    const last = segments.pop();
    if (last === undefined) throw new EditError(`cannot ${op.op} the whole pod`);
    const parent = collectionAt(doc, [...base, ...segments]);
    switch (op.op) {
      case 'add':
      case 'replace': {
        const value = doc.createNode(op.value);
        if (isSeq(parent)) {
          const index = last === '-' ? parent.items.length : Number(last);
          if (!Number.isInteger(index) || index < 0 || index > parent.items.length)
            throw new EditError(`no index ${last} in ${[...base, ...segments].join('.')}`);
          if (op.op === 'add') parent.items.splice(index, 0, value);
          else parent.items[index] = value;
        } else if (isMap(parent)) {
          parent.set(last, value);
        }
        break;
      }
      case 'remove':
        if (isSeq(parent)) parent.items.splice(Number(last), 1);
        else if (isMap(parent)) parent.delete(last);
        break;
      default:
        throw new EditError(`unexpected patch operation ${op.op}`);
    }
  }
}
