import { RlifError } from "../errors.ts";

/** Raised for a dataset, template or task spec rlif cannot use; names the file, row and field. */
export class DataError extends RlifError {
  /** Creates an error with the given message. */
  constructor(message: string, options?: ErrorOptions) {
    super("data.invalid", message, options);
    this.name = "DataError";
  }
}
