/** Raised for tokenizer files rlif cannot use or calls it cannot honour; names the file or token. */
export class TokenizerError extends Error {
  /** Creates an error with the given message. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "TokenizerError";
  }
}
