import { RlifError } from "../errors.ts";

/** Raised when a reward cannot be computed from its input; names the reward, the rollout and the field. */
export class RewardError extends RlifError {
  /** Creates an error with the given message. */
  constructor(message: string, options?: ErrorOptions) {
    super("reward.invalid", message, options);
    this.name = "RewardError";
  }
}
