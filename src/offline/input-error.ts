/** Input the harden command cannot work on: which file, which document (0-based), and why. */
export class InputError extends Error {
  readonly file: string;
  readonly document: number | undefined;
  readonly reason: string;

  constructor(file: string, document: number | undefined, reason: string) {
    super(`${file}${document === undefined ? '' : `: document ${document}`}: ${reason}`);
    this.name = 'InputError';
    this.file = file;
    this.document = document;
    this.reason = reason;
  }
}
