import { RlifError } from "../errors.ts";

/** Raised for tokenizer files rlif cannot use or calls it cannot honour; names the file or token. */
export class TokenizerError extends RlifError {
  /** Creates an error with the given message. */
  constructor(message: string, options?: ErrorOptions) {
    super("tokenizer.invalid", message, options);
    this.name = "TokenizerError";
  }
}
