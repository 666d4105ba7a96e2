/**
 * A manifest file split into what we may edit (its YAML documents, each with its own source text) and
 * what we only copy (comments between documents, `...` markers, directives), so that a file whose
 * documents do not change is written back byte for byte, and a changed document never disturbs its
 * neighbours.
 */
import { CST, Composer, LineCounter, Parser, type Document } from 'yaml';
import { InputError } from './input-error.js';

export interface SourceDocument {
  /** Position among the file's documents, from 0. */
  readonly index: number;
  /** The document's exact source text (from its `---`, if any, to the next document). */
  readonly source: string;
  /** Offset of `source` in the file. */
  readonly offset: number;
  readonly doc: Document.Parsed;
}

export type Segment =
  | { readonly kind: 'raw'; readonly text: string }
  | { readonly kind: 'document'; readonly document: SourceDocument };

export interface ManifestFile {
  readonly name: string;
  readonly text: string;
  readonly json: boolean;
  readonly segments: readonly Segment[];
  readonly documents: readonly SourceDocument[];
  /** 1-based line of an offset in the file. */
  readonly lineOf: (offset: number) => number;
}

/** Parses a file. JSON files are read as the one YAML document they are. Throws an InputError. */
export function parseManifestFile(name: string, text: string, json: boolean): ManifestFile {
  const lineCounter = new LineCounter();
  const lineOf = (offset: number): number => lineCounter.linePos(offset).line;
  const segments: Segment[] = [];
  const documents: SourceDocument[] = [];
  for (const token of new Parser(lineCounter.addNewLine).parse(text)) {
    const source = CST.stringify(token);
    if (token.type === 'error') {
      throw new InputError(name, documents.length, `line ${lineOf(token.offset)}: ${token.message}`);
    }
    if (token.type !== 'document') {
      segments.push({ kind: 'raw', text: source });
      continue;
    }
    const composed = [
      ...new Composer({ prettyErrors: false }).compose([token], true, token.offset + source.length),
    ];
    const doc = composed[0];
    if (composed.length !== 1 || doc === undefined) {
      throw new InputError(name, documents.length, 'not a single YAML document');
    }
    const error = doc.errors[0];
    if (error !== undefined) {
      throw new InputError(
        name,
        documents.length,
        `line ${lineOf(error.pos[0])}: ${firstLine(error.message)}`,
      );
    }
    const document: SourceDocument = { index: documents.length, source, offset: token.offset, doc };
    documents.push(document);
    segments.push({ kind: 'document', document });
  }
  return { name, text, json, segments, documents, lineOf };
}

function firstLine(message: string): string {
  return message.split('\n')[0] ?? message;
}
